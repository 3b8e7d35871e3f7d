// The one source of UI state: the scenario (a sparse trace request: only what the user set),
// the current event index, the language, the notation, the view (null, or "projector") and
// the comparison (null, or one of COMPARES: the compare view, compare-plan.js).
// It round-trips through the URL so that a link reproduces the view; the URL holds the last
// scenario the API accepted, never one it rejected. Explicit numbers (parameters, initial
// state, inputs and targets) travel in the fragment (#n=..., fragment.js), never sent to the
// server; the query string keeps the small settings.
import { decodeBug, encodeBug } from "../bughunt/bugtoken.js";
import { TIMING } from "../util/config.js";
import { decodeFragment, encodeFragment, isArrayData, withBigFields } from "./fragment.js";

export const DEFAULT_STATE = Object.freeze({
  scenario: Object.freeze({ data: Object.freeze({ preset: "machine" }) }),
  event: 0,
  lang: "en",
  notation: "goodfellow",
  lesson: null, // {id, step} of an open guided lesson (lessons.js), step 1-based
  view: null, // "projector": large type, the controls folded away
  compare: null, // "cell", "loss_at", "truncation", "reduction", "bug" or "depth": side by side
  // (compare-plan.js)
  neuron: null, // {unit} (0-based) of the open neuron view (neuron.js); its step is the event's
  example: 0, // the example of a mini-batch (data.batch) the views show, 0-based as the API's
  room: null, // the code of the class this page leads or follows (classroom.js)
  flags: null, // {embed, hide}: the link's embed flags as written (the server reads them)
});

// The page's embed flags (?embed=1&hide=charts, app/embed.py): the server lays the page out
// from them; the store only carries them, as written, into every URL it writes.
export const FLAGS = ["embed", "hide"];

export const VIEWS = ["projector"];
export const COMPARES = ["cell", "loss_at", "truncation", "reduction", "bug", "depth"];
// a class's code (app/rooms/hub.py): 6 of these letters and digits, in any case
export const ROOM_CODE = /^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}$/i;

// URL parameter <-> scenario field. Each entry: [param, read(scenario), write(scenario, text)].
const num = (text) => (text === "" || Number.isNaN(Number(text)) ? text : Number(text));
const FIELDS = [
  [
    "cell",
    (s) => s.cell,
    (s, v) => {
      s.cell = v;
    },
  ],
  [
    "H",
    (s) => s.hidden_size,
    (s, v) => {
      s.hidden_size = num(v);
    },
  ],
  [
    // a stack of layers (num_layers, 1-4): layers=3
    "layers",
    (s) => s.num_layers,
    (s, v) => {
      s.num_layers = num(v);
    },
  ],
  [
    "act",
    (s) => s.activation,
    (s, v) => {
      s.activation = v;
    },
  ],
  [
    "loss",
    (s) => s.loss,
    (s, v) => {
      s.loss = v;
    },
  ],
  [
    "at",
    (s) => s.loss_at,
    (s, v) => {
      s.loss_at = v;
    },
  ],
  [
    "red",
    (s) => s.reduction,
    (s, v) => {
      s.reduction = v;
    },
  ],
  [
    "k1",
    (s) => s.truncation?.k1,
    (s, v) => {
      s.truncation = { ...s.truncation, k1: num(v) };
    },
  ],
  [
    "k2",
    (s) => s.truncation?.k2,
    (s, v) => {
      s.truncation = { ...s.truncation, k2: num(v) };
    },
  ],
  [
    // randomized truncation (d2l §9.7) by its keep probability p: rand=0.5. It sets the mode
    // and keeps any k1 or k2 of the link beside it, for the API to refuse and repair.js to
    // take away (a link the page could not have written), never dropped unsaid here.
    "rand",
    (s) => (s.truncation?.mode === "randomized" ? s.truncation.p : undefined),
    (s, v) => {
      s.truncation = { ...s.truncation, mode: "randomized", p: num(v) };
    },
  ],
  [
    "opt",
    (s) => s.optimizer?.name,
    (s, v) => {
      s.optimizer = { ...s.optimizer, name: v };
    },
  ],
  [
    "lr",
    (s) => s.optimizer?.lr,
    (s, v) => {
      s.optimizer = { ...s.optimizer, lr: num(v) };
    },
  ],
  [
    "clip",
    (s) => s.clip?.mode,
    (s, v) => {
      s.clip = { ...s.clip, mode: v };
    },
  ],
  [
    "cmax",
    (s) => s.clip?.max,
    (s, v) => {
      s.clip = { ...s.clip, max: num(v) };
    },
  ],
  [
    "seed",
    (s) => s.seed,
    (s, v) => {
      s.seed = num(v);
    },
  ],
  [
    "rho",
    // "off": an explicit null (own weights are used as typed, even under a preset's radius)
    (s) => (s.spectral_radius === null ? "off" : s.spectral_radius),
    (s, v) => {
      s.spectral_radius = v === "off" ? null : num(v);
    },
  ],
  [
    "fb",
    (s) => s.forget_bias,
    (s, v) => {
      s.forget_bias = num(v);
    },
  ],
  [
    "out",
    (s) => s.output_size,
    (s, v) => {
      s.output_size = num(v);
    },
  ],
  [
    "train",
    (s) => s.train,
    (s, v) => {
      s.train = num(v);
    },
  ],
  [
    // the planted bug of a hunt (bughunt.js), opaque in the link: a student does not read it
    "bug",
    (s) => (s.bug ? encodeBug(s.bug) : undefined),
    (s, v) => {
      const id = decodeBug(v);
      if (id) s.bug = id;
    },
  ],
];

function dataToParams(data, params) {
  if (!data) return;
  if ("preset" in data) params.set("preset", data.preset);
  else if ("text" in data) params.set("text", data.text);
  else if ("words" in data) params.set("words", data.words);
  else if ("series" in data) params.set("series", data.series.join(","));
  else if (!isArrayData(data)) params.set("data", JSON.stringify(data));
}

function dataFromParams(params) {
  if (params.has("preset")) return { preset: params.get("preset") };
  if (params.has("text")) return { text: params.get("text") };
  if (params.has("words")) return { words: params.get("words") };
  if (params.has("series")) {
    return {
      series: params
        .get("series")
        .split(",")
        .filter((v) => v.trim() !== "")
        .map(num),
    };
  }
  if (params.has("data")) {
    try {
      const data = JSON.parse(params.get("data"));
      if (data && typeof data === "object" && !Array.isArray(data)) return data;
    } catch {
      // An unreadable data parameter falls back to the default scenario.
    }
  }
  return null;
}

/** The query string of a state: the scenario's fields, then event, language, notation, view. */
export function toQuery(state) {
  const params = new URLSearchParams();
  if (state.lesson) {
    params.set("lesson", state.lesson.id);
    params.set("step", String(state.lesson.step));
  }
  const s = state.scenario || {};
  dataToParams(s.data, params);
  for (const [key, read] of FIELDS) {
    const v = read(s);
    if (v !== undefined && v !== null) params.set(key, String(v));
  }
  if (state.event) params.set("e", String(state.event));
  if (state.lang && state.lang !== DEFAULT_STATE.lang) params.set("lang", state.lang);
  if (state.notation && state.notation !== DEFAULT_STATE.notation) {
    params.set("nota", state.notation);
  }
  if (state.view) params.set("view", state.view);
  if (state.compare) params.set("compare", state.compare);
  if (state.neuron) params.set("unit", String(state.neuron.unit + 1)); // 1-based, as shown
  if (state.example) params.set("ex", String(state.example + 1)); // 1-based, as shown
  if (state.room) params.set("room", state.room);
  for (const flag of FLAGS) {
    if (state.flags?.[flag] !== undefined) params.set(flag, state.flags[flag]);
  }
  return params.toString();
}

/** The state a query string describes (anything missing from the default state). */
export function fromQuery(search) {
  const params = new URLSearchParams(search);
  const data = dataFromParams(params);
  const scenario = { data: data || { ...DEFAULT_STATE.scenario.data } };
  for (const [key, , write] of FIELDS) {
    if (params.has(key) && params.get(key) !== "") write(scenario, params.get(key));
  }
  const event = Number.parseInt(params.get("e") || "0", 10);
  const step = Number.parseInt(params.get("step") || "1", 10);
  const unit = Number.parseInt(params.get("unit") || "", 10);
  const example = Number.parseInt(params.get("ex") || "", 10);
  return {
    scenario,
    event: Number.isFinite(event) && event >= 0 ? event : 0,
    lang: params.get("lang") || DEFAULT_STATE.lang,
    notation: params.get("nota") || DEFAULT_STATE.notation,
    lesson: params.get("lesson")
      ? { id: params.get("lesson"), step: Number.isInteger(step) && step > 0 ? step : 1 }
      : null,
    view: VIEWS.includes(params.get("view")) ? params.get("view") : null,
    compare: COMPARES.includes(params.get("compare")) ? params.get("compare") : null,
    neuron: Number.isInteger(unit) && unit >= 1 ? { unit: unit - 1 } : null,
    example: Number.isInteger(example) && example >= 1 ? example - 1 : 0,
    room: ROOM_CODE.test(params.get("room") || "") ? params.get("room").toUpperCase() : null,
    flags: flagsOf(params),
  };
}

/** The embed flags a query holds, as written; null when it holds none. */
function flagsOf(params) {
  const present = FLAGS.filter((flag) => params.has(flag));
  return present.length ? Object.fromEntries(present.map((f) => [f, params.get(f)])) : null;
}

/**
 * The state a URL describes: its query, and the numbers of its fragment. `broken` is true when
 * the fragment holds numbers that cannot be read (the rest of the link still applies).
 */
export async function fromUrl(location) {
  const state = fromQuery(location.search);
  try {
    const fields = await decodeFragment(location.hash);
    if (Object.keys(fields).length) state.scenario = withBigFields(state.scenario, fields);
    return { state, broken: false };
  } catch (err) {
    console.warn(err);
    return { state, broken: true };
  }
}

/**
 * Whether a truncation (a scenario's, or a trace's config) is randomized (d2l §9.7: each step's
 * flow back kept with probability p), which /gradcheck and /neuron refuse.
 */
export const isRandomized = (truncation) => truncation?.mode === "randomized";

/** The trace request of a scenario: the scenario minus the page-only field "train". */
export function requestOf(scenario) {
  const { train, ...request } = scenario;
  return structuredClone(request);
}

export class Store extends EventTarget {
  constructor(initial = DEFAULT_STATE) {
    super();
    this.state = structuredClone(initial);
    this.accepted = structuredClone(this.state.scenario); // what the URL shows
    this.urlTimer = null;
    this.fragment = ""; // the accepted scenario's numbers (fragment.js), without "#"
    this.encode();
  }

  /** Write the accepted scenario's numbers into this.fragment (fragmentDone resolves then). */
  encode() {
    const accepted = this.accepted;
    this.fragmentDone = encodeFragment(accepted)
      .then((fragment) => {
        if (this.accepted === accepted) this.fragment = fragment;
      })
      .catch((err) => console.warn(err));
  }

  /** The API answered this scenario: from now on the URL (and a shared link) holds it. */
  accept(scenario) {
    this.accepted = structuredClone(scenario);
    this.encode();
    this.scheduleUrl();
  }

  /** Resolves when the URL's fragment holds the accepted scenario's numbers. */
  async settled() {
    await this.fragmentDone;
  }

  /** The query of the view: the state, with the last accepted scenario. */
  query() {
    return toQuery({ ...this.state, scenario: this.accepted });
  }

  get() {
    return this.state;
  }

  /** Merge a patch; listeners get {changed: Set of keys}. Unchanged values are ignored. */
  update(patch) {
    const changed = new Set();
    for (const [key, value] of Object.entries(patch)) {
      if (JSON.stringify(this.state[key]) !== JSON.stringify(value)) {
        this.state[key] = structuredClone(value);
        changed.add(key);
      }
    }
    if (changed.size) {
      this.scheduleUrl();
      this.dispatchEvent(new CustomEvent("change", { detail: { changed } }));
    }
    return changed;
  }

  /**
   * Replace one scenario field and announce the change. null is kept (an explicit "off" that
   * overrides a preset's setting); undefined removes the field.
   */
  setScenarioField(field, value) {
    const scenario = structuredClone(this.state.scenario);
    if (value === undefined) delete scenario[field];
    else scenario[field] = value;
    return this.update({ scenario });
  }

  url() {
    const query = this.query();
    const hash = this.fragment ? `#${this.fragment}` : "";
    return `${window.location.origin}${window.location.pathname}${query ? `?${query}` : ""}${hash}`;
  }

  scheduleUrl() {
    clearTimeout(this.urlTimer);
    this.urlTimer = setTimeout(
      () => this.fragmentDone.then(() => this.writeUrl()),
      TIMING.urlDebounceMs,
    );
  }

  writeUrl() {
    clearTimeout(this.urlTimer);
    const query = this.query();
    const hash = this.fragment ? `#${this.fragment}` : "";
    const target = `${window.location.pathname}${query ? `?${query}` : ""}${hash}`;
    const { pathname, search, hash: shown } = window.location;
    if (target !== `${pathname}${search}${shown}`) {
      window.history.replaceState(null, "", target);
    }
  }
}
