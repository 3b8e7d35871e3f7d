// The GRU on the page (engine/cells/gru.py): z and r (σ), the candidate
// n = tanh(W_h (r ⊙ h(t−1)) + U_h x(t) + b_h), h(t) = z ⊙ h(t−1) + (1 − z) ⊙ n. Its z keeps
// the old state; Coursera's update gate Γ_u weighs the candidate, so z = 1 − Γ_u there, and
// z's parameters are Coursera's negated (W_z = −W_u, b_z = −b_u).
import { L } from "../text/label.js";
import { mi, mo, oneMinus, row, squared } from "../text/mathml.js";

/** Coursera's own update gate Γ_u (= 1 − z), in which that notation writes the GRU. */
const COURSERA_UPDATE = L("Γ", "u");

export default {
  name: "gru",
  state: ["h"],
  choosesActivation: false,
  gates: {
    z: { plain: L("z"), coursera: L("1−Γ", "u") },
    r: { plain: L("r"), coursera: L("Γ", "r") },
    n: { plain: L("n"), d2l: L("h", "", "tilde"), coursera: L("c", "", "tilde") },
  },
  // the candidate's parameters are W_h, U_h, b_h: d2l's h̃, Coursera's c̃, Haykin's n
  paramSubscripts: { d2l: { n: "h" }, coursera: { z: "u", n: "c", h: "c" }, haykin: { h: "n" } },
  negated: ["z"],
  gatedPrev: { rh_prev: { gate: "r", note: "ws.row.rh" } },
  tanhGates: ["n"],

  equation: {
    /** z and r, the candidate n, and h(t). */
    forward(w, ev, t, { hTerm, xTerm, hPrev }) {
      const lines = [];
      for (const g of ["z", "r"]) {
        lines.push({
          id: `gate-${g}`,
          math: [
            w.term([`node-gate-${g}-${t}`], w.gate(g, t)),
            mo("="),
            w.fn("σ", ...w.affine(g, hTerm(), xTerm())),
            ...w.overflowed(g, "σ", ev),
            mo("="),
            w.vec(ev.gates?.[g], `gates.${g}`),
          ],
        });
      }
      const reset = w.term(hPrev, row(w.gate("r", t), mo("⊙"), w.v("h", t - 1)));
      const candidate = w.coursera
        ? w.affine("n", reset, xTerm(), "h")
        : [
            w.p("W_h"),
            mo("("),
            reset,
            mo(")"),
            mo("+"),
            w.p("U_h"),
            xTerm(),
            ...w.affine("n", null, null, "h").slice(-2),
          ];
      lines.push({
        id: "gate-n",
        math: [
          w.term([`node-gate-n-${t}`], w.gate("n", t)),
          mo("="),
          w.fn("tanh", ...candidate),
          ...w.overflowed("n", "tanh", ev),
          mo("="),
          w.vec(ev.gates?.n, "gates.n"),
        ],
      });
      const hNew = [w.term([`node-h-${t}`], w.v("h", t)), mo("=")];
      if (w.coursera) {
        // Coursera's own form: the update gate Γ_u = 1 − z weighs the candidate
        const gu = () => w.label(COURSERA_UPDATE, t);
        hNew.push(gu(), mo("⊙"), w.gate("n", t), mo("+"), ...oneMinus(gu()), mo("⊙"), hTerm());
      } else {
        const z = () => w.gate("z", t);
        hNew.push(z(), mo("⊙"), hTerm(), mo("+"), ...oneMinus(z()), mo("⊙"), w.gate("n", t));
      }
      lines.push({ id: "h", math: [...hNew, mo("="), w.vec(ev.h, "h")] });
      return lines;
    },

    /** Σ_k W_kᵀ δ_k(t+1) through the gates, and more: h(t) also carries over directly. */
    fromNext(w, t, nextIds) {
      return w.term(nextIds, ...w.throughGates(t + 1), mo("+"), mi("…"));
    },

    /** δ_n, δ_z, δ_r; in Coursera's notation with Γ_u = 1 − z. */
    backward(w, _ev, t, { g, sig, deltaLine }) {
      const hPrevTerm = () => w.term([`node-h-${t - 1}`], w.v("h", t - 1));
      // 1 − z and z(1 − z); in Coursera's notation Γ_u and Γ_u(1 − Γ_u), since Γ_u = 1 − z
      const gu = () => w.term([`node-gate-z-${t}`], w.label(COURSERA_UPDATE, t));
      const keep = w.coursera ? [gu()] : oneMinus(g("z"));
      const zSlope = w.coursera ? [gu(), ...oneMinus(w.label(COURSERA_UPDATE, t))] : sig("z");
      const dh = () => w.v("dh", t);
      const tanhSlope = oneMinus(squared(g("n")));
      const hMinusN = [mo("("), hPrevTerm(), mo("−"), g("n"), mo(")")];
      const fromN = [mo("("), w.pT("W_h"), w.delta("n", t), mo(")")];
      return [
        deltaLine("n", dh(), mo("⊙"), ...keep, mo("⊙"), ...tanhSlope),
        deltaLine("z", dh(), mo("⊙"), ...hMinusN, mo("⊙"), ...zSlope),
        deltaLine("r", ...fromN, mo("⊙"), hPrevTerm(), mo("⊙"), ...sig("r")),
      ];
    },
  },

  neuron: {
    /** h(t) carried over by z, the error through the reset gate, and the candidate's terms. */
    symbol(base, rest, { t, lab, v, gate, product }) {
      if (base === "dh_next" && rest === "direct") {
        return [lab(v("dh"), t + 1), " · ", lab(gate("z"), t + 1)];
      }
      if (base === "dh_next" && rest === "reset") {
        return [product("W_h", "deltas.n", t + 1), " · ", lab(gate("r"), t + 1)];
      }
      if (base === "drh") return [product("W_h", "deltas.n", t)];
      if (base === "h_prev_minus_n") return [lab(v("h"), t - 1), " − ", lab(gate("n"))];
      if (base === "one_minus_z") return ["1 − ", lab(gate("z"))];
      return null;
    },
    words: {
      "dh_next.direct": "neuron.w.direct",
      "dh_next.reset": "neuron.w.reset",
      drh: "neuron.w.drh",
    },
  },
};
