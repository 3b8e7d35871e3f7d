// Reading a trace: indexes from (window, t) to events, and the display scales of the views.
// No mathematics: it only picks fields of the API's result and finds the largest magnitude
// of the values a view draws, to scale its colours.
import { DEFAULT_CELL } from "../cells/index.js";

function maxAbs(values, acc = 0) {
  let m = acc;
  if (values === null || values === undefined) return m;
  if (typeof values === "number") return Math.max(m, Math.abs(values));
  if (Array.isArray(values)) {
    for (const v of values) m = maxAbs(v, m);
    return m;
  }
  if (typeof values === "object") {
    for (const v of Object.values(values)) m = maxAbs(v, m);
  }
  return m;
}

export { maxAbs };

/** How many examples a trace's mini-batch holds (data.batch), or 0 for one sequence. */
export function batchSize(trace) {
  return trace?.sizes?.n ?? 0;
}

/**
 * The steps whose loss update u injects: the API's loss_steps after the step of the update
 * before it, up to its own (a truncated window looks back further, but injects only its new
 * steps' losses). With the "mean" reduction the window's loss is divided by n times their
 * number (CONTRACT.md); they are picked from the trace, none is computed.
 */
export function lossStepsOf(trace, u) {
  const windows = trace?.windows || [];
  if (!windows[u]) return [];
  const after = u > 0 ? (windows[u - 1]?.t_update ?? 0) : 0;
  return (trace.loss_steps || []).filter((t) => t > after && t <= windows[u].t_update);
}

// The fields of a mini-batch's trace that hold one entry per example (CONTRACT.md): a view of
// example e reads entry e of each, as it reads the field of one sequence.
const PER_EXAMPLE = ["inputs", "targets", "step_losses"];

/**
 * One example of a mini-batch as a trace of one sequence: its forward and backward events and
 * the update events (which belong to the whole batch), its inputs, targets, step losses and
 * diagnostics; the rest (the updates, whose gradient is the sum of every example's share) is
 * the batch's. Every number is the API's: events are picked, none is made.
 */
export function exampleTrace(trace, example) {
  const view = { ...trace, batch: trace };
  view.events = (trace.events || []).filter((ev) => ev.kind === "update" || ev.example === example);
  for (const key of PER_EXAMPLE) if (Array.isArray(trace[key])) view[key] = trace[key][example];
  view.diagnostics = trace.example_diagnostics?.[example] ?? trace.diagnostics;
  return view;
}

/** A training run's predictions (one list per example of a batch) for one example. */
export function exampleTraining(training, example) {
  if (!training || !batchSize(training.trace)) return training;
  const pick = (v) => (Array.isArray(v) ? v[example] : v);
  return {
    ...training,
    predictions: pick(training.predictions),
    continuation: pick(training.continuation),
    forecast: pick(training.forecast),
  };
}

export class TraceIndex {
  /**
   * trace: the API's result; example: which example of a mini-batch the views show (0-based,
   * as the API numbers them): the index then reads that example's events and numbers only
   * (exampleTrace), and `batch` is the whole trace (null for one sequence).
   */
  constructor(trace, example = 0) {
    this.n = batchSize(trace);
    this.example = this.n ? Math.max(0, Math.min(this.n - 1, example)) : 0;
    this.batch = this.n ? trace : null;
    if (this.n) trace = exampleTrace(trace, this.example);
    this.trace = trace;
    this.events = trace.events || [];
    this.cell = trace.config?.cell || DEFAULT_CELL;
    this.sizes = trace.sizes;
    this.T = trace.sizes.T;
    // a stack of layers (num_layers > 1): the events carry their layer, 1-based, bottom first;
    // one layer's events carry none (its layer is 1, the top)
    this.layers = trace.sizes.layers ?? 1;
    this.windows = trace.windows || [];
    // forwardAt: the top layer's (the one the output reads); forwardIn[layer - 1]: each layer's
    this.forwardIn = Array.from({ length: this.layers }, () => new Array(this.T + 1).fill(-1));
    this.forwardAt = this.forwardIn[this.layers - 1];
    this.backwardAt = new Map(); // "update:t" (a stack: "update:t:layer") -> event index
    this.updateAt = []; // update i -> event index
    this.windowOfEvent = new Array(this.events.length).fill(0);
    this.events.forEach((ev, i) => {
      if (ev.kind === "forward") this.forwardIn[this.layerOf(ev) - 1][ev.t] = i;
      else if (ev.kind === "backward")
        this.backwardAt.set(this.backwardKey(ev.update, ev.t, ev.layer), i);
      else if (ev.kind === "update") this.updateAt[ev.update] = i;
    });
    // A forward event belongs to the window whose update comes next.
    let w = 0;
    this.events.forEach((ev, i) => {
      if (ev.kind === "forward") {
        while (w < this.windows.length - 1 && ev.t > this.windows[w].t_update) w += 1;
        this.windowOfEvent[i] = w;
      } else {
        this.windowOfEvent[i] = ev.update ?? w;
      }
    });
    this.detail = this.detectDetail();
    this.scales = this.computeScales();
  }

  /** "full" when contributions are matrices, "norms" when the API sent their norms. */
  detectDetail() {
    const ev = this.events.find((e) => e.kind === "backward");
    if (!ev?.contrib) return "full";
    const first = Object.values(ev.contrib)[0];
    return typeof first === "number" || first === null ? "norms" : "full";
  }

  computeScales() {
    let err = 0;
    let delta = 0;
    // the errors that flow between steps: dh_next, and each other state's (the LSTM's dc_next)
    const carried = (this.trace.cell_spec?.state || []).slice(1).map((s) => `d${s}_next`);
    for (const ev of this.events) {
      if (ev.kind !== "backward") continue;
      err = maxAbs(ev.dh_out, maxAbs(ev.dh_next, maxAbs(ev.dh_above, err)));
      for (const key of carried) err = maxAbs(ev[key], err);
      delta = maxAbs(ev.delta ?? ev.deltas, delta);
    }
    let h = 0;
    let c = 0;
    for (const ev of this.events) {
      if (ev.kind !== "forward") continue;
      h = maxAbs(ev.h, h);
      if (ev.c) c = maxAbs(ev.c, c);
    }
    // (each heatmap is coloured on its own scale at its event: heatmaps.js)
    return { err: err || 1, delta: delta || 1, h: h || 1, c: c || 1 };
  }

  event(i) {
    return this.events[i];
  }

  /** The layer of an event (1 for one layer's, and for an update: it has none). */
  layerOf(ev) {
    return ev?.layer ?? 1;
  }

  backwardKey(update, t, layer) {
    return this.layers > 1 ? `${update}:${t}:${layer ?? this.layers}` : `${update}:${t}`;
  }

  /** The forward event of step t of a layer (the top one, which the output reads, by default). */
  forward(t, layer = this.layers) {
    const i = this.forwardIn[layer - 1]?.[t] ?? -1;
    return i >= 0 ? this.events[i] : null;
  }

  /** True when h(t) of a layer (the top one by default) has been computed by event index i. */
  computed(t, i, layer = this.layers) {
    const at = this.forwardIn[layer - 1]?.[t] ?? -1;
    return t === 0 || (at >= 0 && at <= i);
  }

  /** Event indexes of the backward steps of event i's window reached so far (i included). */
  backwardSoFar(i) {
    const ev = this.events[i];
    if (!ev || ev.kind === "forward") return [];
    const update = ev.update;
    const out = [];
    for (let k = i; k >= 0; k -= 1) {
      const e = this.events[k];
      if (e.kind === "forward") break;
      if (e.kind === "backward" && e.update === update) out.push(k);
      if (e.kind === "update" && e.update !== update) break;
    }
    return out;
  }

  /**
   * The backward event of step t in the current window, if already reached by event i; of a
   * layer of a stack (by default the layer of event i, or the top one at an update).
   */
  backwardReached(t, i, layer = null) {
    const ev = this.events[i];
    if (!ev || ev.kind === "forward") return null;
    const k = this.backwardAt.get(this.backwardKey(ev.update, t, layer ?? ev.layer));
    return k !== undefined && k <= i ? this.events[k] : null;
  }

  windowOf(i) {
    return this.windows[this.windowOfEvent[i]] || null;
  }

  /**
   * Index of the first event of a kind at step t (lessons and tests jump with it); of a layer
   * of a stack when given (else the first, whatever its layer).
   */
  find(kind, t, update = null, layer = null) {
    return this.events.findIndex(
      (e) =>
        e.kind === kind &&
        (t === null || e.t === t) &&
        (update === null || e.update === update) &&
        (layer === null || this.layerOf(e) === layer),
    );
  }

  /** A token as drawn: white space made visible (␣ for a space, ↵ for a new line). */
  static shown(token) {
    return String(token ?? "")
      .replace(/ /g, "␣")
      .replace(/\n/g, "↵")
      .replace(/\t/g, "⇥");
  }

  /** The token or value of x(t) and of the target y(t), as the API encoded them. */
  tokens(t) {
    const { vocab, inputs, targets, scale } = this.trace;
    if (vocab) {
      const row = inputs[t - 1] || [];
      const id = row.indexOf(1);
      return { x: id >= 0 ? vocab[id] : "", y: vocab[targets[t - 1]] ?? "" };
    }
    if (scale) return { x: inputs[t - 1]?.[0], y: targets[t - 1]?.[0], scaled: true };
    return { x: null, y: targets[t - 1] };
  }
}
