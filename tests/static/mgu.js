// The page module of the test-only cell tests/mgu_cell.py (a minimal gated unit with a
// peephole-style diagonal p_f): what a new cell adds to the page, beside its engine module and
// its catalogue keys. The product ships no MGU: tests/test_page_new_cell.py serves this file as
// static/js/cells/mgu.js to a browser it drives, and the page loads it by the cell's name.
//     f = σ(W_f h(t−1) + p_f ⊙ h(t−1) + U_f x(t) + b_f)
//     n = tanh(W_h (f ⊙ h(t−1)) + U_h x(t) + b_h)
//     h(t) = (1 − f) ⊙ h(t−1) + f ⊙ n
import { L } from "../text/label.js";
import { mi, mo, oneMinus, row, squared } from "../text/mathml.js";

export default {
  name: "mgu",
  state: ["h"],
  choosesActivation: false,
  // the same letters and labels as the LSTM's f and the GRU's candidate n
  gates: {
    f: { plain: L("f"), coursera: L("Γ", "f") },
    n: { plain: L("n"), d2l: L("h", "", "tilde"), coursera: L("c", "", "tilde") },
  },
  paramLabel(name) {
    return name === "p_f" ? L("p", "f") : null;
  },
  paramSubscripts: { coursera: { h: "c" }, haykin: { h: "n" } },
  negated: [],
  gatedPrev: { fh_prev: { gate: "f", note: "ws.row.fh" } },
  tanhGates: ["n"],

  equation: {
    forward(w, ev, t, { hTerm, xTerm, hPrev }) {
      const f = () => w.gate("f", t);
      const fh = w.term(hPrev, row(mo("("), f(), mo("⊙"), w.v("h", t - 1), mo(")")));
      return [
        {
          id: "gate-f",
          math: [
            w.term([`node-gate-f-${t}`], f()),
            mo("="),
            w.fn("σ", ...w.affine("f", hTerm(), xTerm()), mo("+"), w.p("p_f"), mo("⊙"), hTerm()),
            mo("="),
            w.vec(ev.gates?.f, "gates.f"),
          ],
        },
        {
          id: "gate-n",
          math: [
            w.term([`node-gate-n-${t}`], w.gate("n", t)),
            mo("="),
            w.fn("tanh", ...w.affine("n", fh, xTerm(), "h")),
            mo("="),
            w.vec(ev.gates?.n, "gates.n"),
          ],
        },
        {
          id: "h",
          math: [
            w.term([`node-h-${t}`], w.v("h", t)),
            mo("="),
            ...oneMinus(f()),
            mo("⊙"),
            hTerm(),
            mo("+"),
            f(),
            mo("⊙"),
            w.gate("n", t),
            mo("="),
            w.vec(ev.h, "h"),
          ],
        },
      ];
    },

    fromNext(w, t, nextIds) {
      return w.term(nextIds, ...w.throughGates(t + 1), mo("+"), mi("…"));
    },

    backward(w, _ev, t, { g, sig, deltaLine }) {
      const dh = () => w.v("dh", t);
      const hPrev = () => w.term([`node-h-${t - 1}`], w.v("h", t - 1));
      const fromN = [mo("("), w.pT("W_h"), w.delta("n", t), mo(")")];
      return [
        deltaLine("n", dh(), mo("⊙"), w.gate("f", t), mo("⊙"), ...oneMinus(squared(g("n")))),
        deltaLine(
          "f",
          mo("("),
          dh(),
          mo("⊙"),
          mo("("),
          g("n"),
          mo("−"),
          hPrev(),
          mo(")"),
          mo("+"),
          ...fromN,
          mo("⊙"),
          hPrev(),
          mo(")"),
          mo("⊙"),
          ...sig("f"),
        ),
      ];
    },
  },

  neuron: {
    symbol(base, rest, { t, lab, v, gate, delta, product }) {
      const name = rest ? `${base}.${rest}` : base;
      const pf = () => lab(L("p", "f"), null);
      const symbols = {
        "dh_next.direct": () => [lab(v("dh"), t + 1), " · (1 − ", lab(gate("f"), t + 1), ")"],
        "dh_next.through_f": () => [
          product("W_h", "deltas.n", t + 1),
          " · ",
          lab(gate("f"), t + 1),
        ],
        "dh_next.peephole": () => [pf(), " · ", lab(delta("f"), t + 1)],
        dfh: () => [product("W_h", "deltas.n", t)],
        df: () => [lab(L("df"))],
        "df.direct": () => [lab(v("dh")), " · (", lab(gate("n")), " − ", lab(v("h"), t - 1), ")"],
        "df.through_h": () => [product("W_h", "deltas.n", t), " · ", lab(v("h"), t - 1)],
        n_minus_h_prev: () => [lab(gate("n")), " − ", lab(v("h"), t - 1)],
        one_minus_f: () => ["1 − ", lab(gate("f"))],
        p_f: () => [pf()],
      };
      return symbols[name]?.() ?? null;
    },
    words: { "dh_next.direct": "neuron.w.direct" },
  },
};
