// The studio orchestrates: it asks the trace source for the scenario in the store, hands the
// result to the views, and redraws them, once, from the store's event index. It reaches into no
// view's DOM: each view draws its own container, and highlight targets are resolved by
// highlight.js. The public handle for lessons and tests is handle.js (window.bpttStudio).
import { ApiError } from "./api.js";
import { applyTranslations, setLanguage, t as tr } from "./i18n.js";
import { NOTATIONS } from "./notation.js";
import { TraceSource } from "./source.js";
import { TraceIndex } from "./trace.js";

export class Studio extends EventTarget {
  /**
   * views: {network, equation, heatmaps, charts, predictions} (each setTrace, setEvent, draw;
   * optional setNotation, setLanguage); controls, timeline, topbar, banner (the overflow note);
   * placed: {view name: its element} for views that a step need not redraw while off screen
   * (they are redrawn when they come near the view).
   */
  constructor({ store, views, controls, timeline, topbar, banner, placed = {} }) {
    super();
    this.store = store;
    this.views = views;
    this.controls = controls;
    this.timeline = timeline;
    this.topbar = topbar;
    this.banner = banner;
    this.source = new TraceSource();
    this.trace = null;
    this.index = null;
    this.training = null;
    this.error = null; // the API's refusal of the scenario in the store, while it stands
    this.loadSeq = 0;
    this.offScreen = new Set(); // views a step leaves alone (not near the view)
    this.stale = new Set(); // views left alone since their last draw
    this.watch(placed);
    store.addEventListener("change", (e) => this.onChange(e.detail.changed));
  }

  /** Follow which placed views are near the view; draw a stale one when it comes near. */
  watch(placed) {
    const names = new Map(Object.entries(placed).map(([name, el]) => [el, name]));
    if (!names.size) return;
    const seen = new IntersectionObserver(
      (entries) => {
        for (const e of entries) {
          const name = names.get(e.target);
          if (e.isIntersecting) this.offScreen.delete(name);
          else this.offScreen.add(name);
          if (e.isIntersecting && this.stale.delete(name)) {
            this.views[name].draw();
            this.dispatchEvent(new CustomEvent("redraw", { detail: { view: name } }));
          }
        }
      },
      { rootMargin: "200px 0px" },
    );
    for (const el of names.keys()) seen.observe(el);
  }

  async start() {
    const s = this.store.get();
    const lang = await setLanguage(s.lang);
    if (lang !== s.lang) this.store.update({ lang });
    if (!NOTATIONS.includes(s.notation)) this.store.update({ notation: "goodfellow" });
    this.topbar.sync(this.store.get());
    applyTranslations();
    this.controls.loadPresets();
    await this.load(s.event);
  }

  async onChange(changed) {
    const state = this.store.get();
    if (changed.has("lang")) {
      const got = await setLanguage(state.lang);
      if (got !== this.store.get().lang) {
        this.store.update({ lang: got });
        return;
      }
      applyTranslations();
      this.controls.relabel();
      this.controls.sync(null);
      for (const v of Object.values(this.views)) v.setLanguage?.();
    }
    if (changed.has("notation")) {
      for (const v of Object.values(this.views)) v.setNotation?.(state.notation);
    }
    if (changed.has("lang") || changed.has("notation") || changed.has("view")) {
      this.topbar.sync(this.store.get());
    }
    if (changed.has("scenario")) {
      this.controls.sync(null);
      this.load(state.event);
      return;
    }
    if (changed.has("lang") || changed.has("notation")) this.drawEvent({ all: true });
    else if (changed.has("event")) this.drawEvent();
  }

  /** Ask for the scenario in the store; keep showing the old trace until the answer comes. */
  async load(eventIndex = 0) {
    const seq = ++this.loadSeq;
    const scenario = this.store.get().scenario;
    this.controls.setBusy(true);
    document.body.dataset.loading = "true";
    try {
      const { trace, training, normsOnly } = await this.source.load(scenario);
      if (seq !== this.loadSeq) return;
      if (!trace) {
        this.diverged(training, scenario.train);
        return;
      }
      this.store.accept(scenario);
      this.error = null;
      this.controls.clearErrors();
      if (normsOnly) this.controls.showSlot("general", tr("status.normsOnly"));
      this.setTrace(trace, training, eventIndex);
    } catch (err) {
      if (err?.name === "AbortError" || seq !== this.loadSeq) return;
      this.error = err;
      if (err instanceof ApiError) this.controls.showApiError(err);
      else {
        console.warn(err);
        this.controls.showSlot("general", tr("error.unexpected"));
      }
      this.dispatchEvent(new CustomEvent("error", { detail: err }));
      if (!this.trace) {
        this.views.network.showEmpty();
        this.views.charts.showEmpty?.();
      }
    } finally {
      if (seq === this.loadSeq) {
        this.controls.setBusy(false);
        delete document.body.dataset.loading;
      }
    }
  }

  setTrace(trace, training, eventIndex) {
    this.trace = trace;
    this.training = training;
    this.index = new TraceIndex(trace);
    const notation = this.store.get().notation;
    for (const v of Object.values(this.views)) {
      v.setTrace(this.index);
      v.setNotation?.(notation);
    }
    this.views.charts.setTraining(training);
    this.views.predictions.setTraining(training, this.store.get().scenario.train);
    this.views.predictions.draw();
    this.controls.sync(trace.config, trace.sizes);
    this.timeline.setEvents(this.index.events, this.index.windows);
    const exploded = Boolean(trace.non_finite || training?.non_finite);
    this.banner.hidden = !exploded;
    document.body.dataset.exploded = String(exploded);
    // one draw per trace: moving the store's event draws through onChange, else draw here
    const n = this.index.events.length;
    const i = Math.max(0, Math.min(n - 1, eventIndex || 0));
    this.drawAll = true; // a new trace: every view draws, on screen or not
    if (!this.store.update({ event: i }).has("event")) this.drawEvent();
    this.drawAll = false;
    document.body.dataset.traceReady = "true";
    this.dispatchEvent(new CustomEvent("trace", { detail: { trace } }));
  }

  /**
   * Training diverged (the API sends no trace from overflowed weights): say what happened, in
   * the controls and, when there is nothing else to show, in the network's panel.
   */
  diverged(training, passes) {
    const n = training?.iterations?.at(-1) ?? passes;
    this.controls.showSlot("general", tr("status.diverged", { n }));
    if (!this.trace) {
      this.views.network.showEmpty("status.diverged", { n });
      this.views.charts.showEmpty?.();
    }
    this.dispatchEvent(new CustomEvent("error", { detail: { kind: "diverged" } }));
  }

  /**
   * Redraw the views for the store's event: every view when `all` (or for a new trace), else
   * the views near the view; the others draw when they come near (watch).
   */
  drawEvent({ all = false } = {}) {
    if (!this.index) return;
    const i = Math.min(this.store.get().event, this.index.events.length - 1);
    this.timeline.setIndex(i);
    this.timeline.draw();
    for (const [name, v] of Object.entries(this.views)) {
      if (name === "predictions") continue; // it shows the training, not the event
      v.setEvent(i);
      if (all || this.drawAll || !this.offScreen.has(name)) {
        v.draw();
        this.stale.delete(name);
      } else this.stale.add(name);
    }
    document.body.dataset.eventIndex = String(i);
    this.dispatchEvent(new CustomEvent("event", { detail: { index: i } }));
  }

  /** Draw the views a step left alone (something is about to point at their elements). */
  drawStale() {
    for (const name of this.stale) this.views[name].draw();
    this.stale.clear();
  }

  // ---- actions of the controls ---------------------------------------------------------

  train(n) {
    const s = structuredClone(this.store.get().scenario);
    s.train = n;
    this.store.update({ scenario: s, event: 0 });
  }

  untrain() {
    const s = structuredClone(this.store.get().scenario);
    delete s.train;
    this.store.update({ scenario: s });
  }

  // The rarer actions (gradient check, exports, share) live in actions.js, loaded on first use.
  async act(name, ...args) {
    (await import("./actions.js"))[name](this, ...args);
  }

  get event() {
    return this.index ? this.index.event(this.store.get().event) : null;
  }
}
