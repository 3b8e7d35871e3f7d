// The spread over seeds of a randomized truncation (compare=truncation): the same scenario, on
// the same weights, its ξ drawn from other seeds. The engine does every computation; this module
// only asks, a few requests at a time, and hands back each seed's diagnostics.full_vs_truncated
// as the API sent it. A newer scenario abandons the older one's requests.
import { api } from "./api.js";
import { requestOf } from "./state.js";

// How many draws, and how large a network they are drawn for: each seed is a whole pass of its
// own (with the O(T²) diagnostics that measure it), so the spread stays a dozen small requests
// (at H = 16 and T = 64 an LSTM's pass takes about 0.07 s; its answer, without events, is
// about 0.12 MB).
export const SPREAD = Object.freeze({ seeds: 12, concurrent: 3, maxH: 16, maxT: 64 });
const MAX_SEED = 2 ** 53 - 1; // the API's largest seed (docs/CONTRACT.md)

/**
 * The seeds of the spread: the scenario's own first (its column's draw), then the next ones
 * (below it when the next would pass the API's largest seed).
 */
export function spreadSeeds(seed = 0, n = SPREAD.seeds) {
  return Array.from({ length: n }, (_, k) => (seed + k <= MAX_SEED ? seed + k : seed - k));
}

/**
 * Whether a trace is one the spread is drawn for: randomized, its weights sent in full (the
 * page asks for every number while H ≤ 16), and small enough for a dozen passes.
 */
export function spreadFits(trace) {
  const z = trace?.sizes;
  const params = trace?.params;
  const full = params && Object.values(params).every(Array.isArray);
  return Boolean(z && full && z.H <= SPREAD.maxH && z.T <= SPREAD.maxT);
}

/**
 * The request of one seed: the scenario with the trace's weights written out, so that the seed
 * draws only ξ. A preset's spectral radius or forget-gate bias would reshape written weights:
 * they are turned off (the weights already carry them); a trained scenario's weights are the
 * trace's, so it is one pass, not a training run. A summary (no events): the diagnostics are
 * what is read.
 */
export function spreadRequest(scenario, params, seed) {
  return {
    ...requestOf(scenario),
    params,
    seed,
    spectral_radius: null,
    forget_bias: null,
    detail: "summary", // no events: 0.12 MB a seed at the largest, not 0.71 MB
    diagnostics: true,
  };
}

export class SpreadSource {
  constructor() {
    this.controller = null;
  }

  /**
   * [{seed, cosine, relative_error}] for each seed, in the seeds' order, read from the API's
   * diagnostics.full_vs_truncated. Throws ApiError, or AbortError when a newer load (or abort)
   * replaced this one.
   */
  async load(scenario, trace, seeds = spreadSeeds(scenario.seed ?? 0)) {
    this.abort();
    const controller = new AbortController();
    this.controller = controller;
    const out = new Array(seeds.length);
    let next = 0;
    const worker = async () => {
      while (next < seeds.length) {
        const k = next;
        next += 1;
        const body = spreadRequest(scenario, trace.params, seeds[k]);
        const answer = await api.trace(body, controller.signal);
        const fvt = answer.diagnostics?.full_vs_truncated ?? {};
        out[k] = {
          seed: seeds[k],
          cosine: fvt.cosine ?? null,
          relative_error: fvt.relative_error ?? null,
        };
      }
    };
    try {
      const workers = Array.from({ length: Math.min(SPREAD.concurrent, seeds.length) }, worker);
      await Promise.all(workers);
    } catch (err) {
      controller.abort(); // one refusal abandons the others
      throw err;
    }
    return out;
  }

  abort() {
    this.controller?.abort();
    this.controller = null;
  }
}
