// The compare view's rules, apart from its drawing (no DOM): which set-ups a comparison shows,
// which event of each set-up goes with the timeline's event, and which of the API's numbers
// point out their differences. Every number is read from the traces; nothing is recomputed.
//
// One timeline for every column. It walks the events of the leading set-up: the one whose
// trace has the most events (a truncated trace, which passes backward once per window), the
// first on a tie (every cell, and both losses, have the same schedule). Each column then shows
// its event of the same kind at the same t: the n-th such event when the leader's is its n-th
// (a truncated trace passes backward through step t once per window that covers it), else its
// last one. A column with no event of that kind at that t (full BPTT has no update after
// step 2) shows its event of that kind with the nearest t, the earlier on a tie, and says so.
import { cellModule, cellNames, DEFAULT_CELL } from "../cells/index.js";
import { COMPARES } from "../state/state.js";
import { batchSize, lossStepsOf } from "../state/trace.js";

export { COMPARES };

// The truncation compared with full BPTT when the scenario has none: the controls' own start.
export const DEFAULT_TRUNCATION = Object.freeze({ k1: 3 });

/**
 * The set-ups of a comparison: the scenario with the compared field set, in display order.
 * [{id, scenario, label: {key, args}}]; ids name the columns (highlight targets "lstm:…").
 * Comparing cells: every cell the page has a module for (cells/index.js). An initial state
 * of a state vector another cell lacks (the LSTM's c0), and a scenario's explicit weights,
 * belong to one cell: the other cells draw theirs from the seed (dropped: true says so).
 */
export function setupsOf(mode, scenario) {
  const base = structuredClone(scenario || {}); // "train" too: every column trains as much
  if (mode === "cell") {
    const own = base.cell || DEFAULT_CELL;
    const initial = new Set(
      cellNames().flatMap((cell) => cellModule(cell).state.map((v) => `${v}0`)),
    );
    return cellNames().map((cell) => {
      const s = { ...structuredClone(base), cell };
      const kept = new Set(cellModule(cell).state.map((v) => `${v}0`));
      const foreign = [...initial].filter((key) => !kept.has(key) && key in s);
      const dropped = foreign.length > 0 || (cell !== own && "params" in s);
      for (const key of foreign) delete s[key];
      if (cell !== own) delete s.params;
      return { id: cell, scenario: s, label: { key: `cmp.setup.${cell}` }, dropped };
    });
  }
  if (mode === "loss_at") {
    return ["every", "last"].map((at) => ({
      id: at,
      scenario: { ...structuredClone(base), loss_at: at },
      label: { key: `cmp.setup.${at}` },
    }));
  }
  if (mode === "reduction") {
    // "why 1/n?": the same losses added up, and averaged as PyTorch's reduction="mean" does
    return ["sum", "mean"].map((reduction) => ({
      id: reduction,
      scenario: { ...structuredClone(base), reduction },
      label: { key: `cmp.setup.${reduction}` },
    }));
  }
  if (mode === "bug") {
    // the hunt (bughunt.js): the true backward pass beside the one with the planted bug
    const { bug, ...truth } = structuredClone(base);
    return [
      { id: "true", scenario: truth, label: { key: "cmp.setup.true" } },
      { id: "bugged", scenario: { ...truth, bug }, label: { key: "cmp.setup.bugged" } },
    ];
  }
  if (mode === "depth") {
    // one layer against the scenario's stack (two layers when it has one): the error through
    // depth beside the error through time alone. Explicit weights and initial rows belong to
    // one shape: the other column draws its own from the seed (dropped: true says so).
    const layers = base.num_layers > 1 ? base.num_layers : 2;
    const own = base.num_layers > 1 ? "deep" : "one";
    return [
      { id: "one", num_layers: 1, label: { key: "cmp.setup.oneLayer" } },
      { id: "deep", num_layers: layers, label: { key: "cmp.setup.layers", args: { k: layers } } },
    ].map(({ id, num_layers, label }) => {
      const s = { ...structuredClone(base), num_layers };
      const foreign = id !== own && ["params", "h0", "c0"].some((key) => key in s);
      if (id !== own) for (const key of ["params", "h0", "c0"]) delete s[key];
      if (num_layers === 1) delete s.num_layers;
      else delete s.bug; // the bug hunt runs on one layer (the API refuses it for a stack)
      return { id, scenario: s, label, dropped: foreign };
    });
  }
  if (mode === "truncation") {
    const trunc = base.truncation || DEFAULT_TRUNCATION;
    // a randomized truncation takes the fixed one's column (its id too): its gradient beside
    // full BPTT's, named by its p
    const randomized = trunc.mode === "randomized";
    const label = randomized
      ? { key: "cmp.setup.randomized", args: { p: trunc.p } }
      : { key: "cmp.setup.truncated", args: { k1: trunc.k1, k2: trunc.k2 ?? trunc.k1 } };
    return [
      { id: "full", scenario: { ...base, truncation: null }, label: { key: "cmp.setup.full" } },
      {
        id: "truncated",
        scenario: { ...structuredClone(base), truncation: structuredClone(trunc) },
        label,
        ...(randomized ? { randomized: true } : {}),
      },
    ];
  }
  return [];
}

/** The set-up whose events the timeline walks: the most events, the first on a tie. */
export function leaderOf(indexes) {
  let best = 0;
  indexes.forEach((idx, k) => {
    if (idx.events.length > indexes[best].events.length) best = k;
  });
  return best;
}

/** How many events of the same kind at the same t come before event i (0 for the first). */
export function ordinalOf(index, i) {
  const ev = index.events[i];
  let n = 0;
  for (let k = 0; k < i; k += 1) {
    const e = index.events[k];
    if (e.kind === ev.kind && e.t === ev.t) n += 1;
  }
  return n;
}

/**
 * The event of a set-up that goes with the leader's event {kind, t} (its n-th of that kind at
 * that t): {i, exact}. exact is false when the set-up has no such event and shows its event of
 * the same kind with the nearest t instead.
 */
export function matchEvent(index, { kind, t }, n = 0) {
  const same = [];
  let nearest = -1;
  let gap = Infinity;
  index.events.forEach((e, i) => {
    if (e.kind !== kind) return;
    if (e.t === t) same.push(i);
    const d = Math.abs(e.t - t);
    if (d < gap || (d === gap && e.t < index.events[nearest].t)) {
      gap = d;
      nearest = i;
    }
  });
  if (same.length) return { i: same[Math.min(n, same.length - 1)], exact: true };
  if (nearest >= 0) return { i: nearest, exact: false };
  return { i: 0, exact: false };
}

const last = (list) => list[list.length - 1];

/**
 * The numbers of the current event, as the API sent them: the step's loss (forward), the error
 * reaching h(t) with its two sources (backward: the lengths of the error vectors dh, dh_out and
 * dh_next, the event's `norms`, as the network's strands are labelled), the update's gradient
 * norm and loss.
 * [{key, value, args}]
 */
export function eventNumbers(index, i) {
  const ev = index.events[i];
  if (!ev) return [];
  if (ev.kind === "forward") {
    return [
      {
        key: ev.loss_injected ? "cmp.num.loss" : "cmp.num.lossOff",
        value: ev.loss,
        args: { t: ev.t },
      },
    ];
  }
  if (ev.kind === "backward") {
    const norms = ev.norms ?? {}; // the engine's lengths of the error vectors
    // a lower layer of a stack has no output of its own: its error comes from the layer above
    // (the API's norm of dh_above, as every strand's; none is computed here)
    const below = ev.layer && ev.layer < (index.layers ?? 1);
    return [
      { key: "cmp.num.dh", value: norms.dh ?? null, args: { t: ev.t }, id: "dh" },
      below
        ? {
            key: "cmp.num.dhAbove",
            value: norms.dh_above ?? null,
            args: { t: ev.t, j: ev.layer + 1 },
            id: "dh_above",
          }
        : { key: "cmp.num.dhOut", value: norms.dh_out ?? null, args: { t: ev.t }, id: "dh_out" },
      {
        key: "cmp.num.dhNext",
        value: norms.dh_next ?? null,
        args: { t: ev.t, next: ev.t + 1 },
        id: "dh_next",
      },
    ];
  }
  const u = index.trace.updates?.[ev.update];
  return [
    { key: "cmp.num.gradNorm", value: u?.grad_norm ?? null, args: { u: ev.update + 1 } },
    { key: "cmp.num.windowLoss", value: u?.loss ?? null, args: { u: ev.update + 1 } },
  ];
}

/**
 * What the "mean" reduction divides update u's loss by, from the trace: n (sizes.n, 1 for one
 * sequence) times the steps whose loss the update injects; 1 for the "sum". {n, steps, by}.
 */
export function divisorOf(trace, u = 0) {
  const n = batchSize(trace) || 1;
  const steps = lossStepsOf(trace, u).length;
  return { n, steps, by: trace.config?.reduction === "mean" ? n * steps : 1 };
}

/**
 * The numbers of the whole pass: the error of the last loss reaching h(1) (error_flow, the
 * API's own norm), the loss of the pass, the updates and, for a truncated set-up, the cosine
 * and relative error between its gradient and full BPTT's (diagnostics.full_vs_truncated).
 * Comparing reductions, the error of one loss is the same in both (error_flow is L(T)'s own,
 * unweighted): the first update's gradient norm and what its loss was divided by instead.
 */
export function passNumbers(trace, mode = null) {
  if (mode === "reduction") return reductionNumbers(trace);
  const T = trace.sizes.T;
  const flow = trace.diagnostics?.error_flow;
  const rows = [
    {
      // a randomized truncation's diagnostics are the network's own flows, before ξ (DESIGN.md):
      // said so, not read as what its pass carried back
      key: Array.isArray(trace.xi) ? "cmp.num.flowFirstOwn" : "cmp.num.flowFirst",
      value: flow ? (last(flow)?.[0] ?? null) : null,
      args: { T },
      id: "flow_first",
    },
    { key: "cmp.num.passLoss", value: trace.loss, id: "loss" },
    { key: "cmp.num.updates", value: trace.updates?.length ?? 0, id: "updates", count: true },
  ];
  const fvt = trace.diagnostics?.full_vs_truncated;
  if (fvt) {
    rows.push({ key: "cmp.num.cosine", value: fvt.cosine, id: "cosine" });
    rows.push({ key: "cmp.num.relError", value: fvt.relative_error, id: "relative_error" });
  }
  return rows;
}

/** A reduction's column: its loss, its first update's gradient norm and divisor, updates. */
function reductionNumbers(trace) {
  const { n, steps, by } = divisorOf(trace, 0);
  return [
    { key: "cmp.num.passLoss", value: trace.loss, id: "loss" },
    {
      key: "cmp.num.gradNorm",
      value: trace.updates?.[0]?.grad_norm ?? null,
      args: { u: 1 },
      id: "grad_norm",
    },
    trace.config?.reduction === "mean"
      ? { key: "cmp.num.divisorMean", value: by, args: { n, steps }, id: "divisor", count: true }
      : { key: "cmp.num.divisorSum", value: by, id: "divisor", count: true },
    { key: "cmp.num.updates", value: trace.updates?.length ?? 0, id: "updates", count: true },
  ];
}

/**
 * The row of numbers drawn under each column's name, one per step k: how much of the last
 * loss reaches h(k) (error_flow's last row: the fade of a vanishing gradient, the cut of a
 * truncation), or, comparing where the loss is or how it is reduced, how much each step adds
 * to the gradient (step_grad_norms: with a loss at the last step only, the early steps add
 * little; with the mean, each adds its window's 1/(n·steps) of the sum's, before the weights
 * of the two part).
 */
export function stripOf(mode, trace) {
  const d = trace.diagnostics;
  if (!d) return { key: null, values: [] };
  // comparing where the loss is, or its weight: how much each step adds to the gradient
  if (mode === "loss_at" || mode === "reduction") {
    return { key: "cmp.strip.stepGrad", values: d.step_grad_norms || [] };
  }
  return {
    key: Array.isArray(trace.xi) ? "cmp.strip.flowOwn" : "cmp.strip.flow",
    values: (last(d.error_flow || []) || []).map((v) => v ?? 0),
    args: { T: trace.sizes.T },
  };
}
