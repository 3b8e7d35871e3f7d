// Lesson readers: every number a lesson's text shows, and every answer a question checks, is
// read from the engine's result (the trace, a training run, compared traces) by a named reader
// here; lessons.json names the reader and its arguments, never the number. In a comparison
// the trace is the one the timeline walks; a reader with "setup" reads that set-up's instead
// (compare-plan.js names them: rnn, lstm, gru; every, last; full, truncated; sum, mean; true,
// bugged).

import { lossStepsOf } from "../state/trace.js";
import { superscript } from "../text/format.js";

const flat = (v) => (Array.isArray(v) ? v.flat(Infinity) : [v]);
const pick = (obj, path) => path.split(".").reduce((o, k) => (o == null ? o : o[k]), obj);
export const lastRow = (trace) => trace.diagnostics.error_flow.at(-1);
const stepOf = (trace, t) => (t === "T" ? trace.sizes.T : t);
const eventOf = (trace, target) =>
  trace.events.find(
    (e) =>
      e.kind === target.kind &&
      (target.t === undefined || e.t === target.t) &&
      (target.update === undefined || e.update === target.update) &&
      (target.layer === undefined || e.layer === target.layer),
  );

const READERS = {
  updates: ({ trace }) => trace.updates.length,
  updateTimes: ({ trace }) => trace.updates.map((u) => u.t).join(", "),
  loss: ({ trace }) => trace.loss,
  gradNorm: ({ trace }, r) => trace.updates[r.update].grad_norm,
  clipCoef: ({ trace }, r) => trace.updates[r.update].clip_coef,
  fvt: ({ trace }, r) => trace.diagnostics.full_vs_truncated[r.key],
  flow: ({ trace }, r) =>
    trace.diagnostics.error_flow[stepOf(trace, r.t) - 1][stepOf(trace, r.k) - 1],
  nonzero: ({ trace }, r) => flat(pick(eventOf(trace, r.event), r.field)).some((x) => x !== 0),
  contribCount: ({ trace }, r) =>
    trace.events.filter(
      (e) => e.kind === "backward" && flat(e.contrib[r.param]).some((x) => x !== 0),
    ).length,
  // the later loss t >= from whose error reaching h(k) the engine reports as largest
  flowArgmax: ({ trace }, r) => {
    const rows = trace.diagnostics.error_flow;
    let best = r.from;
    for (let t = r.from; t <= rows.length; t += 1)
      if (rows[t - 1][r.k - 1] > rows[best - 1][r.k - 1]) best = t;
    return best;
  },
  flowTrend: ({ trace }) => (lastRow(trace)[0] < lastRow(trace).at(-1) ? "fades" : "grows"),
  truncation: ({ trace }) => {
    const d = trace.diagnostics.full_vs_truncated;
    if (d.relative_error < 1e-9) return "same";
    return d.cosine >= 0.5 ? "close" : "far";
  },
  passes: ({ scenario }) => scenario.train,
  setting: ({ step }, r) => (r.of === "reveal" ? step.reveal?.scenario : step.scenario)?.[r.field],
  predictions: ({ training }) => training.predictions.join(""),
  trainLoss: ({ training }) => training.losses.at(-1),
  continuation: ({ training }) => training.continuation,
  hits: ({ trace, training }) =>
    training.predictions.filter((p, i) => p === trace.vocab[trace.targets[i]]).length,
  // the neuron view of the step (POST /api/v1/neuron, fetched by the runner): a node's number,
  // and which sends unit j more error, the output units of step t or the units of step t+1
  neuron: ({ neuron }, r) => pick(neuron, r.path),
  neuronLarger: ({ neuron }) =>
    Math.abs(neuron.dh.terms[0].value) >= Math.abs(neuron.dh.terms[1].value) ? "out" : "next",
  // where a bugged pass first parts from the true one (the engine's bug.parting): its step
  partingStep: ({ trace }) => trace.bug.parting.t,
  // a stack of layers: the length of an error vector of a backward event (its norms: dh_out,
  // dh_above, dh_next, dh), which of them reach h(t) at all ("out", "above", "next", joined
  // by "-" in that order), the error flow of a layer (1-based) and which layer keeps more of
  // L(t)'s error at step k ("top" or "bottom")
  strandNorm: ({ trace }, r) => eventOf(trace, r.event).norms[r.field],
  errorSources: ({ trace }, r) => {
    const norms = eventOf(trace, r.event).norms;
    const parts = { out: "dh_out", above: "dh_above", next: "dh_next" };
    return Object.keys(parts)
      .filter((name) => (norms[parts[name]] ?? 0) > 0)
      .join("-");
  },
  layerFlow: ({ trace }, r) =>
    trace.diagnostics.error_flow_layers[r.layer - 1][stepOf(trace, r.t) - 1][
      stepOf(trace, r.k) - 1
    ],
  layerFlowLarger: ({ trace }, r) => {
    const flows = trace.diagnostics.error_flow_layers;
    const at = (layer) => flows[layer][stepOf(trace, r.t) - 1][stepOf(trace, r.k) - 1];
    return at(flows.length - 1) >= at(0) ? "top" : "bottom";
  },
  // a mini-batch: its sizes (n, T, D), an example's share of an update's loss, the update's
  size: ({ trace }, r) => trace.sizes[r.key],
  shareLoss: ({ trace }, r) => trace.updates[r.update].shares[r.example].loss,
  windowLoss: ({ trace }, r) => trace.updates[r.update].loss,
  // the steps whose loss update u injects, and its loss terms: those steps in every example
  lossSteps: ({ trace }, r) => lossStepsOf(trace, r.update).length,
  lossTerms: ({ trace }, r) => (trace.sizes.n ?? 1) * lossStepsOf(trace, r.update).length,
  // comparing reductions: which count sets the summed gradient of update u apart from the
  // averaged one in the engine's two norms ("one", "n", "steps" or "both", n · steps): the
  // nearest on a logarithmic scale; the ratio only ranks the four, it is never shown
  reductionFactor: ({ compare }, r) => {
    const ratio =
      compare.sum.updates[r.update].grad_norm / compare.mean.updates[r.update].grad_norm;
    const n = compare.mean.sizes.n ?? 1;
    const steps = lossStepsOf(compare.mean, r.update).length;
    const factors = { one: 1, n, steps, both: n * steps };
    const off = (name) => Math.abs(Math.log(ratio / factors[name]));
    return Object.keys(factors).reduce((a, b) => (off(b) < off(a) ? b : a));
  },
  compareFlow: ({ compare }, r) => lastRow(compare[r.value])[r.k - 1],
  compareArgmax: ({ compare }, r) =>
    Object.keys(compare).reduce((a, b) =>
      lastRow(compare[b])[r.k - 1] > lastRow(compare[a])[r.k - 1] ? b : a,
    ),
};

export function read(reader, context) {
  const fn = READERS[reader.fn];
  if (!fn) throw new Error(`lessons: unknown reader ${reader.fn}`);
  if (!reader.setup) return fn(context, reader);
  const trace = context.compare?.[reader.setup];
  if (!trace) throw new Error(`lessons: no set-up ${reader.setup} on the page`);
  return fn({ ...context, trace }, reader);
}

// Number formats by language and kind, made once: making an Intl.NumberFormat costs far more
// than using one (about 25 ms for a reveal's four numbers, in the click's frame)
const formats = new Map();

function numberFormat(lang, how) {
  const key = `${lang}|${how}`;
  let f = formats.get(key);
  if (!f) {
    const digits = /^fixed(\d)$/.exec(how || "");
    const options = digits
      ? { minimumFractionDigits: Number(digits[1]), maximumFractionDigits: Number(digits[1]) }
      : how === "percent"
        ? { style: "percent", maximumFractionDigits: 1 }
        : how === "sci"
          ? { notation: "scientific", maximumFractionDigits: 1 }
          : { maximumSignificantDigits: 4 };
    f = new Intl.NumberFormat(lang, options);
    formats.set(key, f);
  }
  return f;
}

/** Make the formats a spec of readers writes in (a reveal's, while its question is read). */
export function warmFormats(spec, lang) {
  for (const reader of Object.values(spec || {})) numberFormat(lang, reader.format);
}

/** A reader's value as a lesson writes it: fixedN, percent, sci, or 4 significant digits. */
export function format(value, how, lang) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (typeof value !== "number") return String(value);
  const text = numberFormat(lang, how).format(value);
  if (how !== "sci") return text;
  const [m, e] = text.split("E");
  return e === "0" ? m : `${m}·10${superscript(e)}`;
}
