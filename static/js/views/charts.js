// The diagnostics charts: per-step gradient norms, the error-flow matrix with the windows the
// trace used, the running norm of each accumulator, and the training loss curve (with the
// series' forecast). Nothing is loaded or drawn while the charts are off screen: plotly.js and
// the plots (plots.js) come when the charts scroll near the view.
//
// Two speeds: the plots themselves are drawn (Plotly.react) only when what they show changes
// (a new trace, training, notation, language or chart mode), in idle time and one chart at a
// time, so that no key ever waits for them; the mark of the current event is a plain element
// over each plot, moved at once on every step, so the charts never lag behind the timeline.
// Nothing here asks the server again, except the Jacobian norms when that mode is chosen.
import { api } from "../state/api.js";
import { t as tr } from "../text/i18n.js";
import { symbolArgs } from "../text/notation.js";
import { paced, quiet } from "../util/schedule.js";

let plotlyPromise = null; // the script, once asked for
let plotlyWhenQuiet = null; // the wait for a quiet page before asking for it

/** Insert /vendor/plotly.min.js once (a same-origin script, allowed by the CSP). */
function plotlyScript() {
  plotlyPromise ??= new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = "/vendor/plotly.min.js";
    s.async = true;
    s.onload = () => resolve(window.Plotly);
    s.onerror = () => reject(new Error("plotly.js failed to load"));
    document.head.appendChild(s);
  });
  return plotlyPromise;
}

/**
 * plotly.js, loaded once the page is quiet: its evaluation is one long task, and no key may
 * wait for it (schedule.js); at once when `now` (something points at a chart).
 */
export function loadPlotly(now = false) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (now || plotlyPromise) return plotlyScript();
  plotlyWhenQuiet ??= quiet().then(plotlyScript);
  return plotlyWhenQuiet;
}

let identity = 0;
const ids = new WeakMap();
/** A number per object (trace index, training result), for the key of what is drawn. */
function idOf(object) {
  if (!object) return 0;
  if (!ids.has(object)) ids.set(object, ++identity);
  return ids.get(object);
}

export class ChartsView {
  constructor({ containers }) {
    // {section, gradNorms, errorFlow, accum, loss, flowMode, flowLayer, flowLayerBox}
    this.c = containers;
    this.index = null;
    this.training = null;
    this.notation = "goodfellow";
    this.lang = 0;
    this.eventIndex = 0;
    this.nameMatrices(false); // before the first translation of the page
    this.flowMode = this.c.flowMode?.value || "error_flow";
    // a stack's layer whose error flow is shown (error_flow_layers), 1-based; null: the top
    this.flowLayer = null;
    this.jacobian = null; // {index, matrix} fetched for the Jacobian mode, or {index, error}
    this.plots = null; // plots.js, once loaded
    this.drawnKey = null;
    this.pendingKey = null;
    this.drawSeq = 0;
    this.urgent = false; // pointed at: drawn without waiting for quiet or for the view
    this.visible = false;
    this.observer = new IntersectionObserver((entries) => {
      this.visible = entries.some((e) => e.isIntersecting);
      if (this.visible) this.draw();
    });
    this.observer.observe(this.c.section);
    this.c.flowMode?.addEventListener("change", () => {
      this.flowMode = this.c.flowMode.value;
      this.syncFlowLayers();
      this.draw();
    });
    this.c.flowLayer?.addEventListener("change", () => {
      this.flowLayer = Number(this.c.flowLayer.value);
      this.draw();
    });
    // a person pointing at a chart (the pointer over it, the keyboard in it) sees it at once
    for (const type of ["pointerover", "focusin"])
      this.c.section.addEventListener(type, () => this.drawNow(), { passive: true });
  }

  /**
   * Draw now, without waiting for a quiet page or for the scroll that brings the charts into
   * view (a lesson's step or a person points at them).
   */
  drawNow() {
    if (this.drawnKey === this.dataKey() && !this.pendingKey) return;
    this.urgent = true;
    this.visible = true;
    this.pendingKey = null; // a wait for quiet in progress is overtaken
    this.draw();
  }

  /** Something points at these elements (a lesson's highlight): draw at once if ours. */
  pointedAt(elements) {
    if (elements.some((el) => this.c.section.contains(el))) this.drawNow();
  }

  setTrace(index) {
    this.index = index;
    this.syncFlowLayers();
  }

  /**
   * A stack (the diagnostics' error_flow_layers): a choice of the layer whose error flow is
   * shown, the top by default (the API's error_flow); kept across traces of the same height.
   * The Jacobian norms are the top layer's own recursion (CONTRACT.md): no choice then.
   */
  syncFlowLayers() {
    const select = this.c.flowLayer;
    if (!select) return;
    const layers = this.index?.trace?.diagnostics?.error_flow_layers?.length ?? 0;
    this.c.flowLayerBox.hidden = layers < 2;
    select.disabled = this.flowMode === "jacobian_norms";
    if (layers < 2) {
      this.flowLayer = null;
      return;
    }
    if (select.options.length !== layers) {
      select.replaceChildren();
      for (let j = 1; j <= layers; j += 1) {
        const option = document.createElement("option");
        option.value = String(j);
        option.dataset.i18n = j === layers ? "charts.layer.top" : "charts.layer.option";
        option.dataset.i18nArgs = JSON.stringify({ j });
        option.textContent = tr(option.dataset.i18n, { j });
        select.append(option);
      }
    }
    if (!(this.flowLayer >= 1 && this.flowLayer <= layers)) this.flowLayer = layers;
    select.value = String(this.flowLayer);
  }

  /** No trace to chart (the first scenario failed): say so, not "Drawing the chart…". */
  showEmpty() {
    for (const el of [this.c.gradNorms, this.c.errorFlow, this.c.accum, this.c.loss]) {
      window.Plotly?.purge(el);
      el.dataset.i18n = "charts.empty";
      el.textContent = tr("charts.empty");
    }
    this.drawnKey = null;
  }

  setTraining(result) {
    this.training = result;
  }

  setNotation(n) {
    this.notation = n;
    this.nameMatrices(true);
  }

  /**
   * The mode switch names its matrices in the notation (its texts' {Lt}, {ht}, {hk}): the
   * arguments for the page's translations, and (once the catalogue is there) the texts.
   */
  nameMatrices(write) {
    const args = symbolArgs(this.notation);
    for (const option of this.c.flowMode?.options || []) {
      option.dataset.i18nArgs = JSON.stringify(args);
      if (write) option.textContent = tr(option.dataset.i18n, args);
    }
  }

  setLanguage() {
    this.lang += 1;
  }

  setEvent(i) {
    this.eventIndex = i;
  }

  /** What the plots show; a change of it means drawing them again. */
  dataKey() {
    const jac =
      this.flowMode === "jacobian_norms" && this.jacobian?.index === this.index
        ? idOf(this.jacobian)
        : 0;
    return [
      idOf(this.index),
      idOf(this.training),
      this.notation,
      this.lang,
      this.flowMode,
      this.flowLayer,
      jac,
    ].join("|");
  }

  /** The Jacobian norms the mode shows: from the trace when it has them, else asked for once. */
  jacobianNorms() {
    const d = this.index?.trace?.diagnostics;
    if (Array.isArray(d?.jacobian_norms)) return { matrix: d.jacobian_norms };
    if (this.jacobian?.index === this.index) return this.jacobian;
    this.requestJacobian(this.index);
    return { loading: true };
  }

  async requestJacobian(index) {
    if (this.jacobianFor === index) return;
    this.jacobianFor = index;
    // the same pass again (config is the whole request, trained parameters included), with
    // the exact all-pairs norms, and norms instead of matrices: only the diagnostics are read
    const body = { ...index.trace.config, jacobian_norms: true, detail: "norms" };
    let result;
    try {
      const trace = await api.trace(body);
      result = { index, matrix: trace.diagnostics?.jacobian_norms ?? null };
    } catch (err) {
      result = { index, error: err?.kind || "failed" };
    }
    if (this.index !== index) return;
    this.jacobian = result;
    this.draw();
  }

  /** Bring the charts up to date: the plots when their data changed, the marks always. */
  draw() {
    if (!this.index || !this.visible) return;
    const key = this.dataKey();
    // a draw under way for other data is overtaken even when this key is the one drawn last
    // (a mode switched away and back before the first switch's draw ended)
    const overtaken = this.pendingKey !== null && this.pendingKey !== key;
    if (key !== this.drawnKey || overtaken) this.drawPlots(key);
    this.plots?.marks(this);
  }

  async drawPlots(key) {
    if (this.pendingKey === key) return;
    this.pendingKey = key;
    const seq = ++this.drawSeq; // a later call (drawNow) overtakes this one
    const stale = () => this.pendingKey !== key || this.drawSeq !== seq;
    // the page grows as the first trace is drawn: decide that the charts are in view from the
    // settled layout of the next frame, not from a report made while the page was short
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    if (stale()) return;
    const box = this.c.section.getBoundingClientRect();
    const urgent = this.urgent;
    if (!urgent && (box.top >= window.innerHeight || box.bottom <= 0)) {
      // not in view after all: observe afresh, so that its next report (now or when the charts
      // scroll into view) comes even if the observer last saw them visible
      this.pendingKey = null;
      this.observer.unobserve(this.c.section);
      this.observer.observe(this.c.section);
      return;
    }
    let Plotly;
    try {
      [Plotly, this.plots] = await Promise.all([loadPlotly(urgent), import("./plots.js")]);
    } catch {
      for (const el of [this.c.gradNorms, this.c.errorFlow, this.c.accum, this.c.loss]) {
        el.dataset.error = "true";
        el.dataset.i18n = "charts.unavailable";
        el.textContent = tr("charts.unavailable");
      }
      this.pendingKey = null;
      return;
    }
    if (stale()) return;
    // one chart per idle slot, and each Plotly.react after any pending input (schedule.js)
    const done = await this.plots.drawAll(paced(Plotly), this, stale);
    if (!done || stale()) return;
    this.pendingKey = null;
    this.urgent = false;
    this.drawnKey = key;
    this.plots.marks(this);
    this.c.section.setAttribute("data-ready", "true");
  }
}
