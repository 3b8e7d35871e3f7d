// The plots of the diagnostics charts (plotly.js, drawn with Plotly.react) and the marks of the
// current event over them. Loaded with plotly.js only when the charts come into view (see
// charts.js, which never imports this module statically: no cycle). Every number drawn is a
// field of the trace or of the training result; the only arithmetic here is display: log10 of
// a value to place it on a colour scale, and series values back in their own units.
import { FORECAST_COLUMNS, PALETTE, SEQUENTIAL } from "../util/config.js";
import { num, superscript } from "../text/format.js";
import { t as tr } from "../text/i18n.js";
import { gradText, specParams, symbolArgs } from "../text/notation.js";
import { idle } from "../util/schedule.js";
import { TraceIndex } from "../state/trace.js";
import { inSeriesUnits } from "../state/units.js";

const CONFIG = { displayModeBar: false, responsive: true };
const FONT = { family: "system-ui, sans-serif", size: 11, color: PALETTE.ink };
const LINE_COLOURS = [
  "#0072b2",
  "#d55e00",
  "#009e73",
  "#cc79a7",
  "#e69f00",
  "#56b4e9",
  "#7f7f7f",
  "#000000",
  "#f0e442",
];
// Above this ratio between the largest and the smallest norm, bars in proportion would show
// the small ones as nothing: the chart switches to points on a logarithmic axis.
const LOG_RATIO = 100;

/** Break a text into lines of at most `chars` characters, at spaces: plotly does not wrap. */
function wrap(text, chars) {
  if (text.length <= chars) return { text, lines: 1 };
  const lines = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && `${line} ${word}`.length > chars) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return { text: lines.join("<br>"), lines: lines.length };
}

// about how wide a character of the charts' fonts is, to wrap titles before they are cut off
const CHAR_PX = { title: 7.2, axis: 6.6 };

/** The layout every chart starts from, its titles wrapped to the chart's size. */
function baseLayout(el, title, x, y) {
  const width = el.clientWidth || 400;
  const height = el.clientHeight || 280;
  const t = wrap(title, Math.max(16, Math.floor((width - 30) / CHAR_PX.title)));
  const yt = wrap(y, Math.max(10, Math.floor((height - 90) / CHAR_PX.axis)));
  return {
    title: { text: t.text, font: { size: 13 }, x: 0.02, xanchor: "left" },
    font: FONT,
    margin: { l: 44 + 14 * yt.lines, r: 14, t: 16 + 18 * t.lines, b: 40 },
    xaxis: { title: { text: x }, zeroline: false },
    yaxis: { title: { text: yt.text }, zeroline: false },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "#fff",
    showlegend: false,
    hoverlabel: { font: { size: 11 } },
  };
}

/** A tick step for T steps along `length` pixels: every step while there is room, else 2, 5… */
function stepTick(length, T, room = 22) {
  const px = length / Math.max(1, T);
  return [1, 2, 5, 10, 20, 50, 100].find((d) => d * px >= room) ?? 200;
}

/** A chart box that shows a message instead of a plot (kept translated by data-i18n). */
function message(Plotly, el, key) {
  Plotly?.purge(el);
  el.style.height = "";
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

/**
 * Draw every chart of the view `v` (a ChartsView), each in an idle slot; stop (false) as soon
 * as `stale()` says a newer drawing is wanted.
 */
export async function drawAll(Plotly, v, stale = () => false) {
  for (const chart of [gradNorms, errorFlow, accum, loss]) {
    if (!v.urgent) await idle(); // pointed at: no wait for idle time (input still first)
    if (stale()) return false;
    await chart(Plotly, v);
  }
  return true;
}

const range = (n) => Array.from({ length: n }, (_, k) => k + 1);

function currentEvent(v) {
  const n = v.index.events.length;
  const i = Math.min(v.eventIndex, n - 1);
  return { i, ev: v.index.event(i) };
}

const power = (k) => `10${superscript(k)}`;

/** A tick label: 0.002, 50, 1000 written out; smaller or larger as m·10ᵏ (5·10⁻⁴). */
export function tickText(x) {
  if (x === 0) return "0";
  const abs = Math.abs(x);
  if (abs >= 1e-3 && abs < 1e4) return num(Number(x.toPrecision(2)), 2);
  const k = Math.floor(Math.log10(abs) + 1e-9);
  const m = Number((x / 10 ** k).toPrecision(2));
  return m === 1 ? power(k) : `${num(m, 2)}·${power(k)}`;
}

/**
 * Ticks of a colour scale holding log10 values from lo to hi: every decade (or every other
 * one) when it spans two or more, else 1, 2 and 5 (and 3 when that is too few) times the
 * powers of ten inside it; labelled with the values, never with their logarithms.
 */
export function logTicks(lo, hi) {
  const tickvals = [];
  if (hi - lo >= 2) {
    const step = Math.ceil((hi - lo) / 6);
    for (let k = Math.ceil(lo - 1e-9); k <= Math.floor(hi + 1e-9); k += step) tickvals.push(k);
  } else {
    for (const mantissas of [
      [1, 2, 5],
      [1, 2, 3, 5],
    ]) {
      tickvals.length = 0;
      for (let k = Math.floor(lo) - 1; k <= Math.ceil(hi); k += 1) {
        for (const m of mantissas) {
          const at = k + Math.log10(m);
          if (at >= lo - 1e-9 && at <= hi + 1e-9) tickvals.push(at);
        }
      }
      if (tickvals.length >= 3) break;
    }
    // a scale narrower than that: its two ends
    if (tickvals.length < 2) tickvals.splice(0, tickvals.length, lo, hi);
  }
  return { tickvals, ticktext: tickvals.map((at) => tickText(10 ** at)) };
}

// ---- gradient norm of each step ------------------------------------------------------------

function gradNorms(Plotly, v) {
  const d = v.index.trace.diagnostics;
  const el = v.c.gradNorms;
  if (!d || !Array.isArray(d.step_grad_norms)) {
    message(Plotly, el, "charts.noDiagnostics");
    return null;
  }
  clearMessage(el);
  const values = d.step_grad_norms;
  const T = values.length;
  const ts = range(T);
  const positive = values.filter((x) => x !== null && x > 0);
  const log = positive.length >= 2 && Math.max(...positive) > LOG_RATIO * Math.min(...positive);
  el.dataset.scale = log ? "log" : "linear";
  const yTitle = tr(log ? "charts.gradNorms.yLog" : "charts.gradNorms.y");
  const layout = baseLayout(el, tr("charts.gradNorms.title"), "t", yTitle);
  layout.xaxis.dtick = stepTick((el.clientWidth || 400) - 90, T);
  layout.xaxis.range = [0.4, T + 0.6];
  const hover = `t = %{x}<br>${tr("charts.gradNorms.y")} = %{customdata}<extra></extra>`;
  const text = values.map((x) => num(x, 3));
  const traces = [];
  if (log) {
    // points on a logarithmic axis with one labelled tick per power of ten (no minor labels)
    Object.assign(layout.yaxis, {
      type: "log",
      dtick: 1,
      exponentformat: "power",
      showexponent: "all",
      minor: { ticks: "", showgrid: false },
    });
    traces.push({
      type: "scatter",
      mode: "lines+markers",
      x: ts,
      y: values.map((x) => (x !== null && x > 0 ? x : null)),
      customdata: text,
      line: { color: PALETTE.backward, width: 1, dash: "dot" },
      marker: { color: PALETTE.backward, size: 8 },
      hovertemplate: hover,
    });
  } else {
    // bars from zero: heights in proportion to the values
    Object.assign(layout.yaxis, { rangemode: "tozero" });
    traces.push({
      type: "bar",
      x: ts,
      y: values,
      customdata: text,
      marker: { color: PALETTE.backward },
      hovertemplate: hover,
    });
  }
  // values that cannot be drawn on this axis get their own mark: overflow (null) at the top,
  // exact zeros at the bottom of a log axis
  const edge = (pick, y, symbol, colour, key) => {
    const at = ts.filter((t) => pick(values[t - 1]));
    if (at.length) {
      traces.push({
        type: "scatter",
        mode: "markers",
        x: at,
        y: at.map(() => y),
        yaxis: "y2",
        marker: { symbol, size: 10, color: colour, line: { width: 2, color: colour } },
        hovertemplate: `t = %{x}: ${tr(key)}<extra></extra>`,
      });
    }
  };
  edge((x) => x === null, 0.96, "x-thin", PALETTE.cut, "charts.overflow");
  if (log) edge((x) => x === 0, 0.03, "line-ew", PALETTE.muted, "charts.zero");
  layout.yaxis2 = { overlaying: "y", range: [0, 1], visible: false, fixedrange: true };
  if (!values.some((x) => x !== null)) layout.yaxis.showticklabels = false; // all overflowed
  return Plotly.react(el, traces, layout, CONFIG);
}

// ---- error flow / Jacobian norms -----------------------------------------------------------

/**
 * The outline of the cells the trace's windows let error reach: for the losses injected at a
 * window's update (the steps after the previous update, up to this one), columns from the
 * window's first step to the loss's own step. A staircase along the diagonal on the right.
 */
export function windowBand(windows) {
  const paths = [];
  let done = 0;
  for (const w of windows) {
    const r0 = done + 1;
    const r1 = w.t_update;
    done = w.t_update;
    if (r1 < r0) continue;
    const x0 = w.first - 0.5;
    let p = `M${x0},${r0 - 0.5}L${x0},${r1 + 0.5}L${r1 + 0.5},${r1 + 0.5}`;
    for (let t = r1; t >= r0; t -= 1) p += `L${t + 0.5},${t - 0.5}L${t - 0.5},${t - 0.5}`;
    paths.push(`${p}Z`);
  }
  return paths;
}

/**
 * A sentence of words (the sentence preset): the axes name the words (the input of step k, the
 * target of the loss at t), and an arrow points into the last row, the error of the last word
 * reaching every word before it: the context the network must carry to predict it.
 */
function pointAtWords(layout, index, T) {
  const words = index.trace.vocab;
  if (!words?.some((w) => w.length > 1) || T > 16) return;
  const ts = range(T);
  const label = (k, w) => `${k} ${TraceIndex.shown(w)}`;
  Object.assign(layout.xaxis, {
    tickvals: ts,
    ticktext: ts.map((k) => label(k, index.tokens(k).x)),
  });
  Object.assign(layout.yaxis, {
    tickvals: ts,
    ticktext: ts.map((t) => label(t, index.tokens(t).y)),
  });
  layout.xaxis.tickangle = -40;
  layout.margin.b += 36;
  layout.margin.l += 46;
  // the last row outlined, and named from the empty corner above the diagonal
  layout.shapes = [
    ...(layout.shapes || []),
    {
      type: "rect",
      xref: "x",
      yref: "y",
      x0: 0.5,
      x1: T + 0.5,
      y0: T - 0.5,
      y1: T + 0.5,
      line: { color: PALETTE.ink, width: 1.5, dash: "dash" },
    },
  ];
  layout.annotations = [
    {
      x: T,
      y: T - 0.5,
      xref: "x",
      yref: "y",
      axref: "x",
      ayref: "y",
      ax: T,
      ay: 1.6,
      xanchor: "right",
      align: "right",
      text: wrap(tr("charts.errorFlow.lastWord", { word: TraceIndex.shown(index.tokens(T).y) }), 24)
        .text,
      showarrow: true,
      arrowhead: 2,
      arrowcolor: PALETTE.ink,
      arrowwidth: 1.5,
      font: { size: 11 },
    },
  ];
}

function errorFlow(Plotly, v) {
  const el = v.c.errorFlow;
  const jacobian = v.flowMode === "jacobian_norms";
  const d = v.index.trace.diagnostics;
  if (!d) {
    message(Plotly, el, "charts.noDiagnostics");
    return null;
  }
  // a stack: the layer chosen (error_flow_layers, bottom to top; error_flow is the top's)
  const layers = d.error_flow_layers?.length ?? 0;
  const layer = layers > 1 && !jacobian ? (v.flowLayer ?? layers) : null;
  let matrix = layer ? d.error_flow_layers[layer - 1] : d.error_flow;
  if (jacobian) {
    const got = v.jacobianNorms();
    if (got.loading) {
      message(Plotly, el, "charts.jacobian.loading");
      return null;
    }
    matrix = got.matrix;
    if (!Array.isArray(matrix)) {
      message(Plotly, el, "charts.jacobian.failed");
      return null;
    }
  }
  if (!Array.isArray(matrix)) {
    message(Plotly, el, "charts.noDiagnostics");
    return null;
  }
  clearMessage(el);
  el.dataset.mode = jacobian ? "jacobian_norms" : "error_flow";
  const T = matrix.length;
  const ts = range(T);
  // colour on a log scale so that the fade away from the diagonal stays visible; the
  // colour bar is labelled with the values, the hover shows the API's value itself
  const z = matrix.map((r) => r.map((x) => (x === null || x <= 0 ? null : Math.log10(x))));
  const text = matrix.map((r, t) => r.map((x, k) => (k > t ? "" : num(x, 3))));
  const logs = z.flat().filter((x) => x !== null);
  const lo = logs.length ? Math.min(...logs) : 0;
  const hi = logs.length ? Math.max(...logs) : 1;
  const ticks = logTicks(lo, hi > lo ? hi : lo + 1);
  const key = jacobian ? "charts.jacobian" : "charts.errorFlow";
  let title = tr(`${key}.title`, symbolArgs(v.notation)); // h(k), Haykin's x(k), ...
  if (layer) title = tr("charts.errorFlow.ofLayer", { title, j: layer });
  el.dataset.layer = layer ?? "";
  const layout = baseLayout(el, title, tr(`${key}.x`), tr(`${key}.y`));
  layout.yaxis.autorange = "reversed";
  layout.xaxis.dtick = stepTick((el.clientWidth || 400) - 150, T);
  layout.yaxis.dtick = stepTick((el.clientHeight || 262) - 90, T, 16);
  layout.margin.r = 10;
  layout.margin.t += 10; // room for the mode switch above the plot
  const shapes = [];
  const windows = v.index.trace.windows || [];
  const cut = windows.some((w) => w.first > 1);
  if (!jacobian && cut) {
    for (const path of windowBand(windows)) {
      shapes.push({ type: "path", path, line: { color: PALETTE.cut, width: 2, dash: "dot" } });
    }
  }
  layout.shapes = shapes;
  pointAtWords(layout, v.index, T); // after the shapes: it adds its own
  const traces = [
    {
      type: "heatmap",
      x: ts,
      y: ts,
      z,
      text,
      colorscale: SEQUENTIAL.map(([a, c]) => [a, c]),
      zmin: lo,
      zmax: hi > lo ? hi : lo + 1,
      hoverongaps: false,
      colorbar: {
        thickness: 10,
        tickvals: ticks.tickvals,
        ticktext: ticks.ticktext,
        tickfont: { size: 10 },
        outlinewidth: 0,
        title: { text: tr("charts.logScale"), side: "right", font: { size: 10 } },
      },
      hovertemplate: `${tr(`${key}.hover`)}<extra></extra>`,
    },
  ];
  // a norm that overflowed (null below the diagonal) is marked, never left blank
  const over = [];
  for (const [t, r] of matrix.entries()) {
    for (const [k, x] of r.entries()) if (k <= t && x === null) over.push([k + 1, t + 1]);
  }
  if (over.length) {
    traces.push({
      type: "scatter",
      mode: "markers",
      x: over.map((p) => p[0]),
      y: over.map((p) => p[1]),
      marker: {
        symbol: "x-thin",
        size: 8,
        color: PALETTE.cut,
        line: { width: 2, color: PALETTE.cut },
      },
      hovertemplate: `t = %{y}, k = %{x}: ${tr("charts.overflow")}<extra></extra>`,
    });
  }
  return Plotly.react(el, traces, layout, CONFIG);
}

// ---- running norm of each accumulator ------------------------------------------------------

function accum(Plotly, v) {
  const el = v.c.accum;
  const idx = v.index;
  const names = specParams(idx.trace.cell_spec);
  clearMessage(el);
  const xs = [];
  const series = Object.fromEntries(names.map((n) => [n, []]));
  idx.events.forEach((ev, i) => {
    if (ev.kind !== "backward") return;
    xs.push(i + 1);
    for (const n of names) series[n].push(ev.accum_norms?.[n] ?? null); // the engine's norms
  });
  const traces = names.map((n, k) => ({
    type: "scatter",
    mode: "lines+markers",
    x: xs,
    y: series[n],
    name: gradText(n, idx.cell, v.notation),
    line: { color: LINE_COLOURS[k % LINE_COLOURS.length], width: 1.6 },
    marker: { size: 3 },
    hovertemplate: "%{fullData.name}: %{y:.3g}<extra></extra>",
  }));
  const layout = baseLayout(
    el,
    tr("charts.accum.title"),
    tr("charts.accum.x"),
    tr("charts.accum.y"),
  );
  layout.showlegend = true;
  layout.legend = { font: { size: 10 }, orientation: "v", x: 1.01, y: 1 };
  layout.margin.r = 84;
  layout.xaxis.range = [0.5, idx.events.length + 0.5];
  layout.yaxis.rangemode = "tozero";
  layout.hovermode = "x";
  return Plotly.react(el, traces, layout, CONFIG);
}

// ---- training loss, and the series' forecast -----------------------------------------------

/** The series as the trace encoded it, back in its own units: s(1) … s(T+1). */
function seriesValues(trace) {
  const { inputs, targets, scale } = trace;
  const shown = inputs.map((row) => inSeriesUnits(row[0], scale));
  shown.push(inSeriesUnits(targets[targets.length - 1]?.[0], scale));
  return shown;
}

function loss(Plotly, v) {
  const el = v.c.loss;
  const run = v.training;
  if (!run || !Array.isArray(run.losses)) {
    message(Plotly, el, "charts.loss.empty");
    return null;
  }
  clearMessage(el);
  const layout = baseLayout(el, tr("charts.loss.title"), tr("charts.loss.x"), tr("charts.loss.y"));
  const traces = [
    {
      type: "scatter",
      mode: "lines",
      x: run.iterations,
      y: run.losses,
      line: { color: PALETTE.forward, width: 2 },
      hovertemplate: `${tr("charts.loss.x")} %{x}: %{y:.4g}<extra></extra>`,
    },
  ];
  const trace = v.index.trace;
  const series = trace.scale && Array.isArray(run.predictions);
  el.dataset.forecast = String(Boolean(series));
  if (!series) {
    el.style.height = "";
    return Plotly.react(el, traces, layout, CONFIG);
  }
  // the series in its own units, the prediction made at each step for the next value, and
  // the forecast after the end (/train's `forecast`: each prediction fed back as the next input)
  const observed = seriesValues(trace);
  const n = observed.length;
  // as many values ahead as the series has (at least the table's): further out, a ReLU
  // network's free running grows without bound and would squash the series into a line
  const ahead = Math.max(FORECAST_COLUMNS, n);
  const next = Array.isArray(run.forecast) ? run.forecast.slice(0, ahead) : [];
  const stacked = el.clientWidth < 560;
  el.style.height = stacked ? "480px" : "";
  const room = Math.floor(((el.clientWidth || 400) * (stacked ? 0.92 : 0.44)) / CHAR_PX.title);
  const title = (text, x, y) => ({
    text: wrap(text, room).text,
    x,
    y,
    xref: "paper",
    yref: "paper",
    xanchor: "left",
    yanchor: "bottom",
    showarrow: false,
    font: { size: 13 },
    align: "left",
  });
  layout.title = { text: "" };
  layout.margin = { l: 52, r: 14, t: 30, b: 40 };
  layout.showlegend = true;
  layout.legend = {
    orientation: "h",
    x: stacked ? 0 : 0.56,
    y: stacked ? -0.12 : -0.2,
    font: { size: 10 },
  };
  if (stacked) {
    layout.yaxis.domain = [0.7, 1];
    layout.xaxis.title.standoff = 2;
    layout.xaxis2 = { anchor: "y2", title: { text: tr("charts.forecast.x"), standoff: 4 } };
    layout.yaxis2 = {
      anchor: "x2",
      domain: [0.14, 0.48],
      title: { text: tr("charts.forecast.y") },
    };
    layout.annotations = [
      title(tr("charts.loss.title"), 0, 1.0),
      title(tr("charts.forecast.title"), 0, 0.5),
    ];
    layout.legend = { orientation: "h", x: 0, y: 0, yanchor: "top", font: { size: 10 } };
    layout.margin.b = 56;
  } else {
    layout.xaxis.domain = [0, 0.42];
    layout.xaxis2 = { anchor: "y2", domain: [0.56, 1], title: { text: tr("charts.forecast.x") } };
    layout.yaxis2 = { anchor: "x2", title: { text: tr("charts.forecast.y") } };
    layout.annotations = [
      title(tr("charts.loss.title"), 0, 1.0),
      title(tr("charts.forecast.title"), 0.5, 1.0),
    ];
    layout.margin.b = 70;
  }
  traces[0].showlegend = false;
  const hover = (key) => `${tr(key)} %{x}: %{customdata}<extra></extra>`;
  traces.push({
    type: "scatter",
    mode: "lines+markers",
    x: range(n),
    y: observed,
    xaxis: "x2",
    yaxis: "y2",
    name: tr("charts.forecast.observed"),
    customdata: observed.map((x) => num(x, 4)),
    line: { color: PALETTE.ink, width: 1.5 },
    marker: { size: 6, color: PALETTE.ink },
    hovertemplate: hover("charts.forecast.observed"),
  });
  traces.push({
    type: "scatter",
    mode: "markers",
    x: range(run.predictions.length).map((k) => k + 1),
    y: run.predictions,
    xaxis: "x2",
    yaxis: "y2",
    name: tr("charts.forecast.predicted"),
    customdata: run.predictions.map((x) => num(x, 4)),
    marker: { size: 8, symbol: "circle-open", color: PALETTE.backward, line: { width: 2 } },
    hovertemplate: hover("charts.forecast.predicted"),
  });
  if (next.length) {
    traces.push({
      type: "scatter",
      mode: "lines+markers",
      x: [n, ...range(next.length).map((k) => n + k)],
      y: [observed[n - 1], ...next],
      xaxis: "x2",
      yaxis: "y2",
      name: tr("charts.forecast.continued"),
      customdata: [num(observed[n - 1], 4), ...next.map((x) => num(x, 4))],
      line: { color: PALETTE.update, width: 2, dash: "dash" },
      marker: { size: 7, symbol: "diamond", color: PALETTE.update },
      hovertemplate: hover("charts.forecast.continued"),
    });
    layout.shapes = [
      {
        type: "rect",
        xref: "x2",
        yref: "paper",
        x0: n + 0.5,
        x1: n + next.length + 0.5,
        y0: stacked ? 0.14 : 0,
        y1: stacked ? 0.48 : 1,
        fillcolor: "rgba(0, 158, 115, 0.07)",
        line: { width: 0 },
      },
    ];
  }
  return Plotly.react(el, traces, layout, CONFIG);
}

// ---- the marks of the current event --------------------------------------------------------

/** The plain element over a plot that marks the current event (made once, moved per step). */
function markOf(el) {
  const host = el.querySelector(".svg-container");
  if (!host || !el._fullLayout) return null;
  let mark = el._bpttMark;
  if (!mark || mark.parentNode !== host) {
    mark = document.createElement("div");
    mark.className = "chart-mark";
    mark.setAttribute("aria-hidden", "true");
    Object.assign(mark.style, {
      position: "absolute",
      pointerEvents: "none",
      boxSizing: "border-box",
      border: `2px solid ${PALETTE.current}`,
      borderRadius: "2px",
    });
    host.appendChild(mark);
    el._bpttMark = mark;
  }
  return mark;
}

/** Place a mark over data coordinates [x0, x1] × [y0, y1] (null: the whole height/width). */
function place(el, mark, x0, x1, y0, y1) {
  const xa = el._fullLayout.xaxis;
  const ya = el._fullLayout.yaxis;
  const px = (x) => xa._offset + xa.l2p(x);
  const py = (y) => ya._offset + ya.l2p(y);
  const [left, right] =
    x0 === null
      ? [xa._offset, xa._offset + xa._length]
      : [Math.min(px(x0), px(x1)), Math.max(px(x0), px(x1))];
  const [top, bottom] =
    y0 === null
      ? [ya._offset, ya._offset + ya._length]
      : [Math.min(py(y0), py(y1)), Math.max(py(y0), py(y1))];
  const style = {
    display: "block",
    left: `${left}px`,
    top: `${top}px`,
    width: `${Math.max(2, right - left)}px`,
    height: `${Math.max(2, bottom - top)}px`,
  };
  for (const [k, val] of Object.entries(style)) if (mark.style[k] !== val) mark.style[k] = val;
  mark.dataset.x0 = String(x0);
  mark.dataset.y0 = String(y0);
}

function hide(mark) {
  if (mark && mark.style.display !== "none") mark.style.display = "none";
}

/** Move the marks of the current event (cheap: a few style writes per chart). */
export function marks(v) {
  if (!v.index) return;
  const { i, ev } = currentEvent(v);
  const T = v.index.T;
  const g = v.c.gradNorms;
  const gm = markOf(g);
  if (gm) place(g, gm, ev.t - 0.45, ev.t + 0.45, null, null);
  const f = v.c.errorFlow;
  const fm = markOf(f);
  if (fm) {
    if (ev.kind === "backward") {
      // the losses this step's error comes from: those of its window, from step t on
      const windows = v.index.trace.windows || [];
      const w = windows[ev.update];
      const last = w ? w.t_update : T;
      const first = Math.max(ev.t, w && ev.update > 0 ? windows[ev.update - 1].t_update + 1 : 1);
      place(f, fm, ev.t - 0.5, ev.t + 0.5, first - 0.5, last + 0.5);
    } else if (ev.kind === "forward") place(f, fm, 0.5, ev.t + 0.5, ev.t - 0.5, ev.t + 0.5);
    else hide(fm);
  }
  const a = v.c.accum;
  const am = markOf(a);
  if (am) {
    place(a, am, i + 1, i + 1, null, null);
    am.style.borderWidth = "0 0 0 2px";
  }
  for (const el of [g, f, a]) el.dataset.markEvent = String(i);
}
