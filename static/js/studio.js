// The studio: asks the API for the scenario in the store, hands the result to the views, and
// redraws them from the store's event index. It is also the public handle that tests and the
// guided lessons use (window.bpttStudio): loadScenario, goTo, highlight, clearHighlight.
import { api, ApiError } from "./api.js";
import { num } from "./format.js";
import { applyTranslations, loadPart, setLanguage, t as tr } from "./i18n.js";
import { NOTATIONS } from "./notation.js";
import { requestOf } from "./state.js";
import { TraceIndex } from "./trace.js";

const FULL_DETAIL_MAX_H = 16;

export class Studio extends EventTarget {
  constructor({ store, views, controls, timeline }) {
    super();
    this.store = store;
    this.views = views; // {network, equation, heatmaps, charts}
    this.controls = controls;
    this.timeline = timeline;
    this.trace = null;
    this.index = null;
    this.training = null;
    this.loadSeq = 0;
    this.abort = null;
    store.addEventListener("change", (e) => this.onChange(e.detail.changed));
    this.ready = new Promise((resolve) => {
      this.resolveReady = resolve;
    });
  }

  async start() {
    const s = this.store.get();
    const lang = await setLanguage(s.lang);
    if (lang !== s.lang) this.store.update({ lang });
    document.body.dataset.lang = lang;
    if (!NOTATIONS.includes(s.notation)) this.store.update({ notation: "goodfellow" });
    this.syncTopControls();
    applyTranslations();
    api.presets().then((list) => this.controls.setPresets(list)).catch(() => {
      this.controls.showSlot("general", tr("error.presets"));
    });
    await this.load(s.event);
    // the article under the tool: its texts load when it comes near the view (observed once
    // the first trace is drawn, so that the page has its full height)
    const seen = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        seen.disconnect();
        loadPart("article");
      }
    }, { rootMargin: "300px 0px" });
    seen.observe(document.getElementById("article"));
    this.resolveReady();
  }

  syncTopControls() {
    const s = this.store.get();
    document.getElementById("ctl-lang").value = s.lang;
    document.getElementById("ctl-notation").value = s.notation;
    document.body.dataset.notation = s.notation;
  }

  async onChange(changed) {
    if (changed.has("lang")) {
      const lang = this.store.get().lang;
      const got = await setLanguage(lang);
      if (got !== this.store.get().lang) {
        this.store.update({ lang: got });
        return;
      }
      applyTranslations();
      this.controls.relabel();
      this.controls.sync(null);
      for (const v of Object.values(this.views)) v.setLanguage?.();
      document.body.dataset.lang = got;
    }
    if (changed.has("notation")) {
      for (const v of Object.values(this.views)) v.setNotation?.(this.store.get().notation);
    }
    if (changed.has("lang") || changed.has("notation")) {
      this.syncTopControls();
      this.views.charts.draw();
    }
    if (changed.has("scenario")) {
      this.controls.sync(null);
      this.load(this.store.get().event);
      return;
    }
    if (changed.has("event") || changed.has("lang") || changed.has("notation")) this.drawEvent();
  }

  /** Ask the API for the scenario in the store; keep showing the old trace until it answers. */
  async load(eventIndex = 0) {
    const seq = ++this.loadSeq;
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    const scenario = this.store.get().scenario;
    const request = requestOf(scenario);
    const H = Number(request.hidden_size) || 8;
    request.detail = H <= FULL_DETAIL_MAX_H ? "full" : "auto";
    this.controls.setBusy(true);
    document.body.dataset.loading = "true";
    try {
      let trace;
      let training = null;
      if (scenario.train) {
        training = await api.train({ ...request, iterations: scenario.train,
          record_every: Math.max(1, Math.floor(scenario.train / 200)), include_trace: true },
        abort.signal);
        trace = training.trace;
      } else {
        trace = await this.fetchTrace(request, abort.signal);
      }
      if (seq !== this.loadSeq) return;
      this.controls.clearErrors();
      this.setTrace(trace, training, eventIndex);
    } catch (err) {
      if (err?.name === "AbortError" || seq !== this.loadSeq) return;
      if (err instanceof ApiError) this.controls.showApiError(err);
      else {
        console.warn(err);
        this.controls.showSlot("general", tr("error.unexpected"));
      }
      this.dispatchEvent(new CustomEvent("error", { detail: err }));
      if (!this.trace) this.showEmpty();
    } finally {
      if (seq === this.loadSeq) {
        this.controls.setBusy(false);
        delete document.body.dataset.loading;
      }
    }
  }

  async fetchTrace(request, signal) {
    try {
      return await api.trace(request, signal);
    } catch (err) {
      // too large with every matrix: ask for norms instead and say so
      if (err instanceof ApiError && err.kind === "too_large" && request.detail !== "norms") {
        const trace = await api.trace({ ...request, detail: "norms" }, signal);
        this.controls.showSlot("general", tr("status.normsOnly"));
        return trace;
      }
      throw err;
    }
  }

  /** The first scenario failed: say so where the network would be, never a blank page. */
  showEmpty() {
    const net = document.getElementById("network");
    net.dataset.empty = "true";
    const p = document.createElement("p");
    p.className = "empty";
    p.dataset.i18n = "status.empty";
    p.textContent = tr("status.empty");
    net.replaceChildren(p);
  }

  setTrace(trace, training, eventIndex) {
    this.trace = trace;
    this.training = training;
    this.index = new TraceIndex(trace);
    delete document.getElementById("network").dataset.empty;
    const { network, equation, heatmaps, charts } = this.views;
    for (const v of [network, equation, heatmaps, charts]) {
      v.setTrace(this.index);
      v.setNotation?.(this.store.get().notation);
    }
    charts.setTraining(training);
    this.controls.sync(trace.config);
    this.timeline.setEvents(this.index.events, this.index.windows);
    const status = document.getElementById("status-exploded");
    const exploded = Boolean(trace.non_finite || training?.non_finite);
    status.hidden = !exploded;
    document.body.dataset.exploded = String(exploded);
    this.renderTraining();
    const n = this.index.events.length;
    const i = Math.max(0, Math.min(n - 1, eventIndex || 0));
    if (i !== this.store.get().event) this.store.update({ event: i });
    this.drawEvent();
    this.normsRequested = false;
    if (this.index.detail === "norms") charts.setNorms(this.index);
    document.body.dataset.traceReady = "true";
    this.dispatchEvent(new CustomEvent("trace", { detail: { trace } }));
  }

  /** Charts ask for the accumulators' norms: one more request with detail "norms". */
  async requestNorms() {
    if (this.normsRequested || !this.trace) return;
    this.normsRequested = true;
    const seq = this.loadSeq;
    const scenario = this.store.get().scenario;
    try {
      let trace;
      if (scenario.train) {
        // the trained trace is what is shown; its norms come from the same train request
        const res = await api.train({ ...requestOf(scenario), iterations: scenario.train,
          record_every: Math.max(1, Math.floor(scenario.train / 200)), include_trace: true,
          detail: "norms" });
        trace = res.trace;
      } else {
        trace = await api.trace({ ...requestOf(scenario), detail: "norms" });
      }
      if (seq !== this.loadSeq) return;
      this.views.charts.setNorms(new TraceIndex(trace));
      this.views.charts.draw();
    } catch {
      // the chart keeps its "loading" text; the main view is unaffected
    }
  }

  renderTraining() {
    const box = document.getElementById("predictions");
    const tr0 = this.training;
    box.replaceChildren();
    if (!tr0 || !Array.isArray(tr0.predictions) || !this.index) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    const table = document.createElement("table");
    table.className = "pred-table";
    const cap = document.createElement("caption");
    cap.textContent = tr("pred.caption", { n: this.store.get().scenario.train });
    table.appendChild(cap);
    const rows = [["pred.input", (t) => this.index.tokens(t).x], ["pred.target", (t) => this.index.tokens(t).y],
      ["pred.predicted", (t) => tr0.predictions[t - 1]]];
    for (const [key, get] of rows) {
      const tr1 = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = tr(key);
      tr1.appendChild(th);
      for (let t = 1; t <= this.index.T; t += 1) {
        const td = document.createElement("td");
        td.dataset.raw = "";
        const v = get(t);
        td.textContent = typeof v === "number" ? num(v, 3) : TraceIndex.shown(v);
        if (key === "pred.predicted" && String(v) === String(this.index.tokens(t).y)) td.className = "hit";
        tr1.appendChild(td);
      }
      table.appendChild(tr1);
    }
    box.appendChild(table);
    if (tr0.continuation) {
      const p = document.createElement("p");
      const label = document.createElement("span");
      label.textContent = tr("pred.continuation");
      const text = document.createElement("code");
      text.dataset.raw = "";
      text.textContent = tr0.continuation;
      p.append(label, " ", text);
      box.appendChild(p);
    }
  }

  /** Redraw every view for the store's event. */
  drawEvent() {
    if (!this.index) return;
    const i = Math.min(this.store.get().event, this.index.events.length - 1);
    const { network, equation, heatmaps, charts } = this.views;
    this.timeline.setIndex(i);
    this.timeline.draw();
    for (const v of [network, equation, heatmaps, charts]) v.setEvent(i);
    network.draw();
    equation.draw();
    heatmaps.draw();
    charts.draw();
    document.body.dataset.eventIndex = String(i);
    this.dispatchEvent(new CustomEvent("event", { detail: { index: i } }));
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
  // The rarer actions (gradient check, exports, the PyTorch check, share) live in actions.js,
  // loaded on first use.
  async gradcheck() {
    (await import("./actions.js")).gradcheck(this);
  }

  async exportJson() {
    (await import("./actions.js")).exportJson(this);
  }

  async exportCsv() {
    (await import("./actions.js")).exportCsv(this);
  }

  async exportTorch() {
    (await import("./actions.js")).exportTorch(this);
  }

  async share() {
    (await import("./actions.js")).share(this);
  }

  // ---- public API for lessons and tests ------------------------------------------------

  /** Load a scenario (a sparse trace request, optionally with "train") at an event. */
  async loadScenario(scenario, { event = 0 } = {}) {
    const done = new Promise((resolve) => {
      const on = () => {
        this.removeEventListener("trace", on);
        this.removeEventListener("error", on);
        resolve();
      };
      this.addEventListener("trace", on);
      this.addEventListener("error", on);
    });
    const changed = this.store.update({ scenario, event });
    if (!changed.has("scenario")) {
      this.drawEvent();
      return;
    }
    await done;
  }

  /** Move the timeline to an event index, or to {kind, t, update} (the first match). */
  goTo(target) {
    let i = target;
    if (typeof target === "object" && target !== null) {
      i = this.index.find(target.kind, target.t ?? null, target.update ?? null);
    }
    if (!Number.isInteger(i) || i < 0 || !this.index || i >= this.index.events.length) return false;
    this.store.update({ event: i });
    return true;
  }

  /** Highlight network nodes and edges, heatmap cards (#hm-W), equation lines or chart boxes. */
  highlight(targets) {
    this.clearHighlight();
    const rest = [];
    for (const target of targets) {
      if (typeof target === "string" && /^(hm-|eq-|chart-)/.test(target)) {
        const el = target.startsWith("eq-")
          ? document.querySelector(`#equation [data-eq="${CSS.escape(target.slice(3))}"]`)
          : document.getElementById(target);
        if (el) {
          el.classList.add("is-hl");
          this.extraHighlights.push(el);
        }
      } else rest.push(target);
    }
    this.views.network.highlight(rest);
  }

  clearHighlight() {
    for (const el of this.extraHighlights || []) el.classList.remove("is-hl");
    this.extraHighlights = [];
    this.views.network.clearHighlight();
  }

  get event() {
    return this.index ? this.index.event(this.store.get().event) : null;
  }
}
