// The page's registry of cells: everything the page knows about one cell lives in that cell's
// module (rnn.js, lstm.js, gru.js), and every view asks it here by the trace's cell name. What
// the engine already sends with every trace (its `cell_spec`: the state vectors, the gates,
// each parameter's shape and gradient factors) is read from the trace, never written twice;
// a module holds what only the page knows:
//
//   name              the engine's name of the cell (engine/cells/registry.py)
//   state             its state vectors, h first (the engine's STATE): the initial ones a
//                     scenario may carry (h0, c0) before any trace of that cell exists
//   choosesActivation the request's activation is its φ (only the vanilla RNN's)
//   gates             each gate's label per notation: {f: {plain: L("f"), coursera: …}}
//   paramLabel        (name, notation) → its own label of a parameter, or null (then a gate's
//                     parameters are named from their kind and gate: W_f, b_f)
//   paramSubscripts   per notation, the subscript of a gate's parameters ("W_g" is W_c in d2l)
//   negated           gates whose parameters Coursera writes negated (the GRU's z = 1 − Γ_u)
//   gatedPrev         recorded right factors that are a gate times h(t−1): {rh_prev: {gate, note}}
//   tanhGates         gates whose slope is 1 − s², not s(1 − s)
//   equation          {forward, fromNext, backward}: its lines in the equation panel, written
//                     with the panel's notation-aware writer `w` (views/equation.js: w.v, w.p,
//                     w.pT, w.pk, w.gate, w.delta, w.label, w.term, w.fn, w.affine, w.vec,
//                     w.overflowed, w.coursera) and the MathML of text/mathml.js:
//                       forward(w, ev, t, {hTerm, xTerm, hPrev, act}) → the state's lines
//                       fromNext(w, t, nextIds) → the term of dh(t)'s error from step t+1
//                       backward(w, ev, t, {g, sig, deltaLine, act}) → the δ lines
//   neuron            its own terms in the neuron view (views/neuron.js), each optional:
//                     symbol(base, rest, {t, lab, v, gate, delta, product}) → the parts of a
//                     node's symbol, or null for every cell's; words: {node name: catalogue
//                     key}; formula(view, …) → its rule in symbols (the RNN's)
//
// A gate's letter names one gate page-wide (the network's node-gate-f-3, a lesson's %gate.f),
// so two cells may share a letter only with the same labels: register refuses any other.
// A cell the engine serves without a module here is loaded from static/js/cells/<name>.js if
// there is one; without it the page says so where the cell's equations would be.
import gru from "./gru.js";
import lstm from "./lstm.js";
import rnn from "./rnn.js";

const CELLS = new Map();
const GATES = new Map(); // gate letter -> {notation: label}, from every registered cell
const GATED_PREV = new Map(); // recorded right factor -> {gate, note}

// The cell of a scenario that names none: the engine's default (engine/request/fields.py).
export const DEFAULT_CELL = rnn.name;

/** Add a cell's page module under its name; refuses a gate letter labelled otherwise. */
export function registerCell(cell) {
  for (const [gate, labels] of Object.entries(cell.gates || {})) {
    const known = GATES.get(gate);
    if (known && JSON.stringify(known) !== JSON.stringify(labels)) {
      throw new Error(`cell ${cell.name}: gate ${gate} is labelled otherwise by another cell`);
    }
    GATES.set(gate, labels);
  }
  for (const [path, right] of Object.entries(cell.gatedPrev || {})) GATED_PREV.set(path, right);
  CELLS.set(cell.name, cell);
  return cell;
}

for (const cell of [rnn, lstm, gru]) registerCell(cell);

/** The page module of a cell, or null when the page has none. */
export function cellModule(name) {
  return CELLS.get(name) ?? null;
}

/** The cells the page has a module for, in the order they were registered. */
export function cellNames() {
  return [...CELLS.keys()];
}

/**
 * The page module of `name`, loading static/js/cells/<name>.js the first time (a cell the
 * engine serves beyond the page's own); null when there is none.
 */
export async function loadCell(name) {
  if (CELLS.has(name)) return CELLS.get(name);
  if (!/^[a-z][a-z0-9_]*$/.test(name)) return null;
  try {
    return registerCell((await import(`./${name}.js`)).default);
  } catch (err) {
    console.warn(`no page module for the cell ${name}: ${err.message}`);
    return null;
  }
}

/** A gate's label in a notation (its plain letter where the notation has no other), or null. */
export function gateLabelOf(gate, notation) {
  const labels = GATES.get(gate);
  return labels ? (labels[notation] ?? labels.plain) : null;
}

/** What a recorded right factor is, when it is a gate times h(t−1) ({gate, note}), or null. */
export function gatedPrevOf(path) {
  return GATED_PREV.get(path) ?? null;
}

/** The first cell whose φ is the request's activation (the page offers ReLU with it), or null. */
export function cellChoosingActivation() {
  return [...CELLS.values()].find((cell) => cell.choosesActivation)?.name ?? null;
}
