// Pure layout maths for the views: positions and sizes only, no DOM, no data values.
import { SIZES } from "./config.js";

/**
 * Rows of the unrolled network from top to bottom, from the trace's cell_spec (docs/trace-format.md):
 * the loss, the output, the cell's state vectors (h, and the LSTM's c), a row of gates when the
 * cell has any, the input. A stack of layers repeats the state and gate rows once a layer, the
 * top layer's first (under the output that reads it), layer 1's last (over the input it reads).
 */
export function rowsOf(spec, layers = 1) {
  const state = spec?.state?.length ? spec.state : ["h"];
  const block = [...state, ...(spec?.gates?.length ? ["gates"] : [])];
  const stacked = [];
  for (let j = layers; j >= 1; j -= 1) stacked.push(...block.map((name) => layerRow(name, j)));
  return ["L", "yhat", ...stacked, "x"];
}

/** The row of a layer's state or gates: its own name for layer 1, "h_l2", "gates_l3" above. */
export function layerRow(name, layer) {
  return layer > 1 ? `${name}_l${layer}` : name;
}

/**
 * Layout of the unrolled network: column 0 holds the initial state h(0) (and c(0)), columns
 * 1..T the timesteps. The drawing fills the panel: `available` is the panel's width and
 * `maxHeight` the height it may take. One scale factor (SIZES.minScale..maxScale) sizes nodes,
 * rows, strands and type alike, as large as both the width and the height allow; columns then
 * spread to fill the width. Past the smallest scale the drawing scrolls (T up to 200) rather
 * than let nodes overlap. `spec` is the trace's cell_spec (its state and gates make the rows).
 */
export function networkLayout({ T, spec, available, maxHeight = Infinity, layers = 1 }) {
  const rows = rowsOf(spec, layers);
  const gates = spec?.gates?.length || 0;
  const firstCol = 0.6; // column 0 is narrower: it holds only the initial state
  const m0 = SIZES.margin;
  const fitAt = (k) => (available - (m0.left + m0.right) * k) / (T + firstCol);
  const scale = Math.max(
    SIZES.minScale,
    Math.min(SIZES.maxScale, fitAt(1) / SIZES.colWidth, maxHeight / baseHeight(rows.length)),
  );
  const m = {
    left: m0.left * scale,
    right: m0.right * scale,
    top: m0.top * scale,
    bottom: m0.bottom * scale,
  };
  const node = SIZES.node * scale;
  const gate = SIZES.gate * scale;
  const row = SIZES.row * scale;
  const colW = Math.max(SIZES.colMin * scale, fitAt(scale));
  const width = Math.round(m.left + m.right + colW * (T + firstCol));
  const rowY = {};
  rows.forEach((name, k) => {
    rowY[name] = m.top + node + k * row;
  });
  const height = Math.round(rowY[rows[rows.length - 1]] + node + m.bottom);
  const colX = (t) =>
    m.left + colW * (firstCol / 2) + (t === 0 ? 0 : colW * (t - 0.5 + firstCol / 2));
  // gates side by side while they fit in a column, else in two rows
  const gateRows = gates && gates * (2 * gate + SIZES.gateGap * scale) > colW * 0.86 ? 2 : 1;
  return {
    T,
    rows,
    rowY,
    colW,
    width,
    height,
    colX,
    left: m.left,
    top: m.top,
    scale,
    node,
    gate,
    row,
    gates,
    gateRows,
    layers,
  };
}

/** Height of a network of n rows at scale 1 (the unit the height limit is measured in). */
export function baseHeight(n) {
  const m = SIZES.margin;
  return m.top + m.bottom + 2 * SIZES.node + (n - 1) * SIZES.row;
}

/**
 * Centres of the gate nodes of column t (LSTM f i g o; GRU z r n): one row, or two rows of
 * ceil(count / 2) when one row would not fit the column; never overlapping.
 */
export function gateSlots(layout, t, layer = 1) {
  const count = layout.gates;
  const perRow = Math.ceil(count / layout.gateRows);
  const pitch = 2 * layout.gate + SIZES.gateGap * layout.scale;
  const dy = layout.gateRows > 1 ? layout.gate + SIZES.gateGap * layout.scale * 0.5 : 0;
  return Array.from({ length: count }, (_, k) => {
    const r = Math.floor(k / perRow);
    const inRow = Math.min(perRow, count - r * perRow);
    const j = k - r * perRow;
    return {
      x: layout.colX(t) + (j - (inRow - 1) / 2) * pitch,
      y: layout.rowY[layerRow("gates", layer)] + (r === 0 ? -dy : dy),
    };
  });
}

/** Left and right edges of the band covering columns first..last. */
export function bandX(layout, first, last) {
  const half = layout.colW / 2;
  return [layout.colX(first) - half, layout.colX(last) + half];
}

/** Offsets of H parallel strands spread across `spread` pixels, centred on 0. */
export function strandOffsets(H, spread, maxStep = 3.2) {
  if (H <= 1) return [0];
  const step = Math.min(maxStep, spread / (H - 1));
  return Array.from({ length: H }, (_, j) => (j - (H - 1) / 2) * step);
}

/** Width of an error strand for a value whose size relative to the trace's largest is u. */
export function strandWidth(u) {
  const a = Math.min(1, Math.abs(u));
  return SIZES.strandMin + a * (SIZES.strandMax - SIZES.strandMin);
}

/** A smooth path from (x1, y1) to (x2, y2): straight when aligned, else a cubic S-curve. */
export function curve(x1, y1, x2, y2) {
  if (Math.abs(x1 - x2) < 0.5 || Math.abs(y1 - y2) < 0.5) return `M${x1},${y1}L${x2},${y2}`;
  const my = (y1 + y2) / 2;
  return `M${x1},${y1}C${x1},${my} ${x2},${my} ${x2},${y2}`;
}

/** Cell size of a heatmap of rows×cols that fits in maxWidth × maxHeight. */
export function heatCell(rows, cols, maxWidth = SIZES.heatWidth, maxHeight = SIZES.heatHeight) {
  const size = Math.floor(Math.min(maxWidth / Math.max(1, cols), maxHeight / Math.max(1, rows)));
  return Math.max(SIZES.heatCellMin, Math.min(SIZES.heatCellMax, size));
}

/** Position (0..100 %) of event index i on a scrubber of n events. */
export function scrubPercent(i, n) {
  return n <= 1 ? 0 : (100 * i) / (n - 1);
}

/**
 * Horizontal scroll for a viewport of width `view` at `scroll`: unchanged while [x0, x1] sits
 * in the middle 70 % of the view, else the scroll that centres it (never below 0).
 */
export function scrollToShow(x0, x1, scroll, view) {
  const margin = view * 0.15;
  if (x0 >= scroll + margin && x1 <= scroll + view - margin) return scroll;
  return Math.max(0, Math.round((x0 + x1) / 2 - view / 2));
}

/**
 * A label that fits `width` px in a monospace font of `fontPx` (a character is about 0.62 em
 * wide): the text itself, or its beginning and "…" (words as tokens in narrow columns).
 */
export function fitText(text, width, fontPx) {
  const chars = [...String(text)];
  const room = Math.max(2, Math.floor(width / (0.62 * fontPx)));
  return chars.length <= room ? chars.join("") : `${chars.slice(0, room - 1).join("")}…`;
}

/** The round number (1, 2 or 5 times a power of ten) at or above v > 0: an axis's end. */
export function niceCeil(v) {
  if (!(v > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(v));
  const step = [1, 2, 5, 10].find((m) => m * power >= v * (1 - 1e-9));
  return step * power;
}

/**
 * The frame of the spread over seeds (spread.js): relative error across from 0 (full BPTT's)
 * to a round number past the largest, cosine up to 1 (full BPTT's) from a tenth below the
 * smallest (at most 0.9, at least −1). Returns the pixel of each value, the axes' ends and ticks.
 * box: {width, height, left, right, top, bottom} in the drawing's units.
 */
export function spreadFrame(points, box) {
  const rels = points.map((p) => p.relative_error).filter(Number.isFinite);
  const coss = points.map((p) => p.cosine).filter(Number.isFinite);
  const xMax = niceCeil(Math.max(0.1, ...rels) * 1.05);
  // a tenth below the lowest dot, so that no dot sits on the axis
  const low = Math.min(1, ...coss) - 0.02;
  const yMin = Math.max(-1, Math.min(0.9, Math.floor(low * 10 - 1e-9) / 10));
  const x0 = box.left;
  const x1 = box.width - box.right;
  const y0 = box.height - box.bottom;
  const y1 = box.top;
  return {
    xMax,
    yMin,
    x: (v) => x0 + ((x1 - x0) * v) / xMax,
    y: (v) => y0 - ((y0 - y1) * (v - yMin)) / (1 - yMin),
    xTicks: [0, xMax / 2, xMax],
    yTicks: [yMin, (yMin + 1) / 2, 1],
    plot: { x0, x1, y0, y1 },
  };
}
