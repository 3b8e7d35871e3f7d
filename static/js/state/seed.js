// The initial parameters of a scenario, as the API draws (and rescales) them: what "fill from
// seed" and "rescale to spectral radius" put into the weight editors. The browser computes
// none of it: it asks POST /api/v1/params, which answers the parameters a trace of the same
// request starts from (seed, forget_bias and spectral radius applied, explicit ones echoed
// after the engine's checks), always whole: no pass runs, so even the largest model's answer
// is its parameters alone (about 1.2 MB for the LSTM of 57,728), where a trace's would not fit.
import { api } from "./api.js";
import { requestOf } from "./state.js";

/**
 * The initial parameters {name: array} the API uses for a scenario with the given spectral
 * radius (null: none, as drawn; undefined: the scenario's own, a preset's included), starting
 * from `params` (null: the seed's draw). Throws ApiError.
 */
export async function initialParams(scenario, { params = null, radius = null }) {
  const request = requestOf(scenario);
  // the numbers the editors are about to replace: the parameters do not depend on them
  delete request.params;
  delete request.h0;
  delete request.c0;
  if (radius !== undefined) request.spectral_radius = radius; // null overrides a preset's own
  if (params) request.params = params;
  const res = await api.params(request);
  return res.params;
}
