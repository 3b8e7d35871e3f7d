// Charts drawn with the installed plotly.js (loaded after the first view is interactive) and
// redrawn with Plotly.react: per-step gradient norms, the error-flow matrix with the
// truncation band, the running norm of each accumulator, and the training loss curve.
import { PALETTE, SEQUENTIAL, TIMING } from "./config.js";
import { num } from "./format.js";
import { t as tr } from "./i18n.js";
import { gradText, paramNames } from "./notation.js";

let plotlyPromise = null;

/** Load /vendor/plotly.min.js once (a same-origin script, allowed by the CSP). */
export function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyPromise) {
    plotlyPromise = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = "/vendor/plotly.min.js";
      s.async = true;
      s.onload = () => resolve(window.Plotly);
      s.onerror = () => reject(new Error("plotly.js failed to load"));
      document.head.appendChild(s);
    });
  }
  return plotlyPromise;
}

const CONFIG = { displayModeBar: false, responsive: true };

/** A chart box that shows a message instead of a plot (kept translated by data-i18n). */
function message(Plotly, el, key) {
  Plotly?.purge(el);
  el.dataset.i18n = key;
  el.textContent = tr(key);
}

/** A chart box about to hold a plot: drop any message first. */
function clearMessage(el) {
  if (el.dataset.i18n) {
    delete el.dataset.i18n;
    el.textContent = "";
  }
}
const FONT = { family: "system-ui, sans-serif", size: 11, color: PALETTE.ink };
const LINE_COLOURS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#7f7f7f",
  "#000000", "#f0e442"];

function baseLayout(title, x, y) {
  return {
    title: { text: title, font: { size: 13 }, x: 0.02, xanchor: "left" },
    font: FONT,
    margin: { l: 52, r: 14, t: 34, b: 40 },
    xaxis: { title: { text: x }, zeroline: false },
    yaxis: { title: { text: y }, zeroline: false },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "#fff",
    showlegend: false,
    hoverlabel: { font: { size: 11 } },
  };
}

export class ChartsView {
  constructor({ containers, onNeedNorms }) {
    this.c = containers; // {gradNorms, errorFlow, accum, loss, flowMode}
    this.onNeedNorms = onNeedNorms;
    this.index = null;
    this.norms = null;
    this.training = null;
    this.notation = "goodfellow";
    this.eventIndex = 0;
    this.timer = null;
    this.flowMode = "error_flow";
    this.ready = false;
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
    if (!this.index) return;
    let Plotly;
    try {
      Plotly = await loadPlotly();
    } catch {
      for (const el of [this.c.gradNorms, this.c.errorFlow, this.c.accum, this.c.loss]) {
        el.dataset.error = "true";
        message(null, el, "charts.unavailable");
      }
      return;
    }
    const jobs = [this.gradNorms(Plotly), this.errorFlow(Plotly), this.accum(Plotly), this.loss(Plotly)];
    await Promise.all(jobs);
    this.ready = true;
    document.getElementById("charts")?.setAttribute("data-ready", "true");
  }

  currentT() {
    const ev = this.index.event(Math.min(this.eventIndex, this.index.events.length - 1));
    return ev ? ev.t : 1;
  }

  gradNorms(Plotly) {
    const d = this.index.trace.diagnostics;
    const el = this.c.gradNorms;
    if (!d || !d.step_grad_norms) {
      message(Plotly, el, "charts.noDiagnostics");
      return null;
    }
    clearMessage(el);
    const T = d.step_grad_norms.length;
    const ts = Array.from({ length: T }, (_, k) => k + 1);
    const cur = this.currentT();
    const colours = ts.map((t) => (t === cur ? PALETTE.current : PALETTE.backward));
    const layout = baseLayout(tr("charts.gradNorms.title"), "t", tr("charts.gradNorms.y"));
    layout.yaxis.type = "log";
    layout.xaxis.dtick = T > 30 ? undefined : 1;
    return Plotly.react(el, [{
      type: "bar", x: ts, y: d.step_grad_norms, marker: { color: colours },
      hovertemplate: `t = %{x}<br>${tr("charts.gradNorms.y")} = %{y:.3g}<extra></extra>`,
    }], layout, CONFIG);
  }

  errorFlow(Plotly) {
    const d = this.index.trace.diagnostics;
    const el = this.c.errorFlow;
    const field = this.flowMode === "jacobian_norms" ? "jacobian_norms" : "error_flow";
    const matrix = d?.[field];
    if (!matrix) {
      message(Plotly, el, "charts.noDiagnostics");
      return null;
    }
    clearMessage(el);
    const T = matrix.length;
    const ts = Array.from({ length: T }, (_, k) => k + 1);
    // colour on a log scale so that the fade away from the diagonal stays visible; the
    // hover shows the API's value itself
    const z = matrix.map((r) => r.map((v) => (v === null || v <= 0 ? null : Math.log10(v))));
    const text = matrix.map((r) => r.map((v) => (v === null ? "" : num(v, 3))));
    const key = field === "jacobian_norms" ? "charts.jacobian" : "charts.errorFlow";
    const layout = baseLayout(tr(`${key}.title`), tr(`${key}.x`), tr(`${key}.y`));
    layout.yaxis.autorange = "reversed";
    layout.xaxis.dtick = T > 30 ? undefined : T > 15 ? 2 : 1;
    layout.yaxis.dtick = layout.xaxis.dtick;
    layout.margin.r = 10;
    const shapes = [];
    const trunc = this.index.trace.config?.truncation;
    if (trunc && field === "error_flow") {
      // the band of width k2 that truncation keeps: k from t − k2 + 1 to t (drawn as a
      // staircase along the cells' edges)
      const k2 = trunc.k2 ?? trunc.k1;
      let path = "";
      for (let t = 1; t <= T; t += 1) {
        const k0 = Math.max(1, t - k2 + 1);
        path += `${t === 1 ? "M" : "L"}${k0 - 0.5},${t - 0.5}L${k0 - 0.5},${t + 0.5}`;
      }
      shapes.push({ type: "path", path, line: { color: PALETTE.cut, width: 2, dash: "dot" } });
    }
    const ev = this.index.event(Math.min(this.eventIndex, this.index.events.length - 1));
    if (ev && ev.kind === "backward") {
      shapes.push({ type: "rect", x0: ev.t - 0.5, x1: ev.t + 0.5, y0: ev.t - 0.5, y1: T + 0.5,
        line: { color: PALETTE.current, width: 2 } });
    } else if (ev && ev.kind === "forward") {
      shapes.push({ type: "rect", x0: 0.5, x1: ev.t + 0.5, y0: ev.t - 0.5, y1: ev.t + 0.5,
        line: { color: PALETTE.current, width: 2 } });
    }
    layout.shapes = shapes;
    return Plotly.react(el, [{
      type: "heatmap", x: ts, y: ts, z, text, colorscale: SEQUENTIAL.map(([a, c]) => [a, c]),
      reversescale: false, hoverongaps: false,
      colorbar: { thickness: 10, showticklabels: false,
        title: { text: tr("charts.logScale"), side: "right", font: { size: 10 } } },
      hovertemplate: `${tr(`${key}.hover`)}<extra></extra>`,
    }], layout, CONFIG);
  }

  accum(Plotly) {
    const el = this.c.accum;
    const norms = this.norms;
    if (!norms) {
      message(Plotly, el, "charts.accum.loading");
      this.onNeedNorms?.();
      return null;
    }
    clearMessage(el);
    const names = paramNames(norms.cell).filter((n) => n in (norms.trace.params || {}));
    const xs = [];
    const series = Object.fromEntries(names.map((n) => [n, []]));
    norms.events.forEach((ev, i) => {
      if (ev.kind !== "backward") return;
      xs.push(i + 1);
      for (const n of names) series[n].push(ev.accum?.[n] ?? null);
    });
    const traces = names.map((n, k) => ({
      type: "scatter", mode: "lines+markers", x: xs, y: series[n], name: gradText(n, norms.cell, this.notation),
      line: { color: LINE_COLOURS[k % LINE_COLOURS.length], width: 1.6 }, marker: { size: 3 },
      hovertemplate: `%{fullData.name}: %{y:.3g}<extra></extra>`,
    }));
    const layout = baseLayout(tr("charts.accum.title"), tr("charts.accum.x"), tr("charts.accum.y"));
    layout.showlegend = true;
    layout.legend = { font: { size: 10 }, orientation: "v", x: 1.01, y: 1 };
    layout.margin.r = 70;
    const i = Math.min(this.eventIndex, this.index.events.length - 1) + 1;
    layout.shapes = [{ type: "line", x0: i, x1: i, yref: "paper", y0: 0, y1: 1,
      line: { color: PALETTE.current, width: 2 } }];
    layout.hovermode = "x";
    return Plotly.react(el, traces, layout, CONFIG);
  }

  loss(Plotly) {
    const el = this.c.loss;
    const tr0 = this.training;
    if (!tr0 || !Array.isArray(tr0.losses)) {
      message(Plotly, el, "charts.loss.empty");
      return null;
    }
    clearMessage(el);
    const layout = baseLayout(tr("charts.loss.title"), tr("charts.loss.x"), tr("charts.loss.y"));
    return Plotly.react(el, [{
      type: "scatter", mode: "lines", x: tr0.iterations, y: tr0.losses,
      line: { color: PALETTE.forward, width: 2 },
      hovertemplate: `${tr("charts.loss.x")} %{x}: %{y:.4g}<extra></extra>`,
    }], layout, CONFIG);
  }
}

