// The initial parameters of a scenario, as the API draws (and rescales) them: what "fill from
// seed" and "rescale to spectral radius" put into the weight editors. The browser computes
// none of it: it asks the API for a pass and takes the result's `params`.
//
// The parameters depend only on the cell, H, D, K, the seed, forget_bias and the spectral
// radius (engine/params.py), not on the data's values nor its length. So the request that asks
// for them keeps those settings (read from the API's own `config` of the scenario, presets
// resolved) and runs one step of zeros: a small answer with every matrix in full even for
// models whose whole trace would only fit as norms.
import { api, ApiError } from "./api.js";
import { requestOf } from "./state.js";

/** The scenario's request without the explicit numbers the editors are about to replace. */
function bare(scenario) {
  const request = requestOf(scenario);
  delete request.params;
  delete request.h0;
  delete request.c0;
  return request;
}

/**
 * The API's `config` and `sizes` of a scenario: from its trace when the page has it (`trace`
 * is the page's trace of this very scenario, or null), else from a pass with norms only.
 */
async function settingsOf(scenario, trace) {
  if (trace) return { config: trace.config, sizes: trace.sizes };
  const res = await api.trace({ ...bare(scenario), diagnostics: false, detail: "norms" });
  return { config: res.config, sizes: res.sizes };
}

/** One step of zeros with the scenario's D, K and loss: params do not depend on the data. */
function oneStep(config, sizes) {
  const { D, K } = sizes;
  const target = config.loss === "cross_entropy" ? 0 : new Array(K).fill(0);
  return { inputs: [new Array(D).fill(0)], targets: [target] };
}

/**
 * The initial parameters {name: array} the API uses for a scenario with the given spectral
 * radius (null: none, as drawn; undefined: the scenario's own, a preset's included), starting
 * from `params` (null: the seed's draw).
 * Throws ApiError (kind "too_large" when even one step's answer exceeds the server's limit).
 */
export async function initialParams(scenario, { trace = null, params = null, radius = null }) {
  const { config, sizes } = await settingsOf(scenario, trace);
  const request = {
    cell: config.cell,
    hidden_size: config.hidden_size,
    seed: config.seed,
    forget_bias: config.forget_bias,
    loss: config.loss,
    output_size: sizes.K,
    data: oneStep(config, sizes),
    // null overrides a preset's own radius
    spectral_radius: radius === undefined ? config.spectral_radius : radius,
    diagnostics: false,
    detail: "full",
  };
  if (params) request.params = params;
  const res = await api.trace(request);
  if (res.detail !== "full") throw new ApiError("too_large", 413);
  return res.params;
}
