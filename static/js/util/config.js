// Every visual constant in one place, mirrored as CSS custom properties (applyCssVars).
// Colours: a colour-blind-safe diverging scale (blue for negative, orange-red for positive,
// after ColorBrewer's RdBu reversed and Okabe–Ito accents), never red against green.

export const PALETTE = {
  ink: "#1b1f24",
  paper: "#ffffff",
  panel: "#f5f7fa",
  rule: "#d5dbe3",
  muted: "#5b6673",
  accent: "#1f4e79",
  forward: "#0072b2", // Okabe–Ito blue: the forward pass
  backward: "#d55e00", // Okabe–Ito vermillion: errors flowing back
  update: "#009e73", // Okabe–Ito bluish green: the weight update
  current: "#e69f00", // Okabe–Ito orange: the current event
  window: "rgba(0, 114, 178, 0.07)",
  cut: "#cc3311",
  noLoss: "#b8c0ca",
};

// Diverging scale stops from -1 to +1 (RdBu, reversed so that positive is warm).
export const DIVERGING = [
  [-1.0, "#2166ac"],
  [-0.5, "#67a9cf"],
  [-0.15, "#d1e5f0"],
  [0.0, "#f7f7f7"],
  [0.15, "#fddbc7"],
  [0.5, "#ef8a62"],
  [1.0, "#b2182b"],
];

export const SIZES = {
  // The unrolled network, at scale 1; it is drawn at a scale of minScale..maxScale that fills
  // its panel (geometry.js networkLayout).
  colWidth: 64, // px per timestep column
  colMin: 46, // narrowest column before the network scrolls horizontally
  margin: { left: 40, right: 44, top: 24, bottom: 18 }, // right: room for a strand's norm
  row: 50, // vertical distance between rows of nodes
  node: 15, // radius of a state node
  gate: 8, // radius of a gate node
  gateGap: 3, // space between gate nodes
  minScale: 0.85,
  maxScale: 2.4,
  netHeight: 0.5, // share of the window's height the network may take
  netHeightMin: 200, // ... but at least this many px
  strandMax: 4.2, // widest error strand
  strandMin: 1,
  strandSpread: 14, // px across which a bundle's H strands spread
  strandStep: 3.2, // largest distance between two strands
  errDrawMs: 450, // the error running along its strands when a backward event is shown
  vecCell: 5, // height of one entry of a node's value strip
  heatCellMax: 14, // largest heatmap cell
  heatCellMin: 2,
  heatWidth: 150, // widest heatmap drawing
  heatHeight: 112, // tallest heatmap drawing
  maxVectorShown: 16, // entries of a vector written out in the equation panel
};

// The printable worksheet (worksheet.js) writes every number of a pass: small scenarios only.
export const WORKSHEET = {
  maxSteps: 8, // T: "machine" (6) and words of up to 9 letters
  maxHidden: 4, // H: the default, "machine"'s
  maxInputs: 8, // D and K
  maxAcross: 8, // numbers across an A4 page: wider tables are split (worksheet.js)
  digits: 4, // significant digits of its numbers
};

// A series' forecast: its first values as columns of the predictions table (the chart shows
// all of them).
export const FORECAST_COLUMNS = 3;

// The page asks the engine for ρ(W) of every parameter version (spectral_radii) up to this
// hidden size: one H×H eigenvalue problem per matrix and update, a few ms each at H = 64.
export const SPECTRAL_MAX_H = 16;

export const TIMING = {
  playSpeeds: [0.5, 1, 2, 4, 8], // events per second multipliers
  playBaseMs: 700, // one event at speed 1
  urlDebounceMs: 250,
  chartDebounceMs: 140,
  quietMs: 1500, // plotly.js loads and charts draw only after this long without input
  idleTimeoutMs: 500, // longest wait for an idle period once the page is quiet
};

const hexToRgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
const STOPS = DIVERGING.map(([at, hex]) => [at, hexToRgb(hex)]);

/** Colour of a value in [-1, 1] on the diverging scale (values outside are clamped). */
export function diverging(u) {
  if (u === null || u === undefined || Number.isNaN(u)) return "#cccccc";
  const v = Math.max(-1, Math.min(1, u));
  for (let k = 1; k < STOPS.length; k += 1) {
    const [a, ca] = STOPS[k - 1];
    const [b, cb] = STOPS[k];
    if (v <= b) {
      const f = (v - a) / (b - a || 1);
      const c = ca.map((x, j) => Math.round(x + f * (cb[j] - x)));
      return `rgb(${c[0]},${c[1]},${c[2]})`;
    }
  }
  return DIVERGING[DIVERGING.length - 1][1];
}

// The same scale as a table of 257 RGB triples for painting canvases pixel by pixel.
const LUT_SIZE = 256;
export const DIVERGING_LUT = (() => {
  const lut = new Uint8ClampedArray((LUT_SIZE + 1) * 3);
  for (let k = 0; k <= LUT_SIZE; k += 1) {
    const rgb = diverging((2 * k) / LUT_SIZE - 1)
      .match(/\d+/g)
      .map(Number);
    lut.set(rgb, k * 3);
  }
  return lut;
})();

/** Index into DIVERGING_LUT of a value in [-1, 1] (clamped); -1 for a missing value. */
export function lutIndex(u) {
  if (u === null || u === undefined || Number.isNaN(u)) return -1;
  const v = Math.max(-1, Math.min(1, u));
  return Math.round(((v + 1) / 2) * LUT_SIZE);
}

export const SEQUENTIAL = [
  [0, "#f7fbff"],
  [0.3, "#c6dbef"],
  [0.6, "#6baed6"],
  [0.85, "#2171b5"],
  [1, "#08306b"],
];

/** Colour of u in [0, 1] on the sequential scale (clamped): how large a value is, not its sign. */
export function sequential(u) {
  const v = Math.max(0, Math.min(1, u));
  for (let k = 1; k < SEQUENTIAL.length; k += 1) {
    const [a, ha] = SEQUENTIAL[k - 1];
    const [b, hb] = SEQUENTIAL[k];
    if (v <= b) {
      const f = (v - a) / (b - a || 1);
      const c = hexToRgb(ha).map((x, j) => Math.round(x + f * (hexToRgb(hb)[j] - x)));
      return `rgb(${c[0]},${c[1]},${c[2]})`;
    }
  }
  return SEQUENTIAL[SEQUENTIAL.length - 1][1];
}

// The compare view (compare.js): a step's cell in the strip under each column's name.
export const COMPARE = {
  stripCell: 10, // width of one step in the strip's drawing units
  stripHeight: 14,
  zero: "#eef1f4", // nothing of the error reaches this step (cut off by truncation)
};

/** Write the palette and sizes as CSS custom properties on the document root. */
export function applyCssVars(root = document.documentElement) {
  for (const [name, value] of Object.entries(PALETTE)) {
    root.style.setProperty(`--${name.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)}`, value);
  }
  root.style.setProperty("--node-r", `${SIZES.node}px`);
}
