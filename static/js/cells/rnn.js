// The vanilla RNN on the page (engine/cells/rnn.py): a(t) = W h(t−1) + U x(t) + b,
// h(t) = φ(a(t)), φ the request's activation; δ(t) = φ′(a(t)) ⊙ (Vᵀ g_o(t) + Wᵀ δ(t+1)).
// Its parameters name no gate: each notation has its own names for W, U and b.
import { L } from "../text/label.js";
import { mi, mo, row } from "../text/mathml.js";

const PARAMS = {
  d2l: { W: L("W", "hh"), U: L("W", "xh"), b: L("b", "h") },
  coursera: { W: L("W", "aa"), U: L("W", "ax"), b: L("b", "a") },
  haykin: { W: L("W", "a"), U: L("W", "b"), b: L("b") },
};

export default {
  name: "rnn",
  state: ["h"],
  choosesActivation: true,
  gates: {},

  /** W, U and b by the notation's own names (W_hh, W_aa, W_a, …). */
  paramLabel(name, notation) {
    const kind = name.split("_")[0];
    return PARAMS[notation]?.[kind] ?? L(kind);
  },

  equation: {
    /** a(t) and h(t) = φ(a(t)). */
    forward(w, ev, t, { hTerm, xTerm, act }) {
      return [
        {
          id: "a",
          math: [
            w.term([`node-h-${t}`], w.v("a", t)),
            mo("="),
            w.p("W"),
            hTerm(),
            mo("+"),
            w.p("U"),
            xTerm(),
            mo("+"),
            w.p("b"),
            mo("="),
            w.vec(ev.a, "a"),
          ],
        },
        {
          id: "h",
          math: [
            w.term([`node-h-${t}`], w.v("h", t)),
            mo("="),
            w.fn(act, w.v("a", t)),
            mo("="),
            w.vec(ev.h, "h"),
          ],
        },
      ];
    },

    /** The error h(t) receives from step t+1: Wᵀ δ(t+1). */
    fromNext(w, t, nextIds) {
      return w.term(nextIds, w.pT("W"), w.delta(null, t + 1));
    },

    /**
     * δ(t) = φ′(a(t)) ⊙ (Vᵀ g_o(t) + Wᵀ δ(t+1)); below a stack's top layer, which has no
     * output, δ(t) = φ′(a(t)) ⊙ dh(t), the sum of the line above (from the layer above and
     * from t+1).
     */
    backward(w, ev, t, { act }) {
      // φ′ with a prime of full size beside the name (as a superscript it shrank to a speck,
      // and tanh′(a) read as tanh(a))
      const prime = row(mi(act), mo("′", { class: "prime", lspace: "0", rspace: "0" }));
      const head = [
        w.term([w.nodeId("h", t)], w.delta(null, t)),
        mo("="),
        prime,
        mo("("),
        w.v("a", t),
        mo(")"),
        mo("⊙"),
      ];
      if (w.layer < w.layers) {
        return [{ id: "delta", math: [...head, w.v("dh", t), mo("="), w.vec(ev.delta, "delta")] }];
      }
      return [
        {
          id: "delta",
          math: [
            ...head,
            mo("("),
            w.pT("V"),
            w.v("g_o", t),
            mo("+"),
            ...w.xiFactor(t + 1), // randomized truncation's ξ(t+1), as in dh(t)'s line
            w.pT("W"),
            w.delta(null, t + 1),
            mo(")"),
            mo("="),
            w.vec(ev.delta, "delta"),
          ],
        },
      ];
    },
  },

  neuron: {
    /** The error from t+1 reaches unit j through W alone. */
    symbol(base, rest, ctx) {
      if (base === "dh_next" && !rest) return [ctx.product("W", "delta", ctx.t + 1)];
      return null;
    },

    /**
     * The RNN's rule in the notation, with symbols only: δ_j(t) = φ′(a_j(t)) [Σ_k V_kj g_k(t) +
     * Σ_k W_kj δ_k(t+1)]; Haykin's δ_j(n) = φ′(v_j(n)) [e_j(n) + Σ_k w_kj δ_k(n+1)], e_j(n) =
     * Σ_k C_kj e_k(n) being the error his hidden neuron j receives from the output neurons.
     */
    formula(view, { at, weight, unitLabel, v, sub }) {
      const sum = () => ["Σ", sub("k"), " "];
      const parts = [at(v("delta"), "t"), " = φ′(", at(v("a"), "t"), ") [ "];
      parts.push(...sum(), weight("V"), " ", unitLabel(v("g_o"), "k", "t"));
      if (view.next) {
        parts.push(" + ", ...sum(), weight("W"), " ", unitLabel(v("delta"), "k", "t+1"));
      }
      parts.push(" ]");
      return parts;
    },
  },
};
