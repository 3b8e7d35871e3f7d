// The diagnostics charts: per-step gradient norms, the error-flow matrix with the truncation
// band, the running norm of each accumulator, and the training loss curve. Nothing is loaded
// or drawn while the charts are off screen: plotly.js and the plots (plots.js) come when the
// charts scroll near the view, then every redraw is a Plotly.react.
import { TIMING } from "./config.js";
import { t as tr } from "./i18n.js";
import { paced, quiet } from "./schedule.js";

let plotlyPromise = null;

/**
 * Load /vendor/plotly.min.js once (a same-origin script, allowed by the CSP), when the page is
 * quiet: its evaluation is one long task, and no key may wait for it (schedule.js).
 */
export function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyPromise) {
    plotlyPromise = quiet().then(() => new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = "/vendor/plotly.min.js";
      s.async = true;
      s.onload = () => resolve(window.Plotly);
      s.onerror = () => reject(new Error("plotly.js failed to load"));
      document.head.appendChild(s);
    }));
  }
  return plotlyPromise;
}

/** A chart box that shows a message instead of a plot (kept translated by data-i18n). */
export function message(Plotly, el, key) {
  Plotly?.purge(el);
  el.dataset.i18n = key;
  el.textContent = tr(key);
}

/** A chart box about to hold a plot: drop any message first. */
export function clearMessage(el) {
  if (el.dataset.i18n) {
    delete el.dataset.i18n;
    el.textContent = "";
  }
}

export class ChartsView {
  constructor({ containers, onNeedNorms }) {
    this.c = containers; // {section, gradNorms, errorFlow, accum, loss, flowMode}
    this.onNeedNorms = onNeedNorms;
    this.index = null;
    this.norms = null;
    this.training = null;
    this.notation = "goodfellow";
    this.eventIndex = 0;
    this.timer = null;
    this.flowMode = "error_flow";
    this.ready = false;
    this.visible = false;
    this.observer = new IntersectionObserver((entries) => {
      this.visible = entries.some((e) => e.isIntersecting);
      if (this.visible) this.drawNow();
    });
    this.observer.observe(this.c.section);
    if (this.c.flowMode) {
      this.c.flowMode.addEventListener("change", () => {
        this.flowMode = this.c.flowMode.value;
        this.drawNow();
      });
    }
  }

  setTrace(index) {
    this.index = index;
    this.norms = index.detail === "norms" ? index : null;
  }

  /** No trace to chart (the first scenario failed): say so, not "Drawing the chart…". */
  showEmpty() {
    for (const el of [this.c.gradNorms, this.c.errorFlow, this.c.accum, this.c.loss]) {
      message(null, el, "charts.empty");
    }
  }

  setNorms(normsIndex) {
    this.norms = normsIndex;
  }

  setTraining(result) {
    this.training = result;
  }

  setNotation(n) {
    this.notation = n;
  }

  setEvent(i) {
    this.eventIndex = i;
  }

  /** Redraw soon: while stepping quickly, the charts follow a little behind the network. */
  draw() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.drawNow(), TIMING.chartDebounceMs);
  }

  async drawNow() {
    clearTimeout(this.timer);
    if (!this.index || !this.visible) return;
    let Plotly;
    let plots;
    try {
      [Plotly, plots] = await Promise.all([loadPlotly(), import("./plots.js")]);
    } catch {
      for (const el of [this.c.gradNorms, this.c.errorFlow, this.c.accum, this.c.loss]) {
        el.dataset.error = "true";
        message(null, el, "charts.unavailable");
      }
      return;
    }
    await plots.drawAll(paced(Plotly), this); // one chart per task, after pending input
    this.ready = true;
    this.c.section.setAttribute("data-ready", "true");
  }
}
