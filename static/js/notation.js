// Notation: the same numbers under three labelings (Goodfellow, d2l, Coursera). Pure data and
// small renderers; a label is {b: base, s: subscript, acc: "hat"|"tilde"|null}.

export const NOTATIONS = ["goodfellow", "d2l", "coursera"];

const L = (b, s = "", acc = null) => ({ b, s, acc });

// Parameter labels per notation and cell. Goodfellow uses the engine's own names.
const PARAMS = {
  d2l: {
    rnn: { W: L("W", "hh"), U: L("W", "xh"), b: L("b", "h"), V: L("W", "hq"), b_y: L("b", "q") },
    gate: { f: "f", i: "i", g: "c", o: "o", z: "z", r: "r", h: "h" },
    out: { V: L("W", "hq"), b_y: L("b", "q") },
    gated: (kind, gate) => ({ W: L("W", `h${gate}`), U: L("W", `x${gate}`), b: L("b", gate) })[kind],
  },
  coursera: {
    rnn: { W: L("W", "aa"), U: L("W", "ax"), b: L("b", "a"), V: L("W", "ya"), b_y: L("b", "y") },
    gate: { f: "f", i: "u", g: "c", o: "o", z: "z", r: "r", h: "c" },
    out: { V: L("W", "ya"), b_y: L("b", "y") },
    gated: (kind, gate) => ({ W: L("W", `${gate}a`), U: L("W", `${gate}x`), b: L("b", gate) })[kind],
  },
};

/** Label of a parameter (engine name such as "W", "U_f", "b_y"). */
export function paramLabel(name, cell, notation) {
  if (notation === "goodfellow" || !PARAMS[notation]) {
    const [b, ...rest] = name.split("_");
    return L(b, rest.join("_"));
  }
  const table = PARAMS[notation];
  if (name === "V" || name === "b_y") return table.out[name];
  if (cell === "rnn") return table.rnn[name];
  const [kind, gate] = name.split("_");
  return table.gated(kind, table.gate[gate] || gate);
}

// Gate labels: LSTM f, i, g, o; GRU z, r, n.
const GATES = {
  goodfellow: { f: L("f"), i: L("i"), g: L("g"), o: L("o"), z: L("z"), r: L("r"), n: L("n") },
  d2l: { f: L("f"), i: L("i"), g: L("c", "", "tilde"), o: L("o"), z: L("z"), r: L("r"),
    n: L("h", "", "tilde") },
  coursera: { f: L("Γ", "f"), i: L("Γ", "u"), g: L("c", "", "tilde"), o: L("Γ", "o"),
    z: L("z"), r: L("Γ", "r"), n: L("c", "", "tilde") },
};

export function gateLabel(gate, notation) {
  return (GATES[notation] || GATES.goodfellow)[gate] || L(gate);
}

// State and signal labels. In Coursera's notation the hidden state is a and the
// pre-activation, which that course leaves unnamed, is written z.
const VARS = {
  goodfellow: { x: L("x"), h: L("h"), c: L("c"), a: L("a"), o: L("o"), yhat: L("y", "", "hat"),
    y: L("y"), L: L("L"), delta: L("δ"), g_o: L("g", "o"), dh: L("dh"), dc: L("dc") },
  d2l: { x: L("x"), h: L("h"), c: L("c"), a: L("a"), o: L("o"), yhat: L("y", "", "hat"),
    y: L("y"), L: L("L"), delta: L("δ"), g_o: L("g", "o"), dh: L("dh"), dc: L("dc") },
  coursera: { x: L("x"), h: L("a"), c: L("c"), a: L("z"), o: L("o"), yhat: L("y", "", "hat"),
    y: L("y"), L: L("L"), delta: L("δ"), g_o: L("g", "o"), dh: L("da"), dc: L("dc") },
};

export function varLabel(name, notation) {
  return (VARS[notation] || VARS.goodfellow)[name] || L(name);
}

/** How a time index is written: h(3) (Goodfellow), h_3 (d2l), a⟨3⟩ (Coursera). */
export function timeStyle(notation) {
  if (notation === "d2l") return "sub";
  if (notation === "coursera") return "angle";
  return "paren";
}

const ACCENT = { hat: "\u0302", tilde: "\u0303" };

/** Plain text of a label, optionally with a time index: "W_hh", "h(3)", "a⟨2⟩". */
export function labelText(label, notation = "goodfellow", t = null) {
  let text = label.b + (label.acc ? ACCENT[label.acc] : "");
  const style = timeStyle(notation);
  const subs = [label.s].filter(Boolean);
  if (t !== null && style === "sub") subs.push(String(t));
  if (subs.length) text += `_${subs.join(",")}`;
  if (t !== null && style === "paren") text += `(${t})`;
  if (t !== null && style === "angle") text += `⟨${t}⟩`;
  return text;
}

/** The gradient name shown above an accumulator, e.g. "dW_hh". */
export function gradText(name, cell, notation) {
  return `d${labelText(paramLabel(name, cell, notation), notation)}`;
}

/** Parameter names of a cell, in the order the page shows them. */
export function paramNames(cell) {
  if (cell === "lstm") {
    return ["W_f", "U_f", "b_f", "W_i", "U_i", "b_i", "W_g", "U_g", "b_g", "W_o", "U_o", "b_o",
      "V", "b_y"];
  }
  if (cell === "gru") {
    return ["W_z", "U_z", "b_z", "W_r", "U_r", "b_r", "W_h", "U_h", "b_h", "V", "b_y"];
  }
  return ["W", "U", "b", "V", "b_y"];
}

export function gatesOf(cell) {
  if (cell === "lstm") return ["f", "i", "g", "o"];
  if (cell === "gru") return ["z", "r", "n"];
  return [];
}

/** The gate a gated parameter belongs to ("W_f" -> "f"; GRU "W_h" -> "n"), or null. */
export function gateOfParam(name, cell) {
  if (cell === "rnn" || name === "V" || name === "b_y") return null;
  const g = name.split("_")[1];
  return cell === "gru" && g === "h" ? "n" : g;
}
