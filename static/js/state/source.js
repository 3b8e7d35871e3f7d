// Where traces come from: the fetch policy of the studio. One request per scenario (a trace, or
// a training run that includes its trace), every matrix while the model is small, norms when
// the full trace would be too large; the previous request is abandoned when a new one starts.
// A comparison (CompareSource) asks for each of its set-ups that way, all at once.
import { api, ApiError } from "./api.js";
import { SPECTRAL_MAX_H } from "../util/config.js";
import { requestOf } from "./state.js";

const FULL_DETAIL_MAX_H = 16;
const TRAIN_RECORDS = 200; // loss values a training run reports at most

/** The request body for a scenario: its trace request, and training when it asks for it. */
export function bodyOf(scenario, detail = null) {
  const request = requestOf(scenario);
  const H = Number(request.hidden_size) || 8;
  request.detail = detail ?? (H <= FULL_DETAIL_MAX_H ? "full" : "auto");
  // ρ(W) of every version, shown beside the spectral-radius field (spectral.js)
  if (H <= SPECTRAL_MAX_H) request.spectral_radii = true;
  if (!scenario.train) return { endpoint: "trace", request };
  return {
    endpoint: "train",
    request: {
      ...request,
      iterations: scenario.train,
      record_every: Math.max(1, Math.floor(scenario.train / TRAIN_RECORDS)),
      include_trace: true,
    },
  };
}

// Answers asked for ahead of time (a lesson's reveal, while the question is read): request key
// -> the API's answer (a promise), taken by the first load of the same request.
const WARM_MAX = 8;
const warm = new Map();
const keyOf = (endpoint, request) => JSON.stringify([endpoint, request]);

/**
 * Ask for a scenario's trace (or training) now, for a load that will want it soon. Resolves
 * to {trace, training} as the API answered (null if it refused or failed): what was asked for
 * can be read before the load draws it (a lesson's reveal reads its answer from it).
 */
export function prefetch(scenario) {
  const { endpoint, request } = bodyOf(scenario);
  const key = keyOf(endpoint, request);
  let answer = warm.get(key);
  if (!answer) {
    if (warm.size >= WARM_MAX) warm.delete(warm.keys().next().value);
    answer = api[endpoint](request);
    answer.catch(() => warm.delete(key)); // a failure is asked for again by the load itself
    warm.set(key, answer);
  }
  return answer.then(
    (got) =>
      endpoint === "train" ? { trace: got.trace, training: got } : { trace: got, training: null },
    () => null,
  );
}

/** The answer asked for ahead of time for this request, once (null if none). */
function takeWarm(endpoint, request) {
  const key = keyOf(endpoint, request);
  const answer = warm.get(key) ?? null;
  warm.delete(key);
  return answer;
}

export class TraceSource {
  constructor() {
    this.abort = null;
  }

  /**
   * {trace, training, normsOnly} for a scenario. Throws ApiError (or AbortError when a newer
   * load replaced this one). normsOnly: the full trace was too large and norms came instead.
   */
  async load(scenario) {
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    const { endpoint, request } = bodyOf(scenario);
    const early = takeWarm(endpoint, request)?.catch(() => null);
    const ask = async () => (await early) ?? api[endpoint](request, abort.signal);
    if (endpoint === "train") {
      const training = await ask();
      return { trace: training.trace, training, normsOnly: false };
    }
    try {
      return { trace: await ask(), training: null, normsOnly: false };
    } catch (err) {
      if (!(err instanceof ApiError && err.kind === "too_large" && request.detail !== "norms")) {
        throw err;
      }
      const trace = await api.trace({ ...request, detail: "norms" }, abort.signal);
      return { trace, training: null, normsOnly: true };
    }
  }
}

/**
 * The traces of a comparison, one request per set-up, all at once, each with the page's fetch
 * policy (source.js: full matrices while small, norms when too large, training when asked).
 * A newer load abandons the older one's requests; a failure abandons its siblings and is
 * thrown with the id of the set-up that failed (err.setup).
 */
export class CompareSource {
  constructor() {
    this.sources = [];
  }

  async load(setups) {
    while (this.sources.length < setups.length) this.sources.push(new TraceSource());
    const jobs = setups.map((s, k) =>
      this.sources[k].load(s.scenario).catch((err) => {
        if (err && typeof err === "object") err.setup ??= s.id;
        throw err;
      }),
    );
    // this load's requests (a newer load replaces the sources' own, and must keep them)
    const mine = this.sources.slice(0, setups.length).map((s) => s.abort);
    try {
      return await Promise.all(jobs);
    } catch (err) {
      for (const c of mine) c?.abort();
      throw err;
    }
  }

  abort() {
    for (const s of this.sources) s.abort?.abort();
  }
}
