// The studio's public handle (window.bpttStudio), what guided lessons and tests use:
// loadScenario, goTo, highlight, clearHighlight, resolve, the current trace, index, training
// and event, the comparison on screen, and the studio's events "trace", "event", "redraw" and
// "error". It drives the page only through the store and the studio, and marks elements only
// through highlight.js. In a comparison, trace, index and event are the leading set-up's (the
// one the timeline walks) and highlight targets resolve in every column ("lstm:…" in one).
import { leaderOf, setupsOf } from "./views/compare-plan.js";
import { Highlighter, resolve } from "./views/highlight.js";
import { prefetch } from "./state/source.js";

export class StudioHandle {
  constructor({ studio, store }) {
    this.studio = studio;
    this.store = store;
    this.marks = new Highlighter("is-hl", () => studio.scopes());
    // a view redrawn when it came into view has new elements: mark them again
    studio.addEventListener("redraw", () => this.marks.refresh());
  }

  get trace() {
    return this.studio.trace;
  }

  get index() {
    return this.studio.index;
  }

  get training() {
    return this.studio.training;
  }

  get event() {
    return this.studio.event;
  }

  /** The comparison on screen: {mode, traces: {set-up id: trace}}, or null (single view). */
  get compare() {
    const mode = this.studio.comparing;
    return mode ? { mode, traces: this.studio.compare.traces() } : null;
  }

  addEventListener(...args) {
    this.studio.addEventListener(...args);
  }

  removeEventListener(...args) {
    this.studio.removeEventListener(...args);
  }

  /**
   * Load a scenario (a sparse trace request, optionally with "train") at an event; compare:
   * a comparison to show it in (one of state.js COMPARES: "cell", "reduction", ...), null for
   * the single view, undefined to keep the page's.
   */
  async loadScenario(scenario, { event = 0, compare = undefined } = {}) {
    const studio = this.studio;
    const done = new Promise((resolve) => {
      const on = () => {
        studio.removeEventListener("trace", on);
        studio.removeEventListener("error", on);
        resolve();
      };
      studio.addEventListener("trace", on);
      studio.addEventListener("error", on);
    });
    const patch = compare === undefined ? { scenario, event } : { scenario, event, compare };
    const changed = this.store.update(patch);
    if (!changed.has("scenario") && !changed.has("compare")) {
      if (!changed.has("event")) studio.drawEvent();
      return;
    }
    await done;
  }

  /**
   * Ask now for what a later loadScenario(scenario, {compare}) will show (a lesson's reveal,
   * while its question is read): that load then finds the API's answer here. Resolves to the
   * answer as a lesson reads it, {trace, training, compare: {set-up id: trace}} (trace: the
   * leading set-up's in a comparison, as on the page once loaded), or null if any part failed.
   */
  async prefetch(scenario, { compare = null } = {}) {
    const setups = compare ? setupsOf(compare, scenario) : [{ id: null, scenario }];
    const got = await Promise.all(setups.map((s) => prefetch(s.scenario)));
    if (got.some((g) => !g?.trace)) return null; // refused, failed or diverged: the load says
    if (!compare) return { ...got[0], compare: {} };
    const traces = got.map((g) => g.trace);
    return {
      trace: traces[leaderOf(traces)],
      training: null,
      compare: Object.fromEntries(setups.map((s, k) => [s.id, traces[k]])),
    };
  }

  /** Move the timeline to an event index, or to {kind, t, update, layer} (the first match). */
  goTo(target) {
    const index = this.studio.index;
    let i = target;
    if (typeof target === "object" && target !== null && index) {
      // (a stack: {kind, t, layer} names one layer's step)
      i = index.find(target.kind, target.t ?? null, target.update ?? null, target.layer ?? null);
    }
    if (!index || !Number.isInteger(i) || i < 0 || i >= index.events.length) return false;
    this.store.update({ event: i });
    return true;
  }

  /** The elements a highlight target names on the page as it is (highlight.js). */
  resolve(target) {
    return resolve(target, this.studio.scopes());
  }

  /** Mark network nodes and strands, heatmap cards, equation lines or chart boxes. */
  highlight(targets) {
    this.studio.drawStale(); // the targets' views show the current event, on screen or not
    const marked = this.marks.set(targets);
    this.studio.pointAt(targets.flatMap((t) => this.resolve(t))); // a chart draws at once
    return marked;
  }

  clearHighlight() {
    this.marks.clear();
  }
}
