// Values as a reader knows them. Series data reach the engine standardised, z = (v − mean) / std,
// and the API reports mean and std (`scale`), so that what the page writes on the network's
// nodes is in the series' own units: v = z · std + mean. Display only: no model quantity is
// recomputed, only the API's own numbers are written back in the units they came in.
// (issue 11, item 7: charts, equations and tables use the same function.)

/** A standardised series value in the series' units (unchanged when there is no scale). */
export function inSeriesUnits(value, scale) {
  if (!scale || value === null || value === undefined || typeof value !== "number") return value;
  return value * scale.std + scale.mean;
}
