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

export class TraceIndex {
  constructor(trace) {
    this.trace = trace;
    this.events = trace.events || [];
    this.cell = trace.config?.cell || DEFAULT_CELL;
    this.sizes = trace.sizes;
    this.T = trace.sizes.T;
    this.windows = trace.windows || [];
    this.forwardAt = new Array(this.T + 1).fill(-1);
    this.backwardAt = new Map(); // "update:t" -> event index
    this.updateAt = []; // update i -> event index
    this.windowOfEvent = new Array(this.events.length).fill(0);
    this.events.forEach((ev, i) => {
      if (ev.kind === "forward") this.forwardAt[ev.t] = i;
      else if (ev.kind === "backward") this.backwardAt.set(`${ev.update}:${ev.t}`, i);
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
      err = maxAbs(ev.dh_out, maxAbs(ev.dh_next, err));
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

  forward(t) {
    const i = this.forwardAt[t];
    return i >= 0 ? this.events[i] : null;
  }

  /** True when h(t) has been computed by event index i. */
  computed(t, i) {
    return t === 0 || (this.forwardAt[t] >= 0 && this.forwardAt[t] <= i);
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

  /** The backward event of step t in the current window, if already reached by event i. */
  backwardReached(t, i) {
    const ev = this.events[i];
    if (!ev || ev.kind === "forward") return null;
    const k = this.backwardAt.get(`${ev.update}:${t}`);
    return k !== undefined && k <= i ? this.events[k] : null;
  }

  windowOf(i) {
    return this.windows[this.windowOfEvent[i]] || null;
  }

  /** Index of the first event of a kind at step t (lessons and tests jump with it). */
  find(kind, t, update = null) {
    return this.events.findIndex(
      (e) =>
        e.kind === kind && (t === null || e.t === t) && (update === null || e.update === update),
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
