// The editors of the studio's own numbers, loaded on first use: a grid for the inputs and
// targets, a grid per parameter and for the initial state (h0, and c0 for the LSTM), "fill from
// seed" and "rescale to spectral radius" (both asked of the API, seed.js), and the API's
// refusals shown in the refused entry. Editors only write the scenario into the store (its
// `data`, `params`, `h0`, `c0`, as docs/CONTRACT.md names them); the studio runs it, and the
// URL's fragment carries the numbers exactly (fragment.js). What they show when the scenario
// does not set a number is the API's own: the trace's inputs, targets, parameters and states.
import { api, ApiError } from "../state/api.js";
import { DEFAULT_CELL } from "../cells/index.js";
import { KNOWN } from "./controls.js";
import { num } from "../text/format.js";
import { isArrayData } from "../state/fragment.js";
import { Grid } from "./grid.js";
import { t as tr } from "../text/i18n.js";
import {
  labelText,
  paramLabel,
  paramLayer,
  rightText,
  specParams,
  timeIndex,
  timeVar,
  varLabel,
} from "../text/notation.js";
import { initialParams } from "../state/seed.js";
import { requestOf } from "../state/state.js";
import { TraceIndex } from "../state/trace.js";
import { apiDetail, el } from "../util/dom.js";

// Above this many weights in all, one parameter is shown at a time (chosen by its name).
const ALL_AT_ONCE = 600;
const MAX_MESSAGES = 12; // refusals written per grid (the API may name every entry)

/**
 * Where an API refusal points in the editors, from its path (the loc without "body", joined
 * by dots): {grid, row, col} with grid "params.W", "h0", "c0", "data.inputs", "data.targets"
 * (or "params", "data" for the whole group) and row, col the 0-based entry the API named
 * (null when it named only the array, or only the row). null for fields not edited here.
 */
export function locate(path) {
  const parts = String(path).split(".");
  const index = (k) => (/^\d+$/.test(parts[k] ?? "") ? Number(parts[k]) : null);
  if (parts[0] === "params") {
    if (parts.length === 1) return { grid: "params", row: null, col: null };
    return { grid: `params.${parts[1]}`, row: index(2), col: index(3) };
  }
  if (parts[0] === "h0" || parts[0] === "c0") return { grid: parts[0], row: index(1), col: null };
  if (parts[0] === "data" && (parts[1] === "inputs" || parts[1] === "targets")) {
    return { grid: `data.${parts[1]}`, row: index(2), col: index(3) };
  }
  return null;
}

/** A refusal in the page's words when we have them, with the API's own message after. */
export function refusal(field) {
  const ctx = field.ctx || {};
  const limit = ctx.ge ?? ctx.gt ?? ctx.le ?? ctx.lt ?? ctx.min_length ?? ctx.max_length ?? "";
  const known = KNOWN.has(field.type);
  return {
    text: known ? tr(`error.${field.type}`, { limit: num(limit) }) : tr("error.rejected"),
    detail: field.msg,
  };
}

// pydantic tries both shapes of `targets` (class ids, rows of values) and reports both; keep
// the refusals of the shape the grid shows.
const CLASS_ID_ERRORS = new Set(["int_type", "int_from_float", "int_parsing"]);

function fitsShape(where, field, vectorTargets) {
  if (where.grid !== "data.targets") return true;
  if (vectorTargets) return where.col === null && field.type !== "list_type";
  return !(where.col === null && CLASS_ID_ERRORS.has(field.type));
}

export class Editors {
  /**
   * studio: the Studio (its trace, its "trace" and "error" events, its last error); store;
   * container: the editors' section; status: the sidebar's line that says whose numbers are
   * in use.
   */
  constructor({ studio, store, container }) {
    this.studio = studio;
    this.store = store;
    this.container = container;
    this.tab = "data";
    this.chosen = null; // the parameter shown when one is shown at a time
    this.seedCache = new Map(); // request key -> the API's initial parameters
    this.errors = new Map(); // grid -> [{row, col, text, detail}]
    this.groupErrors = []; // refusals of "params" or "data" as a whole
    this.note = null; // {key, args}: the last action's outcome
    this.busy = false;
    // the entries just written, {grid, cells: ["r,c"]}, marked in their grid until the API
    // answers the scenario they make: the edit's first visible answer is the edited number
    // itself, marked as being recomputed, in the key's own frame
    this.pending = null;
    this.drawn = null; // what the open tab was drawn from (drawnFrom), to skip a needless redraw
    this.build();
    studio.addEventListener("trace", () => {
      // the new trace of an edited weight usually changes nothing the weights tab shows (its
      // numbers are the scenario's own, already drawn): only the marks go, no rebuilt grids
      const same =
        this.pending && !this.errors.size && !this.groupErrors.length && this.sameDrawing();
      this.setErrors(null);
      this.pending = null;
      if (same) this.settle();
      else this.refresh();
    });
    studio.addEventListener("error", (e) => {
      this.pending = null;
      this.setErrors(e.detail);
      this.refresh();
    });
    store.addEventListener("change", (e) => {
      const c = e.detail.changed;
      if (c.has("scenario") || c.has("lang") || c.has("notation")) this.refresh();
    });
    this.setErrors(studio.error);
  }

  // ---- reading the scenario and the trace ------------------------------------------------

  get scenario() {
    return this.store.get().scenario;
  }

  /** The page's trace when it is the trace of the scenario in the store (else null). */
  get trace() {
    const trace = this.studio.trace;
    if (!trace || this.studio.error) return null;
    return JSON.stringify(this.store.accepted) === JSON.stringify(this.scenario) ? trace : null;
  }

  /**
   * The page's trace when it has the settings the initial parameters depend on (the cell, the
   * sizes, the seed: everything but the numbers being edited), else null: its config names
   * the seed "fill from seed" used.
   */
  get settingsTrace() {
    const trace = this.studio.trace;
    if (!trace || this.studio.error) return null;
    const strip = ({ params, h0, c0, train, spectral_radius, ...rest }) => JSON.stringify(rest);
    return strip(this.store.accepted) === strip(this.scenario) ? trace : null;
  }

  get spec() {
    return this.studio.trace?.cell_spec ?? null;
  }

  get cell() {
    return this.studio.trace?.config?.cell ?? this.scenario.cell ?? DEFAULT_CELL;
  }

  get notation() {
    return this.store.get().notation;
  }

  /** The initial parameters the pass starts from: the scenario's own, else the API's. */
  async params() {
    if (this.scenario.params) return structuredClone(this.scenario.params);
    const trace = this.trace;
    if (trace && trace.detail === "full" && !this.scenario.train) {
      return structuredClone(trace.params);
    }
    return this.ask({ radius: this.scenario.spectral_radius });
  }

  /**
   * The API's initial parameters (cached per request): seed.js. radius: the spectral radius
   * to rescale to, null for none, undefined for the scenario's own (a preset's included).
   */
  async ask({ radius, params = null }) {
    const key = JSON.stringify([requestOf(this.scenario), String(radius), params]);
    if (!this.seedCache.has(key)) {
      const job = initialParams(this.scenario, { params, radius });
      this.seedCache.set(key, job);
      job.catch(() => this.seedCache.delete(key));
    }
    return structuredClone(await this.seedCache.get(key));
  }

  // ---- writing the scenario --------------------------------------------------------------

  /** Replace fields of the scenario (undefined removes one); the studio runs it. */
  write(fields) {
    const s = structuredClone(this.scenario);
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) delete s[k];
      else s[k] = v;
    }
    delete s.train; // own numbers start from the initial weights, untrained
    this.store.update({ scenario: s });
  }

  /**
   * Own weights: exactly these numbers. The spectral radius is set to null (an explicit "off"
   * that also overrides a preset's): the API would rescale them otherwise.
   */
  setParams(params) {
    this.write({ params, spectral_radius: null });
  }

  async setParamEntry(name, row, col, value) {
    const params = await this.params();
    if (Array.isArray(params[name][0])) params[name][row][col] = value;
    else params[name][row] = value;
    this.setParams(params);
  }

  /**
   * Explicit inputs and targets. Turning a text, series or preset into arrays keeps what the
   * API made of it: the preset's own settings, the loss and the output size K.
   */
  async setData(inputs, targets) {
    const s = this.scenario;
    if (isArrayData(s.data)) {
      this.write({ data: { inputs, targets } });
      return;
    }
    const config = this.studio.trace?.config;
    let preset = {};
    if (s.data?.preset) {
      const list = await api.presets().catch(() => []);
      preset = list.find((p) => p.id === s.data.preset)?.request ?? {};
    }
    const merged = { ...preset, ...structuredClone(s) };
    merged.data = { inputs, targets };
    merged.loss ??= config?.loss;
    merged.output_size ??= this.studio.trace?.sizes?.K;
    delete merged.train;
    this.store.update({ scenario: merged });
  }

  // ---- what the grids show -----------------------------------------------------------------

  /** Inputs and targets: the scenario's own, else what the API encoded. */
  dataShown() {
    const s = this.scenario;
    if (isArrayData(s.data)) {
      return { inputs: s.data.inputs ?? [], targets: s.data.targets ?? [], own: true };
    }
    const trace = this.studio.trace;
    return { inputs: trace?.inputs ?? [], targets: trace?.targets ?? [], own: false };
  }

  /**
   * The initial state h0 (c0): the scenario's own, else the state the API started from; a
   * stack's (num_layers × H, a row a layer) one layer's row: `layer` 1-based, null for one layer.
   */
  stateShown(name, layer = null) {
    const own = this.scenario[`${name}0`];
    if (own) return { values: layer ? (own[layer - 1] ?? []) : own, own: true };
    const first = this.studio.trace?.events?.find(
      (e) => e.kind === "forward" && (layer === null || e.layer === layer),
    );
    return { values: first?.[`${name}_prev`] ?? [], own: false };
  }

  // ---- errors --------------------------------------------------------------------------------

  /** Sort an ApiError's refusals by grid (null clears them). */
  setErrors(err) {
    this.errors = new Map();
    this.groupErrors = [];
    if (!(err instanceof ApiError) || err.kind !== "validation") return;
    const vectorTargets = !Array.isArray(this.dataShown().targets[0]);
    for (const field of err.fields) {
      const where = locate(field.path);
      if (!where || !fitsShape(where, field, vectorTargets)) continue;
      const entry = { row: where.row, col: where.col, ...refusal(field) };
      if (where.grid === "params" || where.grid === "data") {
        this.groupErrors.push(entry);
        continue;
      }
      const list = this.errors.get(where.grid) ?? [];
      if (list.length < MAX_MESSAGES) list.push(entry);
      this.errors.set(where.grid, list);
    }
    // a refusal in the other tab brings that tab forward
    const grids = [...this.errors.keys()];
    if (grids.length && !grids.some((g) => this.tabOf(g) === this.tab)) {
      this.tab = this.tabOf(grids[0]);
    }
  }

  tabOf(grid) {
    return grid.startsWith("data") ? "data" : "weights";
  }

  // ---- the panel -------------------------------------------------------------------------------

  build() {
    const c = this.container;
    c.replaceChildren();
    const head = el("div", "ed-head", c);
    const title = el("h2", "", head);
    title.id = "ed-title";
    title.dataset.i18n = "ed.title";
    this.tabs = el("div", "ed-tabs", head);
    this.tabs.setAttribute("role", "tablist");
    this.tabButtons = {};
    for (const tab of ["data", "weights"]) {
      const b = el("button", "ed-tab", this.tabs);
      b.type = "button";
      b.id = `ed-tab-${tab}`;
      b.setAttribute("role", "tab");
      b.setAttribute("aria-controls", "ed-body");
      b.dataset.i18n = `ed.tab.${tab}`;
      b.addEventListener("click", () => {
        this.tab = tab;
        this.refresh();
      });
      this.tabButtons[tab] = b;
    }
    const close = el("button", "btn ed-close", head);
    close.type = "button";
    close.id = "ed-close";
    close.dataset.i18n = "ed.close";
    close.addEventListener("click", () => this.close());
    this.body = el("div", "ed-body", c);
    this.body.id = "ed-body";
    this.body.setAttribute("role", "tabpanel");
  }

  open(tab = null) {
    if (tab) this.tab = tab;
    this.container.hidden = false;
    this.refresh();
    this.container.scrollIntoView({ block: "start", behavior: "smooth" });
  }

  close() {
    this.container.hidden = true;
    document.getElementById("btn-editors")?.focus();
  }

  /**
   * What the weights tab draws from the page's trace rather than from the scenario (the cell,
   * the sizes, the seed, the vocabulary, the initial state), or null for the data tab.
   */
  drawnFrom() {
    if (this.tab !== "weights") return null;
    const trace = this.studio.trace;
    const { params, h0, c0, ...config } = trace?.config ?? {};
    const first = trace?.events?.find((e) => e.kind === "forward");
    return JSON.stringify([
      this.scenario === this.drawn?.scenario,
      config,
      trace?.sizes,
      trace?.vocab,
      trace?.cell_spec,
      first?.h_prev,
      first?.c_prev,
    ]);
  }

  /** Whether the open tab, drawn before the new trace came, is what it would draw now. */
  sameDrawing() {
    return !this.container.hidden && this.drawn?.from === this.drawnFrom();
  }

  /** The API answered the edit: its entries are no longer marked as being recomputed. */
  settle() {
    for (const input of this.body.querySelectorAll("[data-pending]")) {
      delete input.dataset.pending;
    }
    this.body.querySelector(".ed-pending")?.remove();
  }

  /** Draw the open tab again, keeping the entry being edited (and what was typed in it). */
  refresh() {
    for (const el_ of this.container.querySelectorAll("[data-i18n]")) {
      el_.textContent = tr(el_.dataset.i18n);
    }
    if (this.container.hidden) return;
    const active = document.activeElement;
    const keep =
      active && this.body.contains(active) && active.classList.contains("cell")
        ? {
            grid: active.closest("[data-grid]")?.dataset.grid,
            row: active.dataset.row,
            col: active.dataset.col,
            text: active.value,
            typed: active.value !== String(active._value ?? ""),
          }
        : null;
    for (const [tab, b] of Object.entries(this.tabButtons)) {
      b.setAttribute("aria-selected", String(tab === this.tab));
      b.tabIndex = tab === this.tab ? 0 : -1;
    }
    this.body.setAttribute("aria-labelledby", `ed-tab-${this.tab}`);
    this.body.replaceChildren();
    this.body.dataset.tab = this.tab;
    // the edit is marked while the page's trace is not yet the edited scenario's (an edit
    // that changed nothing asks for nothing)
    this.marked = this.pending && !this.trace ? this.pending : null;
    if (this.tab === "data") this.drawData();
    else this.drawWeights();
    this.drawn = { scenario: this.scenario };
    this.drawn.from = this.drawnFrom();
    if (keep?.grid) {
      const input = this.body.querySelector(
        `[data-grid="${keep.grid}"] input.cell[data-row="${keep.row}"][data-col="${keep.col}"]`,
      );
      if (input) {
        input.focus();
        if (keep.typed) input.value = keep.text;
      }
    }
  }

  message(parent, entry) {
    const p = el("p", "cell-error", parent);
    p.setAttribute("role", "alert");
    el("span", "", p, entry.text);
    apiDetail(p, entry.detail);
  }

  note_(parent) {
    if (this.marked) {
      const p = el("p", "ed-pending", parent, tr("ed.recomputing"));
      p.setAttribute("role", "status");
    }
    if (!this.note) return;
    const p = el("p", "ed-note", parent, tr(this.note.key, this.note.args));
    p.setAttribute("role", "status");
    p.dataset.state = this.note.state ?? "ok";
  }

  /** A grid under a heading, in its own box; returns the Grid. */
  gridBox(
    parent,
    { name, title, caption, vector, rowLabel, colLabel, values, onChange, symbol = false },
  ) {
    const box = el("section", "ed-box", parent);
    const h = el("h3", symbol ? "ed-box-title is-symbol" : "ed-box-title", box);
    h.dataset.raw = "";
    h.textContent = title;
    if (caption) el("span", "ed-box-caption", h, caption).dataset.raw = "";
    const holder = el("div", "ed-grid", box);
    const grid = new Grid({
      container: holder,
      name,
      vector,
      rowLabel,
      colLabel,
      label: title,
      onChange: (v) => {
        this.pending = { grid: name, cells: grid.written };
        onChange(v);
      },
    });
    grid.setValues(values);
    grid.setErrors(this.errors.get(name) ?? []);
    if (this.marked?.grid === name) grid.setPending(this.marked.cells);
    grid.draw();
    box.grid = grid;
    return box;
  }

  // ---- inputs and targets ------------------------------------------------------------------------

  drawData() {
    const b = this.body;
    const n = this.notation;
    const tv = timeVar(n);
    const x = labelText(varLabel("x", n), n, timeIndex("t", n));
    const y = labelText(varLabel("y", n), n, timeIndex("t", n));
    el("p", "hint", b, tr("ed.data.hint", { x, y, t: tv }));
    if (this.studio.trace?.sizes?.n) {
      // a mini-batch's inputs are n×T×D: its sequences are written a line each in the data box
      el("p", "hint ed-batch", b, tr("ed.data.batch", { n: this.studio.trace.sizes.n }));
      return;
    }
    const { inputs, targets, own } = this.dataShown();
    if (!own) el("p", "hint ed-derived", b, tr("ed.data.derived"));
    for (const e of this.groupErrors) this.message(b, e);
    const row = el("div", "ed-data", b);
    const vocab = own ? null : this.studio.trace?.vocab;
    const stepLabel = (r) => `${tv} = ${r + 1}`;
    const classes = !Array.isArray(targets[0]);
    const put = (nextInputs, nextTargets) => this.setData(nextInputs, nextTargets);
    const inBox = this.gridBox(row, {
      name: "data.inputs",
      title: tr("ed.inputs", { x }),
      rowLabel: stepLabel,
      colLabel: (c) => (vocab?.[c] !== undefined ? TraceIndex.shown(vocab[c]) : String(c + 1)),
      values: inputs,
      onChange: (v) => put(v, targets),
    });
    const outBox = this.gridBox(row, {
      name: "data.targets",
      title: tr(classes ? "ed.targets.classes" : "ed.targets.values", { y }),
      vector: classes,
      rowLabel: stepLabel,
      colLabel: (c) => String(c + 1),
      values: targets,
      onChange: (v) => put(inputs, v),
    });
    // a token's name beside its class id, while the data is the API's encoding of a text
    if (classes && vocab) {
      for (const input of outBox.querySelectorAll("input.cell")) {
        const id = targets[Number(input.dataset.row)];
        const tag = el("span", "ed-token", input.parentElement, TraceIndex.shown(vocab[id] ?? ""));
        tag.dataset.raw = "";
      }
    }
    const tools = el("div", "ed-tools", b);
    const D = Math.max(0, ...inputs.map((r) => r.length));
    const K = classes ? 0 : Math.max(0, ...targets.map((r) => r.length));
    const zeros = (k) => new Array(k).fill(0);
    const button = (key, action, disabled = false) => {
      const btn = el("button", "btn", tools, tr(key));
      btn.type = "button";
      btn.dataset.action = key;
      btn.disabled = disabled;
      btn.addEventListener("click", action);
    };
    button("ed.addStep", () => put([...inputs, zeros(D)], [...targets, classes ? 0 : zeros(K)]));
    button(
      "ed.removeStep",
      () => put(inputs.slice(0, -1), targets.slice(0, -1)),
      inputs.length <= 1,
    );
    button("ed.addInput", () =>
      put(
        inputs.map((r) => [...r, 0]),
        targets,
      ),
    );
    button(
      "ed.removeInput",
      () =>
        put(
          inputs.map((r) => r.slice(0, -1)),
          targets,
        ),
      D <= 1,
    );
    if (!classes) {
      button("ed.addOutput", () =>
        put(
          inputs,
          targets.map((r) => [...r, 0]),
        ),
      );
      button(
        "ed.removeOutput",
        () =>
          put(
            inputs,
            targets.map((r) => r.slice(0, -1)),
          ),
        K <= 1,
      );
    }
    inBox.dataset.box = "inputs";
    outBox.dataset.box = "targets";
  }

  // ---- weights and the initial state ---------------------------------------------------------------

  drawWeights() {
    const b = this.body;
    const s = this.scenario;
    const config = this.studio.trace?.config ?? {};
    el("p", "hint", b, tr("ed.weights.hint"));
    const own = Boolean(s.params);
    const rho = s.spectral_radius ?? (own ? null : config.spectral_radius);
    let status;
    if (own) status = rho ? tr("ed.weights.ownRho", { rho: num(rho) }) : tr("ed.weights.own");
    else {
      const seed = s.seed ?? config.seed ?? 0;
      status = rho
        ? tr("ed.weights.seededRho", { seed, rho: num(rho) })
        : tr("ed.weights.seeded", { seed });
    }
    const line = el("p", "ed-status", b, status);
    line.id = "ed-weights-status";
    line.dataset.own = String(own);
    this.drawWeightTools(b, own);
    this.note_(b);
    for (const e of this.groupErrors) this.message(b, e);
    const spec = this.spec;
    if (!spec) return;
    const holder = el("div", "ed-weights", b);
    holder.dataset.loading = "true";
    const states = el("div", "ed-states", b);
    this.drawStates(states);
    const drawn = this.scenario;
    this.params()
      .then((params) => {
        if (this.scenario !== drawn || !holder.isConnected) return;
        delete holder.dataset.loading;
        this.drawParams(holder, params);
      })
      .catch((err) => {
        delete holder.dataset.loading;
        const key = err?.kind === "too_large" ? "ed.seed.tooLarge" : "ed.seed.failed";
        const p = el("p", "cell-error", holder, tr(key));
        p.setAttribute("role", "alert");
      });
    el("p", "hint", holder, tr("ed.loading"));
  }

  drawWeightTools(parent, own) {
    const tools = el("div", "ed-tools", parent);
    const fill = el("button", "btn", tools, tr("ed.fill"));
    fill.type = "button";
    fill.id = "ed-fill";
    fill.addEventListener("click", () => this.run("fill"));
    const rescale = el("div", "ed-rescale", tools);
    const label = el("label", "", rescale, tr("ed.rescale.label"));
    label.htmlFor = "ed-rho";
    const input = el("input", "", rescale);
    input.id = "ed-rho";
    input.type = "text";
    input.inputMode = "decimal";
    input.value = this.rho ?? String(this.scenario.spectral_radius ?? 1);
    input.addEventListener("input", () => {
      this.rho = input.value;
    });
    const go = el("button", "btn", rescale, tr("ed.rescale"));
    go.type = "button";
    go.id = "ed-rescale";
    go.addEventListener("click", () => this.run("rescale", input.value));
    if (own) {
      const drop = el("button", "btn link", tools, tr("ed.dropOwn"));
      drop.type = "button";
      drop.id = "ed-drop";
      drop.addEventListener("click", () => {
        this.note = null;
        this.write({ params: undefined, spectral_radius: undefined });
      });
    }
    for (const btn of tools.querySelectorAll("button")) btn.disabled = this.busy;
  }

  /** Fill from seed, or rescale to a spectral radius: ask the API, take its params. */
  async run(action, radiusText = null) {
    this.busy = true;
    this.note = { key: "ed.loading", state: "busy" };
    this.refresh();
    try {
      let params;
      if (action === "fill") {
        // exactly the weights of the seeded pass: drawn, and rescaled as the scenario says
        const config = this.settingsTrace?.config;
        params = await this.ask({ radius: this.scenario.spectral_radius });
        this.note = { key: "ed.filled", args: { seed: config?.seed ?? this.scenario.seed ?? 0 } };
      } else {
        const text = String(radiusText ?? "")
          .replace(",", ".")
          .trim();
        const radius = Number(text);
        if (text === "" || !Number.isFinite(radius)) {
          this.note = { key: "error.number", state: "bad" };
          return;
        }
        params = await this.ask({ radius, params: this.scenario.params ?? null });
        this.note = { key: "ed.rescaled", args: { rho: text } };
      }
      this.setParams(params);
    } catch (err) {
      const field = err instanceof ApiError ? err.fields.find((f) => f.path) : null;
      this.note = field
        ? { key: "ed.seed.refused", args: { msg: field.msg }, state: "bad" }
        : { key: err?.kind === "too_large" ? "ed.seed.tooLarge" : "ed.seed.failed", state: "bad" };
    } finally {
      this.busy = false;
      this.refresh();
    }
  }

  drawParams(holder, params) {
    holder.replaceChildren();
    const spec = this.spec;
    const names = specParams(spec).filter((p) => p in params);
    const total = names.reduce((n, p) => n + JSON.stringify(params[p]).split(",").length, 0);
    let shown = names;
    if (total > ALL_AT_ONCE) {
      this.chosen = names.includes(this.chosen) ? this.chosen : names[0];
      shown = [this.chosen];
      const chips = el("div", "ed-chips", holder);
      chips.setAttribute("role", "group");
      chips.setAttribute("aria-label", tr("ed.pick"));
      for (const p of names) {
        const chip = el("button", "chip", chips, this.paramName(p));
        chip.type = "button";
        chip.dataset.param = p;
        chip.dataset.raw = "";
        chip.setAttribute("aria-pressed", String(p === this.chosen));
        if (this.errors.has(`params.${p}`)) chip.classList.add("is-invalid");
        chip.addEventListener("click", () => {
          this.chosen = p;
          this.drawParams(holder, params);
        });
      }
    }
    const grids = el("div", "ed-grids", holder);
    for (const p of shown) this.paramBox(grids, p, params);
  }

  /** A parameter's name in the notation in use: "W", "W_hh", "W_f[:,a]". */
  paramName(name) {
    return labelText(paramLabel(name, this.cell, this.notation), this.notation);
  }

  paramBox(parent, name, params) {
    const spec = this.spec.params[name];
    const [, right] = spec.factors;
    const vector = spec.shape.length === 1;
    // a stack's layer j >= 2 multiplies the layer below's h(t), not x(t): its columns are that
    // layer's units, not the vocabulary
    const layer = paramLayer(name);
    const below = right === "x" && layer > 1;
    const vocab = right === "x" && !below ? this.studio.trace?.vocab : null;
    const caption = below
      ? tr("ed.multipliesBelow", { v: rightText("h", this.notation), j: layer - 1 })
      : right
        ? tr("ed.multiplies", { v: rightText(right, this.notation) })
        : tr("ed.bias");
    this.gridBox(parent, {
      name: `params.${name}`,
      title: this.paramName(name),
      symbol: true,
      caption: ` ${spec.shape.join(" × ")} · ${caption}`,
      vector,
      colLabel: (c) => (vocab?.[c] !== undefined ? TraceIndex.shown(vocab[c]) : String(c + 1)),
      values: params[name],
      onChange: (value) => {
        const next = structuredClone(params);
        next[name] = value;
        this.note = null;
        this.setParams(next);
      },
    }).dataset.param = name;
  }

  drawStates(parent) {
    const n = this.notation;
    el("h3", "ed-sub", parent, tr("ed.state"));
    el("p", "hint", parent, tr("ed.state.hint"));
    const names = this.spec?.state ?? ["h"];
    let own = false;
    const grids = el("div", "ed-grids", parent);
    // a stack: one grid a layer, bottom first; a change writes the whole num_layers × H state
    const layers = this.studio.index?.layers ?? 1;
    for (const name of names) {
      if (layers === 1) {
        const shown = this.stateShown(name);
        own ||= shown.own;
        this.gridBox(grids, {
          name: `${name}0`,
          title: labelText(varLabel(name, n), n, 0),
          symbol: true,
          vector: true,
          values: shown.values,
          onChange: (v) => this.write({ [`${name}0`]: v }),
        });
        continue;
      }
      const rows = Array.from({ length: layers }, (_, k) => this.stateShown(name, k + 1));
      own ||= rows.some((r) => r.own);
      rows.forEach((shown, k) => {
        this.gridBox(grids, {
          name: `${name}0.${k}`,
          title: tr("ed.stateLayer", { v: labelText(varLabel(name, n), n, 0), j: k + 1 }),
          symbol: true,
          vector: true,
          values: shown.values,
          onChange: (v) => {
            const all = rows.map((r) => [...r.values]);
            all[k] = v;
            this.write({ [`${name}0`]: all });
          },
        });
      });
    }
    if (own) {
      const zeros = el("button", "btn link", parent, tr("ed.state.zeros"));
      zeros.type = "button";
      zeros.id = "ed-state-zeros";
      const off = Object.fromEntries(names.map((name) => [`${name}0`, undefined]));
      zeros.addEventListener("click", () => this.write(off));
    }
  }
}

let editors = null;

/** The page's editors (made once); `studio`, `store` and the section they draw into. */
export function attach(options) {
  editors ??= new Editors(options);
  return editors;
}
