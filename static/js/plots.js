// The plots of the diagnostics charts (plotly.js, redrawn with Plotly.react). Loaded with
// plotly.js only when the charts come into view (see charts.js).
import { PALETTE, SEQUENTIAL } from "./config.js";
import { num } from "./format.js";
import { t as tr } from "./i18n.js";
import { gradText, paramNames } from "./notation.js";
import { clearMessage, message } from "./charts.js";

const CONFIG = { displayModeBar: false, responsive: true };
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

/** Draw every chart of the view `v` (a ChartsView) with Plotly. */
export function drawAll(Plotly, v) {
  return Promise.all([gradNorms(Plotly, v), errorFlow(Plotly, v), accum(Plotly, v), loss(Plotly, v)]);
}

function currentT(v) {
  const ev = v.index.event(Math.min(v.eventIndex, v.index.events.length - 1));
  return ev ? ev.t : 1;
}

function gradNorms(Plotly, v) {
  const d = v.index.trace.diagnostics;
  const el = v.c.gradNorms;
  if (!d || !d.step_grad_norms) {
    message(Plotly, el, "charts.noDiagnostics");
    return null;
  }
  clearMessage(el);
  const T = d.step_grad_norms.length;
  const ts = Array.from({ length: T }, (_, k) => k + 1);
  const cur = currentT(v);
  const colours = ts.map((t) => (t === cur ? PALETTE.current : PALETTE.backward));
  const layout = baseLayout(tr("charts.gradNorms.title"), "t", tr("charts.gradNorms.y"));
  layout.yaxis.type = "log";
  layout.xaxis.dtick = T > 30 ? undefined : 1;
  return Plotly.react(el, [{
    type: "bar", x: ts, y: d.step_grad_norms, marker: { color: colours },
    hovertemplate: `t = %{x}<br>${tr("charts.gradNorms.y")} = %{y:.3g}<extra></extra>`,
  }], layout, CONFIG);
}

function errorFlow(Plotly, v) {
  const d = v.index.trace.diagnostics;
  const el = v.c.errorFlow;
  const field = v.flowMode === "jacobian_norms" ? "jacobian_norms" : "error_flow";
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
  const trunc = v.index.trace.config?.truncation;
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
  const ev = v.index.event(Math.min(v.eventIndex, v.index.events.length - 1));
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

function accum(Plotly, v) {
  const el = v.c.accum;
  const norms = v.norms;
  if (!norms) {
    message(Plotly, el, "charts.accum.loading");
    v.onNeedNorms?.();
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
    type: "scatter", mode: "lines+markers", x: xs, y: series[n], name: gradText(n, norms.cell, v.notation),
    line: { color: LINE_COLOURS[k % LINE_COLOURS.length], width: 1.6 }, marker: { size: 3 },
    hovertemplate: `%{fullData.name}: %{y:.3g}<extra></extra>`,
  }));
  const layout = baseLayout(tr("charts.accum.title"), tr("charts.accum.x"), tr("charts.accum.y"));
  layout.showlegend = true;
  layout.legend = { font: { size: 10 }, orientation: "v", x: 1.01, y: 1 };
  layout.margin.r = 70;
  const i = Math.min(v.eventIndex, v.index.events.length - 1) + 1;
  layout.shapes = [{ type: "line", x0: i, x1: i, yref: "paper", y0: 0, y1: 1,
    line: { color: PALETTE.current, width: 2 } }];
  layout.hovermode = "x";
  return Plotly.react(el, traces, layout, CONFIG);
}

function loss(Plotly, v) {
  const el = v.c.loss;
  const tr0 = v.training;
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
