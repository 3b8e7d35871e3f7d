// The studio orchestrates: it asks the trace source for the scenario in the store, hands the
// result to the views, and redraws them, once, from the store's event index. It reaches into no
// view's DOM: each view draws its own container, and highlight targets are resolved by
// highlight.js. The public handle for lessons and tests is handle.js (window.bpttStudio).
// With a comparison in the store it shows the compare view instead (compare.js): one trace
// per set-up, the timeline walking the leading set-up's events (compare-plan.js).
import { ApiError } from "./state/api.js";
import { matchEvent, ordinalOf, setupsOf } from "./views/compare-plan.js";
import { PAGE_SCOPE } from "./views/highlight.js";
import { applyTranslations, setLanguage, t as tr } from "./text/i18n.js";
import { NOTATIONS } from "./text/notation.js";
import { labelKey, repair } from "./controls/repair.js";
import { CompareSource, TraceSource } from "./state/source.js";
import { SPREAD, SpreadSource, spreadFits, spreadSeeds } from "./state/spread.js";
import { exampleTraining, TraceIndex } from "./state/trace.js";
import { isRandomized } from "./state/state.js";

export class Studio extends EventTarget {
  /**
   * views: {network, equation, heatmaps, charts, predictions} (each setTrace, setEvent, draw;
   * optional setNotation, setLanguage); controls, timeline, topbar, banner (the overflow note);
   * linkNote (what opening a link changed);
   * placed: {view name: its element} for views that a step need not redraw while off screen
   * (they are redrawn when they come near the view); compare: a function that makes the
   * compare view (CompareView, loaded with the first comparison: the single view never waits
   * for it).
   */
  constructor({
    store,
    views,
    controls,
    timeline,
    topbar,
    banner,
    linkNote,
    placed = {},
    compare,
  }) {
    super();
    this.store = store;
    this.views = views;
    this.controls = controls;
    this.timeline = timeline;
    this.topbar = topbar;
    this.banner = banner;
    this.linkNote = linkNote; // what opening the link changed (repairLink), until it changes
    this.makeCompare = compare;
    this.compare = null; // the compare view, once a comparison has been asked for
    this.comparing = null; // the mode of the comparison on screen, null for the single view
    this.source = new TraceSource();
    this.compareSource = new CompareSource();
    this.spreadSource = new SpreadSource(); // a randomized truncation's other seeds
    this.trace = null;
    this.index = null;
    this.training = null;
    this.error = null; // the API's refusal of the scenario in the store, while it stands
    this.loadSeq = 0;
    this.repairs = []; // what was changed to open the link (repair.js), said once it opens
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
      this.sayRepairs();
      this.controls.relabel();
      this.controls.sync(null);
      for (const v of Object.values(this.views)) v.setLanguage?.();
      this.compare?.setLanguage();
    }
    if (changed.has("notation")) {
      for (const v of Object.values(this.views)) v.setNotation?.(state.notation);
      this.compare?.setNotation(state.notation);
    }
    if (["lang", "notation", "view", "compare"].some((k) => changed.has(k))) {
      this.topbar.sync(this.store.get());
    }
    if (changed.has("example") && !changed.has("scenario") && this.showsOtherExample()) {
      // another example of the mini-batch: its events, the same kind of event at the same t
      const keep = this.eventAt(state.event);
      if (this.comparing) this.showExampleCompared(state.event, keep);
      else this.setTrace(this.trace, this.training, state.event, keep);
      return;
    }
    if (changed.has("scenario") || changed.has("compare")) {
      this.controls.sync(null);
      if (changed.has("scenario")) this.topbar.sync(state); // what a stack does not offer
      // into or out of a comparison: the same kind of event at the same t, in the new traces
      this.loading = this.load(state.event, changed.has("compare"));
      return;
    }
    if (changed.has("lang") || changed.has("notation")) this.drawEvent({ all: true });
    else if (changed.has("event")) this.drawEvent();
  }

  /** The event i of the trace on screen as {kind, t, n}: its n-th of that kind at that t. */
  eventAt(i) {
    const k = Math.max(0, Math.min(i, this.index.events.length - 1));
    const ev = this.index.events[k];
    return ev ? { kind: ev.kind, t: ev.t, n: ordinalOf(this.index, k) } : null;
  }

  /**
   * Ask for the scenario in the store (for each set-up of its comparison, if any); keep
   * showing the old traces until the answers come. keepEvent: show the event on screen when
   * they come (the store's, where keys may have moved it meanwhile) as the same kind of event
   * at the same t in the new traces (matched as the compare view matches its columns), instead
   * of eventIndex.
   */
  async load(eventIndex = 0, keepEvent = false) {
    const seq = ++this.loadSeq;
    const { scenario, compare: mode } = this.store.get();
    this.spreadSource.abort(); // the spread of the scenario on screen is no longer wanted
    this.controls.setBusy(true);
    this.controls.setCompared(mode);
    document.body.dataset.loading = "true";
    try {
      if (mode) {
        this.source.abort?.abort();
        const setups = setupsOf(mode, scenario);
        const [results] = await Promise.all([this.compareSource.load(setups), this.compareView()]);
        if (seq !== this.loadSeq) return;
        const diverged = results.find((r) => !r.trace);
        if (diverged) {
          this.diverged(diverged.training, scenario.train);
          return;
        }
        const keep = keepEvent && this.index ? this.eventAt(this.store.get().event) : null;
        this.store.accept(scenario);
        this.controls.clearErrors();
        this.sayRepairs();
        if (results.some((r) => r.normsOnly)) {
          this.controls.showSlot("general", tr("status.normsOnly"));
        }
        this.setComparison(mode, setups, results, eventIndex, keep);
        this.loadSpread(seq, setups, results); // not awaited: it draws when its answers come
        return;
      }
      this.compareSource.abort();
      const { trace, training, normsOnly } = await this.source.load(scenario);
      if (seq !== this.loadSeq) return;
      if (!trace) {
        this.diverged(training, scenario.train);
        return;
      }
      const keep = keepEvent && this.index ? this.eventAt(this.store.get().event) : null;
      this.store.accept(scenario);
      this.error = null;
      this.controls.clearErrors();
      if (normsOnly) this.controls.showSlot("general", tr("status.normsOnly"));
      this.sayRepairs();
      this.setTrace(trace, training, eventIndex, keep);
    } catch (err) {
      if (err?.name === "AbortError" || seq !== this.loadSeq) return;
      if (this.repairLink(err)) return this.loading; // the page is ready once that is drawn
      this.error = err;
      if (err?.setup) {
        // which column of the comparison the API refused, then why, beside the control
        this.controls.showSlot(
          "general",
          tr("cmp.failed", { setup: tr(`cmp.setup.${err.setup}`) }),
        );
      }
      if (err instanceof ApiError) this.controls.showApiError(err);
      else {
        console.warn(err);
        this.controls.showSlot("general", tr("error.unexpected"));
      }
      this.dispatchEvent(new CustomEvent("error", { detail: err }));
      if (!this.trace) {
        // nothing drawn yet (a comparison too): the single view says what to correct
        this.showComparison(null);
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

  /**
   * The link's scenario was refused before anything was drawn (a link the page could not have
   * written): ask again with the nearest scenario the API takes (repair.js); true if it did.
   * A few rounds at most (each refusal names the fields it refuses).
   */
  repairLink(err) {
    if (this.trace || !(err instanceof ApiError) || err.kind !== "validation") return false;
    if (this.repairs.length > 8 || err.setup) return false;
    const fixed = repair(this.store.get().scenario, err.fields);
    if (!fixed) return false;
    this.repairs.push(...fixed.changes);
    this.store.update({ scenario: fixed.scenario });
    return true;
  }

  /**
   * Say what opening the link changed, above the timeline, in the page's language (again on
   * a change of language); the note goes once the scenario on screen is one the user chose.
   */
  sayRepairs() {
    const note = this.linkNote;
    if (!note) return;
    if (this.repairs.length) {
      this.repaired = { changes: this.repairs, scenario: JSON.stringify(this.store.accepted) };
      this.repairs = [];
    }
    const shownNow = this.repaired?.scenario === JSON.stringify(this.store.accepted);
    note.hidden = !shownNow;
    if (!shownNow) {
      this.repaired = null;
      return;
    }
    const shown = (v) =>
      v === undefined ? "—" : typeof v === "object" ? null : String(v).replace("-", "−");
    const items = this.repaired.changes.map(({ path, from, to }) => {
      const key = labelKey(path);
      const label = key ? tr(key).replace(/\s*[=:]\s*$/, "") : path.join(".");
      const before = shown(from);
      const after = to === undefined ? tr("link.default") : shown(to);
      return before === null ? `${label} → ${after}` : `${label}: ${before} → ${after}`;
    });
    note.textContent = tr("link.repaired", { changes: items.join("; ") });
  }

  /** Whether the store asks for another example of the mini-batch than the one on screen. */
  showsOtherExample() {
    return Boolean(this.index?.n && this.store.get().example !== this.index.example);
  }

  /** A comparison of mini-batches: every column draws the store's example, at the same event. */
  showExampleCompared(eventIndex, keep) {
    this.compare.setExample(this.store.get().example); // (the index keeps it within the batch)
    this.index = this.compare.index;
    this.timeline.setEvents(this.index.events, this.index.windows);
    this.views.batch.setTrace(this.index);
    this.views.batch.draw();
    this.showEvent(eventIndex, keep, this.trace);
  }

  setTrace(trace, training, eventIndex, keep = null) {
    this.showComparison(null);
    this.trace = trace;
    this.training = training;
    // a mini-batch: the views show the store's example (one sequence: always 0, said so); the
    // index keeps it within the batch
    this.index = new TraceIndex(trace, this.store.get().example);
    const { example } = this.index;
    this.views.batch.setComparing(false);
    if (example !== this.store.get().example) this.store.update({ example });
    const notation = this.store.get().notation;
    for (const v of Object.values(this.views)) {
      v.setTrace(this.index);
      v.setNotation?.(notation);
    }
    this.views.charts.setTraining(training);
    const shown = exampleTraining(training, example);
    this.views.predictions.setTraining(shown, this.store.get().scenario.train);
    this.views.predictions.draw();
    this.controls.sync(trace.config, trace.sizes);
    this.timeline.setEvents(this.index.events, this.index.windows);
    this.markTruncation([trace]);
    this.markLayers(this.index.layers);
    const exploded = Boolean(trace.non_finite || training?.non_finite);
    this.banner.hidden = !exploded;
    document.body.dataset.exploded = String(exploded);
    this.showEvent(eventIndex, keep, trace);
  }

  /** One draw per trace: moving the store's event draws through onChange, else draw here. */
  showEvent(eventIndex, keep, trace) {
    const n = this.index.events.length;
    const i = keep
      ? matchEvent(this.index, keep, keep.n).i
      : Math.max(0, Math.min(n - 1, eventIndex || 0));
    this.drawAll = true; // a new trace: every view draws, on screen or not
    if (!this.store.update({ event: i }).has("event")) this.drawEvent();
    this.drawAll = false;
    document.body.dataset.traceReady = "true";
    this.dispatchEvent(new CustomEvent("trace", { detail: { trace } }));
  }

  /** The compare view, made (and its module loaded) the first time a comparison is asked for. */
  compareView() {
    this.compareMade ??= Promise.resolve(this.makeCompare()).then((view) => {
      this.compare = view;
      return view;
    });
    return this.compareMade;
  }

  /** The compare view (a mode) or the single view (null) on screen; the page's CSS reads it. */
  showComparison(mode) {
    this.comparing = mode;
    if (mode) document.body.dataset.compare = mode;
    else delete document.body.dataset.compare;
  }

  /**
   * Show a comparison's traces: the compare view draws every column, and the timeline walks
   * the leading set-up's events (the page's trace, index and event are the leader's).
   */
  setComparison(mode, setups, results, eventIndex, keep) {
    this.showComparison(mode);
    this.compare.setNotation(this.store.get().notation);
    // a mini-batch: the columns draw the store's example, chosen under the timeline
    this.compare.setComparison(mode, setups, results, this.store.get().example);
    this.index = this.compare.index;
    this.trace = this.index.trace;
    const { example } = this.index;
    if (example !== this.store.get().example) this.store.update({ example });
    this.views.batch.setComparing(true);
    this.views.batch.setTrace(this.index);
    this.views.batch.draw();
    this.training = null;
    this.controls.sync(this.trace.config);
    this.timeline.setEvents(this.index.events, this.index.windows);
    this.markTruncation(results.map((r) => r.trace));
    const exploded = results.some((r) => r.trace.non_finite);
    this.banner.hidden = !exploded;
    document.body.dataset.exploded = String(exploded);
    this.showEvent(eventIndex, keep, this.trace);
  }

  /**
   * A randomized truncation beside full BPTT: ask for its other seeds on the same weights (the
   * randomized column's), and hand their numbers to the compare view as they come (spread.js);
   * null for any other comparison. Not awaited: the columns are on screen meanwhile.
   */
  async loadSpread(seq, setups, results) {
    const k = setups.findIndex((s) => s.randomized);
    if (k < 0) {
      this.compare.setSpread(null);
      return;
    }
    const { scenario } = setups[k];
    const { trace } = results[k];
    const seed = trace.config?.seed ?? scenario.seed ?? 0;
    const base = { p: scenario.truncation.p, seed, seeds: spreadSeeds(seed) };
    if (!spreadFits(trace)) {
      this.compare.setSpread({
        ...base,
        state: "large",
        limits: { H: SPREAD.maxH, T: SPREAD.maxT },
      });
      return;
    }
    this.compare.setSpread({ ...base, state: "loading" });
    try {
      const points = await this.spreadSource.load(scenario, trace, base.seeds);
      if (seq !== this.loadSeq) return;
      this.compare.setSpread({ ...base, state: "ready", points });
    } catch (err) {
      if (err?.name === "AbortError" || seq !== this.loadSeq) return;
      console.warn(err);
      this.compare.setSpread({ ...base, state: "failed" });
    }
  }

  /** A stack of layers on screen: the page's CSS names the layer's frame in the network's legend. */
  markLayers(layers) {
    if (layers > 1) document.body.dataset.layers = String(layers);
    else delete document.body.dataset.layers;
  }

  /** A randomized truncation on screen: the page's CSS names ξ in the network's legend. */
  markTruncation(traces) {
    if (traces.some((trace) => isRandomized(trace.config?.truncation))) {
      document.body.dataset.truncation = "randomized";
    } else delete document.body.dataset.truncation;
  }

  /** Where highlight targets resolve: the single view, or each column of the comparison. */
  scopes() {
    return this.comparing ? this.compare.scopes() : [PAGE_SCOPE];
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
    if (this.comparing) {
      this.compare.setEvent(i);
      this.compare.draw({ all: all || this.drawAll });
      document.body.dataset.eventIndex = String(i);
      this.dispatchEvent(new CustomEvent("event", { detail: { index: i } }));
      return;
    }
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

  /** Something points at these elements (a lesson's highlight): a view holding one draws now. */
  pointAt(elements) {
    if (this.comparing) return;
    for (const v of Object.values(this.views)) v.pointedAt?.(elements);
  }

  /** Draw the views a step left alone (something is about to point at their elements). */
  drawStale() {
    if (this.comparing) {
      this.compare.drawStale();
      return;
    }
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
    (await import("./controls/actions.js"))[name](this, ...args);
  }

  get event() {
    return this.index ? this.index.event(this.store.get().event) : null;
  }
}
