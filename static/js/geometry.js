// Pure layout maths for the views: positions and sizes only, no DOM, no data values.
import { SIZES } from "./config.js";

/** Rows of the unrolled network from top to bottom, per cell. */
export function rowsOf(cell) {
  if (cell === "lstm") return ["L", "yhat", "h", "c", "gates", "x"];
  if (cell === "gru") return ["L", "yhat", "h", "gates", "x"];
  return ["L", "yhat", "h", "x"];
}

/**
 * Layout of the unrolled network: column 0 holds the initial state h(0) (and c(0)), columns
 * 1..T the timesteps. `available` is the width the container offers; the drawing grows wider
 * (and scrolls) when T columns would be narrower than SIZES.colMin.
 */
export function networkLayout({ T, cell, available }) {
  const m = SIZES.margin;
  const rows = rowsOf(cell);
  const firstCol = 0.6; // column 0 is narrower: it holds only the initial state
  const fit = (available - m.left - m.right) / (T + firstCol);
  const colW = Math.max(SIZES.colMin, Math.min(SIZES.colWidth * 1.6, fit));
  const width = Math.round(m.left + m.right + colW * (T + firstCol));
  const rowY = {};
  rows.forEach((name, k) => {
    rowY[name] = m.top + SIZES.node + k * SIZES.row;
  });
  const height = Math.round(rowY[rows[rows.length - 1]] + SIZES.node + m.bottom);
  const colX = (t) => m.left + colW * (firstCol / 2) + (t === 0 ? 0 : colW * (t - 0.5 + firstCol / 2));
  return { T, cell, rows, rowY, colW, width, height, colX, left: m.left, top: m.top };
}

/** x positions of the gate nodes of column t (LSTM: f i g o; GRU: z r n). */
export function gateXs(layout, t, count) {
  const span = Math.min(layout.colW * 0.72, count * (SIZES.gate * 2 + 5));
  const step = count > 1 ? span / (count - 1) : 0;
  const x0 = layout.colX(t) - span / 2;
  return Array.from({ length: count }, (_, k) => x0 + k * step);
}

/** Left and right edges of the band covering columns first..last. */
export function bandX(layout, first, last) {
  const half = layout.colW / 2;
  return [layout.colX(first) - half, layout.colX(last) + half];
}

/** Offsets of H parallel strands spread across `spread` pixels, centred on 0. */
export function strandOffsets(H, spread) {
  if (H <= 1) return [0];
  const step = Math.min(3.2, spread / (H - 1));
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
