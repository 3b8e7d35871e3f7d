// The LSTM on the page (engine/cells/lstm.py): gates f, i, o (σ) and the candidate g (tanh),
// c(t) = f ⊙ c(t−1) + i ⊙ g, h(t) = o ⊙ tanh(c(t)); a second state, c, with its own error dc
// (dc_next from step t+1, dc_from_h through h).
import { L } from "../text/label.js";
import { mi, mo, oneMinus, squared } from "../text/mathml.js";

const GATES = ["f", "i", "g", "o"];

export default {
  name: "lstm",
  state: ["h", "c"],
  choosesActivation: false,
  gates: {
    f: { plain: L("f"), coursera: L("Γ", "f") },
    i: { plain: L("i"), coursera: L("Γ", "u") },
    g: { plain: L("g"), d2l: L("c", "", "tilde"), coursera: L("c", "", "tilde") },
    o: { plain: L("o"), coursera: L("Γ", "o") },
  },
  // Coursera's names: i is the update gate u, g the candidate c̃; d2l's candidate is c̃ too
  paramSubscripts: { d2l: { g: "c" }, coursera: { i: "u", g: "c" } },
  negated: [],
  gatedPrev: {},
  tanhGates: ["g"],

  equation: {
    /** The four gates, c(t) and h(t) = o ⊙ tanh(c(t)). */
    forward(w, ev, t, { hTerm, xTerm }) {
      const lines = [];
      for (const g of GATES) {
        const f = g === "g" ? "tanh" : "σ";
        lines.push({
          id: `gate-${g}`,
          math: [
            w.term([`node-gate-${g}-${t}`], w.gate(g, t)),
            mo("="),
            w.fn(f, ...w.affine(g, hTerm(), xTerm())),
            ...w.overflowed(g, f, ev),
            mo("="),
            w.vec(ev.gates?.[g], `gates.${g}`),
          ],
        });
      }
      lines.push({
        id: "c",
        math: [
          w.term([`node-c-${t}`], w.v("c", t)),
          mo("="),
          w.gate("f", t),
          mo("⊙"),
          w.term([`node-c-${t - 1}`], w.v("c", t - 1)),
          mo("+"),
          w.gate("i", t),
          mo("⊙"),
          w.gate("g", t),
          mo("="),
          w.vec(ev.c, "c"),
        ],
      });
      lines.push({
        id: "h",
        math: [
          w.term([`node-h-${t}`], w.v("h", t)),
          mo("="),
          w.gate("o", t),
          mo("⊙"),
          w.fn("tanh", w.v("c", t)),
          mo("="),
          w.vec(ev.h, "h"),
        ],
      });
      return lines;
    },

    /** The error h(t) receives from step t+1: Σ_k W_kᵀ δ_k(t+1), through every gate. */
    fromNext(w, t, nextIds) {
      return w.term(nextIds, ...w.throughGates(t + 1));
    },

    /** δ_o, the error of c (from h and from step t+1), then δ_f, δ_i, δ_g. */
    backward(w, ev, t, { g, sig, deltaLine }) {
      const lines = [];
      const dc = () => w.v("dc", t);
      const tanhC = w.fn("tanh", w.v("c", t));
      lines.push(deltaLine("o", w.v("dh", t), mo("⊙"), tanhC, mo("⊙"), ...sig("o")));
      lines.push({
        id: "dc",
        math: [
          w.term([`node-c-${t}`], dc()),
          mo("="),
          w.v("dh", t),
          mo("⊙"),
          w.gate("o", t),
          mo("⊙"),
          ...oneMinus(squared(mi("tanh")), w.v("c", t)),
          mo("+"),
          // (randomized truncation weights it by ξ(t+1), as it does the error reaching h)
          w.term(
            [`node-c-${t + 1}`, `err-c@${t}`],
            ...w.xiFactor(t + 1),
            w.v("dc", t + 1),
            mo("⊙"),
            w.gate("f", t + 1),
          ),
          mo("="),
          w.term([`node-h-${t}`], w.vec(ev.dc_from_h, "dc_from_h")),
          mo("+"),
          w.term([`err-c@${t}`], w.vec(ev.dc_next, "dc_next")),
          mo("="),
          w.vec(ev.dc, "dc"),
        ],
      });
      const cPrev = w.term([`node-c-${t - 1}`], w.v("c", t - 1));
      lines.push(deltaLine("f", dc(), mo("⊙"), cPrev, mo("⊙"), ...sig("f")));
      lines.push(deltaLine("i", dc(), mo("⊙"), w.gate("g", t), mo("⊙"), ...sig("i")));
      const tanhSlope = oneMinus(squared(g("g")));
      lines.push(deltaLine("g", dc(), mo("⊙"), w.gate("i", t), mo("⊙"), ...tanhSlope));
      return lines;
    },
  },

  neuron: {
    /** The terms of the cell state's error: dc, its part from t+1 and its part through h. */
    symbol(base, _rest, { t, lab, v, gate }) {
      if (base === "dc") return [lab(v("dc"))];
      if (base === "dc_next") return [lab(v("dc"), t + 1), " · ", lab(gate("f"), t + 1)];
      if (base === "dc_from_h") {
        return [lab(v("dh")), " · ", lab(gate("o")), " · (1 − tanh² ", lab(v("c")), ")"];
      }
      if (base === "dtanh_c") return ["1 − tanh² ", lab(v("c"))];
      if (base === "tanh_c") return ["tanh ", lab(v("c"))];
      if (base === "c_prev") return [lab(v("c"), t - 1)];
      return null;
    },
    words: { dc: "neuron.w.dc", dc_next: "neuron.w.dcNext", dc_from_h: "neuron.w.dcFromH" },
  },
};
