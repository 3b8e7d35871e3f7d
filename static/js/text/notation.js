// Notation: the same numbers under four labelings (Goodfellow, d2l, Coursera, and Haykin's
// neuron-level form). Pure data and small renderers; a label is {b: base, s: subscript,
// acc: "hat"|"tilde"|null, post: suffix}.
//
// Haykin writes time n, the input u(n), the state x(n) (the outputs of the hidden neurons), the
// induced local field v(n), the weights W_a (recurrent), W_b (input) and C (output), the
// desired response d(n), the output error e(n) = d(n) − y(n), and the local gradient
// δ = −∂ℰ/∂v: the opposite sign of this page's δ = ∂L/∂a. In that notation the page shows
// every error quantity in Haykin's sign (errorSign; the neuron view asks the API for
// "convention": "haykin"), and the gradients' accumulators stay gradients, dW = −Σ δ xᵀ.
// What a cell is made of (its gates, parameters and the factors of each contribution) is not
// written here: it comes with every trace as `cell_spec` (docs/trace-format.md), and the
// functions below that need it take that spec. What only the page knows of a cell (its gates'
// and parameters' names in each notation) is its module's (static/js/cells/).
import { cellModule, gatedPrevOf, gateLabelOf } from "../cells/index.js";
import { L } from "./label.js";

export const NOTATIONS = ["goodfellow", "d2l", "coursera", "haykin"];

// The error quantities of a backward event (gradients of the loss): the ones whose sign
// Haykin's convention flips (his δ = −∂ℰ/∂v, e = −∂ℰ/∂y).
const ERRORS = /^(g_o|dh|dh_out|dh_next|dh_prev|delta|deltas(\..*)?|dc|dc_next|dc_from_h|dx)$/;

/**
 * The sign an error quantity (a backward event's field: "g_o", "dh_next", "delta",
 * "deltas.f", ...) is shown with: −1 in Haykin's notation, whose δ is −∂ℰ/∂v, else 1. A
 * relabelling of the trace's numbers, not a computation: the page says so once (nota.sign).
 */
export function errorSign(field, notation) {
  return notation === "haykin" && ERRORS.test(field) ? -1 : 1;
}

/** A value or vector of an error quantity as the notation shows it (see errorSign). */
export function shownError(value, field, notation) {
  if (errorSign(field, notation) === 1) return value;
  const flip = (v) => (typeof v === "number" ? (v === 0 ? 0 : -v) : v);
  return Array.isArray(value) ? value.map(flip) : flip(value);
}

/** The time variable of the notation: n in Haykin's, t elsewhere. */
export function timeVar(notation) {
  return notation === "haykin" ? "n" : "t";
}

/** A time index as the notation writes it: "t−1" becomes "n−1" in Haykin's; numbers as is. */
export function timeIndex(time, notation) {
  if (time === null || time === undefined) return time;
  const text = String(time).replace(/-/g, "−");
  return notation === "haykin" ? text.replace(/\bt\b/g, "n") : text;
}

// A sign in front of the base ("1−Γ" for the GRU's z = 1 − Γ_u, "−W" for its weights) is part
// of `b`, so a renderer that knows nothing of signs still writes it; splitSign separates it.

/** [sign, base] of a label's base: ["1−", "Γ"] for "1−Γ", ["", "W"] for "W". */
export function splitSign(label) {
  const m = /^(1?−)(.+)$/.exec(label.b);
  return m ? [m[1], m[2]] : ["", label.b];
}

// The gate a parameter belongs to, from its engine name ("W_f" -> "f", the GRU's "W_h" -> "h"):
// the suffix of the name; its delta's key is in the spec (the GRU candidate's is "n").
const suffix = (name) => name.split("_").slice(1).join("_");
const kindOf = (name) => name.split("_")[0];

/**
 * Label of a parameter (engine name such as "W", "U_f", "b_y") of a cell. A stack's layer
 * j >= 2 (W_l2, U_f_l3) is its layer-1 parameter's label with "_l<j>" after its subscript, as
 * the API names it (W_l2, W_f_l3; d2l's W_xf_l3), so that no two layers read alike.
 */
export function paramLabel(name, cell, notation) {
  const layer = /_l(\d+)$/.exec(name);
  if (layer) {
    const base = paramLabel(name.slice(0, layer.index), cell, notation);
    return { ...base, s: base.s ? `${base.s}_l${layer[1]}` : `l${layer[1]}` };
  }
  if (name === "V" || name === "b_y") {
    if (notation === "d2l") return name === "V" ? L("W", "hq") : L("b", "q");
    if (notation === "coursera") return name === "V" ? L("W", "ya") : L("b", "y");
    if (notation === "haykin") return name === "V" ? L("C") : L("b", "y");
    return name === "V" ? L("V") : L("b", "y");
  }
  const kind = kindOf(name);
  const own = cellModule(cell);
  const named = own?.paramLabel?.(name, notation); // a cell's own names (the RNN's W_hh, …)
  if (named) return named;
  const gate = suffix(name);
  // the subscript the notation gives the gate's parameters (d2l's and Coursera's candidate c)
  const g = own?.paramSubscripts?.[notation]?.[gate] || gate;
  if (notation === "d2l") {
    return { W: L("W", `h${g}`), U: L("W", `x${g}`), b: L("b", g) }[kind] ?? L(kind, g);
  }
  if (notation === "coursera") {
    // Coursera writes one matrix W_k·[a(t−1), x(t)]: the engine's W_k and U_k are its two
    // blocks of columns, the one that multiplies a and the one that multiplies x.
    const sign = own?.negated?.includes(gate) ? "−" : "";
    if (kind === "b") return L(`${sign}b`, g);
    return L(`${sign}W`, g, null, kind === "W" ? "[:,a]" : "[:,x]");
  }
  if (notation === "haykin") {
    return { W: L("W", `a,${g}`), U: L("W", `b,${g}`), b: L("b", g) }[kind] ?? L(kind, g);
  }
  return L(kind, gate);
}

/** A gate's label: its cell module's (static/js/cells/), else its letter. */
export function gateLabel(gate, notation) {
  return gateLabelOf(gate, notation) || L(gate);
}

// State and signal labels. In Coursera's notation the hidden state is a and the
// pre-activation, which that course leaves unnamed, is written z.
// Goodfellow et al. and Dive into Deep Learning name the states and signals alike.
const PLAIN_VARS = {
  x: L("x"),
  h: L("h"),
  c: L("c"),
  a: L("a"),
  o: L("o"),
  yhat: L("y", "", "hat"),
  y: L("y"),
  L: L("L"),
  delta: L("δ"),
  g_o: L("g", "o"),
  dh: L("dh"),
  dc: L("dc"),
};

const VARS = {
  goodfellow: PLAIN_VARS,
  d2l: PLAIN_VARS,
  coursera: {
    x: L("x"),
    h: L("a"),
    c: L("c"),
    a: L("z"),
    o: L("o"),
    yhat: L("y", "", "hat"),
    y: L("y"),
    L: L("L"),
    delta: L("dz"),
    g_o: L("g", "o"),
    dh: L("da"),
    dc: L("dc"),
  },
  // Haykin: u input, x state, v induced local field, d desired response, ℰ cost; the errors in
  // his sign: e = d − y at the outputs (−g_o), ε = e + W_aᵀ δ(n+1) reaching a hidden neuron
  // (−dh), δ = φ′(v) ε (−δ of the other notations)
  haykin: {
    x: L("u"),
    h: L("x"),
    c: L("c"),
    a: L("v"),
    o: L("o"),
    yhat: L("y"),
    y: L("d"),
    L: L("ℰ"),
    delta: L("δ"),
    g_o: L("e"),
    dh: L("ε"),
    dc: L("ε", "c"),
  },
};

export function varLabel(name, notation) {
  return (VARS[notation] || VARS.goodfellow)[name] || L(name);
}

/**
 * The local gradient of a gate (or of the RNN's pre-activation, gate null; the generic gate
 * "k" too): δ_f (Goodfellow, d2l: δ_c̃ for the candidate), and in Coursera the names of its
 * LSTM assignment, dΓ_f, dΓ_u, dc̃, dΓ_o (gradients with respect to the gates' pre-activations),
 * −dΓ_u for the GRU's z (its pre-activation is minus Γ_u's), dz for the RNN.
 */
export function deltaLabel(gate, notation) {
  const d = varLabel("delta", notation);
  if (!gate) return d;
  if (notation === "coursera") {
    if (gate === "k") return L("dΓ", "k");
    const g = gateLabel(gate, notation);
    const [sign, base] = splitSign(g);
    // the accent belongs to the symbol, not to the d: d c̃ is "dc̃", not a tilde over "dc"
    return L(`${sign ? "−" : ""}d${base}${g.acc ? ACCENT[g.acc] : ""}`, g.s);
  }
  const g = gateLabel(gate, notation);
  return L(d.b, g.s ? `${g.b}${g.s}` : g.b + (g.acc ? ACCENT[g.acc] : ""));
}

/** How a time index is written: h(3) (Goodfellow, Haykin's x(3)), h_3 (d2l), a⟨3⟩ (Coursera). */
export function timeStyle(notation) {
  if (notation === "d2l") return "sub";
  if (notation === "coursera") return "angle";
  return "paren";
}

export const ACCENT = { hat: "\u0302", tilde: "\u0303" };

/**
 * {base, sub, sup, post}: the base with its accent, the subscript, the superscript (or ""),
 * and what follows them (Coursera's block of columns "[:,a]", written after the subscript).
 */
export function labelParts(label, notation = "goodfellow", time = null) {
  const when = time === null || time === undefined ? null : timeIndex(time, notation);
  const style = timeStyle(notation);
  const sub = [label.s, when !== null && style === "sub" ? when : ""].filter(Boolean).join(",");
  let sup = "";
  if (when !== null && style === "paren") sup = `(${when})`;
  if (when !== null && style === "angle") sup = `⟨${when}⟩`;
  return { base: label.b + (ACCENT[label.acc] || ""), sub, sup, post: label.post || "" };
}

/** Plain text of a label, optionally with a time index: "W_hh", "h(3)", "a⟨2⟩", "W_o[:,a]". */
export function labelText(label, notation = "goodfellow", time = null) {
  const { base, sub, sup, post } = labelParts(label, notation, time);
  return `${base}${sub ? `_${sub}` : ""}${post}${sup}`;
}

/**
 * The symbols the catalogue's texts of the charts and the legend write ({Lt}, {ht}, {hk},
 * {LT}, {h}), in a notation: "L(t)", "h(k)", "h" (Goodfellow), "L_t", "a⟨k⟩", "a",
 * Haykin's "ℰ(n)", "x(k)", "x".
 */
export function symbolArgs(notation) {
  const L = varLabel("L", notation);
  const h = varLabel("h", notation);
  return {
    h: labelText(h, notation),
    Lt: labelText(L, notation, "t"),
    LT: labelText(L, notation, "T"),
    ht: labelText(h, notation, "t"),
    hk: labelText(h, notation, "k"),
  };
}

/** The gradient of a label: "dW_hh", and "−dW_u" for a negated one (d(−W) = −dW). */
export function gradLabel(label) {
  const [sign, base] = splitSign(label);
  return { ...label, b: `${sign}d${base}` };
}

/** The gradient name shown above an accumulator, e.g. "dW_hh". */
export function gradText(name, cell, notation) {
  return labelText(gradLabel(paramLabel(name, cell, notation)), notation);
}

// ---- drawn from the trace's cell_spec ------------------------------------------------------

/** The gate a factor path names ("deltas.f" -> "f"), null for "delta" and "g_o". */
export function gateOfPath(path) {
  return path.startsWith("deltas.") ? path.slice(7) : null;
}

/** The value at a dotted path of an event ("deltas.f" is event.deltas.f), or undefined. */
export function readPath(event, path) {
  let value = event;
  for (const part of path.split(".")) value = value?.[part];
  return value;
}

/** Parameter names of a cell in the spec's order (the order of the trace's params). */
export function specParams(spec) {
  return Object.keys(spec?.params || {});
}

/** The layer of a stack a parameter belongs to, from its name: W_f_l2 -> 2, W_f (and V) -> 1. */
export function paramLayer(name) {
  const m = /_l(\d+)$/.exec(name);
  return m ? Number(m[1]) : 1;
}

/**
 * The cell_spec of one layer of a stack (its params only, and the output's V and b_y at the
 * top, the layer the output reads); one layer's spec as it is. `layers`: the stack's height.
 */
export function layerSpec(spec, layer, layers) {
  if (!spec || layers <= 1) return spec;
  const params = Object.fromEntries(
    Object.entries(spec.params || {}).filter(
      ([name, p]) => paramLayer(name) === layer && (p.factors?.[0] !== "g_o" || layer === layers),
    ),
  );
  return { ...spec, params };
}

/** The gates of a cell, from its spec. */
export function gatesOf(spec) {
  return spec?.gates || [];
}

/**
 * The accumulators as the page shows them: one group per card. In Coursera's notation a gated
 * cell's W_k and U_k (the same left factor, two right factors) are one matrix W_k·[a, x] and
 * one card; everywhere else each parameter is its own card. Each group: {id, names, left,
 * rights}, `rights` the members' right paths in order (null for a bias).
 */
export function paramGroups(spec, notation) {
  const merge = notation === "coursera" && gatesOf(spec).length > 0;
  const groups = [];
  const byLeft = new Map();
  for (const name of specParams(spec)) {
    const [left, right] = spec.params[name].factors;
    // a diagonal (a peephole's p_f ⊙ h) is no block of columns of W_k·[a, x]: its own card
    const diagonal = spec.params[name].kind === "diagonal";
    const mergeable = merge && right !== null && left !== "g_o" && !diagonal;
    if (mergeable && byLeft.has(left)) {
      const g = byLeft.get(left);
      g.names.push(name);
      g.rights.push(right);
      continue;
    }
    const group = { id: name, names: [name], left, rights: [right] };
    groups.push(group);
    if (mergeable) byLeft.set(left, group);
  }
  return groups;
}

/** Label of a group: the parameter's own, or Coursera's W_k for a merged W_k·[a, x]. */
export function groupLabel(group, notation, cell) {
  const label = paramLabel(group.names[0], cell, notation);
  return group.names.length > 1 ? { ...label, post: "" } : label;
}

/** Label of a right factor at step t: h(t−1), x(t), h(t), and a gate ⊙ h(t−1) (GRU's r ⊙ h). */
export function rightText(path, notation, t = "t") {
  const prev = typeof t === "number" ? t - 1 : `${t}−1`;
  if (path === "h_prev") return labelText(varLabel("h", notation), notation, prev);
  if (path === "x") return labelText(varLabel("x", notation), notation, t);
  if (path === "h") return labelText(varLabel("h", notation), notation, t);
  const gated = gatedPrevOf(path);
  if (gated) {
    const r = labelText(gateLabel(gated.gate, notation), notation, t);
    return `${r} ⊙ ${labelText(varLabel("h", notation), notation, prev)}`;
  }
  return path;
}

/**
 * Label of a left factor at step t: δ(t), δ_f(t) (dΓ_f⟨t⟩ in Coursera), g_o(t); in Haykin's
 * notation −δ(n) and −e(n), since a gradient's factor is ∂ℰ/∂v = −δ (leftLabel).
 */
export function leftText(path, notation, t = "t") {
  return labelText(leftLabel(path, notation), notation, t);
}

/** The label of a contribution's left factor (a path of the cell_spec), sign included. */
export function leftLabel(path, notation) {
  const label = path === "g_o" ? varLabel("g_o", notation) : deltaLabel(gateOfPath(path), notation);
  return errorSign(path, notation) === -1 ? { ...label, b: `−${label.b}` } : label;
}

/** A group's contribution as an outer product: "δ_f(t) h(t−1)ᵀ", "dΓ_f⟨t⟩ [a⟨t−1⟩; x⟨t⟩]ᵀ". */
export function contribText(group, notation, t = "t") {
  const left = leftText(group.left, notation, t);
  const rights = group.rights.filter((r) => r !== null);
  if (!rights.length) return left;
  if (rights.length === 1) {
    const r = rightText(rights[0], notation, t);
    return gatedPrevOf(group.rights[0]) ? `${left} (${r})ᵀ` : `${left} ${r}ᵀ`;
  }
  return `${left} [${rights.map((r) => rightText(r, notation, t)).join("; ")}]ᵀ`;
}
