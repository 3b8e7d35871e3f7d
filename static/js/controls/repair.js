// A link the page could not have written (hand-edited, cut short, from an older version) opens
// anyway: when the API refuses the scenario of a link before anything is drawn, the refused
// fields are moved to the nearest value the API takes, and the page says what it changed.
// Nearest: a number past a limit becomes the limit (H = 1000 → 64); a number the page's own
// controls fill in when a choice needs one is filled in (clipping without a threshold gets the
// threshold the Threshold field shows, 1; randomized truncation without a usable keep
// probability gets p = 0.5, as its field starts); anything else goes back to its default (the setting
// is left out of the request: the learning rate, not the whole optimizer). Pure: no DOM, no store; studio.js applies it.

// What the controls write when a choice needs a number (controls.js, syncEnabled).
const FILLED = { "clip.max": 1, "truncation.k1": 3, "truncation.p": 0.5 };
// A refused field of the API's request -> the scenario's field it comes from.
const FROM_REQUEST = { iterations: "train", record_every: "train" };
// The API's limits that name the nearest value (ge/le; "greater than 0" has no nearest value).
const LIMITS = { greater_than_equal: "ge", less_than_equal: "le" };

const getAt = (obj, path) => path.reduce((o, k) => (o == null ? undefined : o[k]), obj);

function setAt(obj, path, value) {
  let o = obj;
  for (const k of path.slice(0, -1)) {
    if (o[k] == null || typeof o[k] !== "object") o[k] = {};
    o = o[k];
  }
  o[path.at(-1)] = value;
}

/**
 * The scenario moved to the nearest one the API takes, for its refusals `fields` ([{path, type,
 * ctx}] as ApiError carries them): {scenario, changes: [{field, from, to}]} where field is the
 * scenario's top-level field, from/to the refused value and the new one (undefined: left out,
 * its default). null when nothing can be changed (the refusal names no field of the scenario).
 */
export function repair(scenario, fields) {
  const out = structuredClone(scenario);
  const changes = [];
  for (const f of fields) {
    const parts = String(f.path || "")
      .split(".")
      .filter(Boolean);
    if (!parts.length) continue;
    parts[0] = FROM_REQUEST[parts[0]] ?? parts[0];
    const top = parts[0];
    if (!(top in out)) continue; // not the scenario's, or already back to its default
    const from = getAt(scenario, parts);
    const limit = f.ctx?.[LIMITS[f.type]];
    const key = parts.join(".");
    if (typeof limit === "number" && typeof from === "number" && parts.length <= 2) {
      setAt(out, parts, limit);
      changes.push({ path: parts, from, to: limit });
    } else if (key in FILLED && (f.type === "missing" || from === undefined || !(from > 0))) {
      // missing, or refused with no nearest value (p = 0: "greater than 0"; a word): the
      // number the control fills in, at once (not left out first and refused as missing)
      setAt(out, parts, FILLED[key]);
      changes.push({ path: parts, from, to: FILLED[key] });
    } else if (parts.length === 2 && from !== undefined && !Array.isArray(scenario[top])) {
      delete out[top][parts[1]]; // the one setting back to its default (lr, not the optimizer)
      changes.push({ path: parts, from, to: undefined });
    } else {
      delete out[top];
      changes.push({ path: [top], from: scenario[top], to: undefined });
    }
  }
  return changes.length ? { scenario: out, changes } : null;
}

// The label of the control that shows a field (its catalogue key), for the page's message.
const LABELS = {
  data: "ctl.data",
  cell: "ctl.cell",
  hidden_size: "ctl.hidden",
  num_layers: "ctl.layers",
  activation: "ctl.activation",
  seed: "ctl.seed",
  spectral_radius: "ctl.rho",
  loss: "ctl.loss",
  reduction: "ctl.loss",
  loss_at: "ctl.lossAt",
  "truncation.k1": "ctl.k1",
  "truncation.k2": "ctl.k2",
  "truncation.p": "ctl.p",
  truncation: "ctl.trunc",
  "optimizer.lr": "ctl.lr",
  optimizer: "ctl.opt",
  "clip.max": "ctl.clipMax",
  clip: "ctl.clip",
  train: "ctl.trainN",
  params: "ctl.own.weights",
  h0: "ctl.own.state",
  c0: "ctl.own.state",
};

/** The catalogue key of the label of a change's field (null: the field's own name). */
export function labelKey(path) {
  for (let n = path.length; n > 0; n -= 1) {
    const key = LABELS[path.slice(0, n).join(".")];
    if (key) return key;
  }
  return null;
}
