// The scenario controls: preset, own data, cell and sizes, loss, truncation, optimizer,
// clipping, seed, spectral radius; training, gradient check, export and share. Controls only
// write the scenario into the store; API errors come back here and are shown beside the
// control that owns the field.
import { api } from "../state/api.js";
import { cellModule, DEFAULT_CELL } from "../cells/index.js";
import { WORKSHEET } from "../util/config.js";
import { apiDetail } from "../util/dom.js";
import { num } from "../text/format.js";
import { hasOwnArrays } from "../state/fragment.js";
import { isRandomized } from "../state/state.js";
import { has, t as tr, tp } from "../text/i18n.js";
import { seriesText, seriesValues } from "../text/numbers.js";

// The controls own the sidebar and the few top-bar items of their actions (share): every id
// looked up here is one of theirs.
const $ = (id) => document.getElementById(id);

// The keep probability a randomized truncation starts from when it is chosen (the p field
// says it; repair.js fills it in the same way).
export const DEFAULT_KEEP = 0.5;

/** The kind of a scenario's data: "text", "words", "series", or null (a preset, arrays). */
export function dataKind(data) {
  if (!data) return null;
  if (Array.isArray(data.batch)) return dataKind(data.batch[0]);
  return ["text", "words", "series"].find((k) => k in data) ?? null;
}

/** The data box's text of a sequence of that kind (a series by the rule of the language). */
function boxText(data, kind, lang) {
  const v = data?.[kind];
  if (v === undefined) return "";
  return Array.isArray(v) ? seriesText(v, lang) : String(v);
}

// API error location (dotted, without "body") -> the error slot next to its control.
const SLOTS = [
  ["data.inputs", "editors"],
  ["data.targets", "editors"],
  ["data", "data"],
  ["hidden_size", "hidden"],
  ["num_layers", "layers"],
  ["cell", "cell"],
  ["activation", "activation"],
  ["loss_at", "loss-at"],
  ["loss", "loss"],
  ["reduction", "loss"],
  ["truncation.k1", "k1"],
  ["truncation.k2", "k2"],
  ["truncation.p", "p"],
  ["truncation", "k1"],
  ["optimizer.lr", "lr"],
  ["optimizer", "opt"],
  ["clip.max", "clip-max"],
  ["clip", "clip"],
  ["seed", "seed"],
  ["spectral_radius", "rho"],
  ["forget_bias", "general"],
  ["output_size", "general"],
  ["iterations", "train"],
  ["record_every", "train"],
  ["params", "editors"],
  ["h0", "editors"],
  ["c0", "editors"],
];

export function slotFor(path) {
  for (const [prefix, slot] of SLOTS) {
    if (path === prefix || path.startsWith(`${prefix}.`)) return slot;
  }
  return "general";
}

// pydantic error types that have a message of our own; anything else shows the API's text.
export const KNOWN = new Set([
  "greater_than_equal",
  "less_than_equal",
  "greater_than",
  "less_than",
  "int_parsing",
  "int_type",
  "float_parsing",
  "float_type",
  "missing",
  "literal_error",
  "string_too_long",
  "string_too_short",
  "too_long",
  "too_short",
  "enum",
]);

export class Controls {
  /** handlers: onTrain, onUntrain, onGradcheck, onExportJson, onExportCsv, onExportTraceCsv,
   * onWorksheet, onEditors, onExportTorch, onShare (what the sidebar's buttons ask for). */
  constructor({ store, container, ...handlers }) {
    this.store = store;
    this.container = container;
    this.presets = [];
    this.config = null;
    this.sizes = null;
    this.handlers = handlers;
    this.bind();
  }

  scenario() {
    return structuredClone(this.store.get().scenario);
  }

  set(field, value) {
    this.store.setScenarioField(field, value);
  }

  /** A number from an input, or a client-side error in the control's slot. */
  number(input, slot, { integer = false, optional = false } = {}) {
    const text = input.value.trim();
    if (text === "" && optional) return null;
    const value = Number(text.replace(",", "."));
    if (text === "" || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
      this.showSlot(slot, tr(integer ? "error.integer" : "error.number"));
      return undefined;
    }
    this.showSlot(slot, "");
    return value;
  }

  bind() {
    this.bindScenario();
    this.bindModel();
    this.bindSchedule();
    this.bindActions();
  }

  /** The example and the student's own data. */
  bindScenario() {
    $("ctl-preset").addEventListener("change", (e) => {
      const id = e.target.value;
      const preset = this.presets.find((p) => p.id === id);
      if (!preset) return;
      this.clearErrors();
      this.store.update({ scenario: structuredClone(preset.request) });
    });
    const applyData = () => {
      const kind = $("ctl-data-kind").value;
      // one sequence per line; several lines are a mini-batch (the rule under the box)
      const lines = $("ctl-data")
        .value.split(/\r?\n/)
        .filter((line) => line.trim());
      if (!lines.length) return;
      const sequences = [];
      for (const text of lines) {
        if (kind !== "series") {
          sequences.push({ [kind]: text });
          continue;
        }
        // by the rule of the page's language, stated under the box (numbers.js)
        const read = seriesValues(text, this.store.get().lang);
        if (read.error) {
          const key = read.error === "ambiguous" ? "error.seriesAmbiguous" : "error.series";
          this.showSlot("data", tr(key, { entry: read.entry }));
          return;
        }
        sequences.push({ series: read.values });
      }
      const data = sequences.length > 1 ? { batch: sequences } : sequences[0];
      this.showSlot("data", "");
      const s = this.scenario();
      s.data = data;
      delete s.train;
      this.store.update({ scenario: s });
    };
    $("ctl-data").addEventListener("change", applyData);
    $("ctl-data").addEventListener("input", () => this.fitDataRows());
    $("ctl-data").addEventListener("keydown", (e) => {
      // Enter computes; Shift+Enter starts the next sequence of a mini-batch
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        applyData();
      }
    });
    $("ctl-data-kind").addEventListener("change", () => {
      this.syncDataRule();
      applyData();
    });
  }

  /** The box as tall as its sequences (one a line), from 2 to 6 lines. */
  fitDataRows() {
    const lines = $("ctl-data").value.split("\n").length;
    $("ctl-data").rows = Math.max(2, Math.min(6, lines));
  }

  /** Under the box, how it reads numbers (shown while the kind of data is "Numbers"). */
  syncDataRule() {
    $("data-rule").hidden = $("ctl-data-kind").value !== "series";
  }

  /** The network: cell, sizes, activation, loss, seed and spectral radius. */
  bindModel() {
    $("ctl-cell").addEventListener("change", (e) => this.set("cell", e.target.value));
    $("ctl-activation").addEventListener("change", (e) => this.set("activation", e.target.value));
    $("ctl-loss").addEventListener("change", (e) => this.set("loss", e.target.value || null));
    $("ctl-loss-at").addEventListener("change", (e) => this.set("loss_at", e.target.value));
    $("ctl-hidden").addEventListener("change", (e) => {
      const v = this.number(e.target, "hidden", { integer: true });
      if (v !== undefined) this.set("hidden_size", v);
    });
    $("ctl-layers").addEventListener("change", (e) => {
      const v = this.number(e.target, "layers", { integer: true });
      if (v !== undefined) this.set("num_layers", v);
    });
    $("ctl-seed").addEventListener("change", (e) => {
      const v = this.number(e.target, "seed", { integer: true });
      if (v !== undefined) this.set("seed", v);
    });
    $("ctl-rho").addEventListener("change", (e) => {
      const v = this.number(e.target, "rho", { optional: true });
      if (v !== undefined) this.set("spectral_radius", v);
    });
  }

  /** The truncation chosen: fixed BPTT(k1, k2) or randomized (p); the optimizer and clipping. */
  bindSchedule() {
    const applyTrunc = () => {
      if (!$("ctl-trunc").checked) {
        for (const slot of ["k1", "k2", "p"]) this.showSlot(slot, "");
        this.set("truncation", null);
        this.syncEnabled();
        return;
      }
      this.syncEnabled();
      if ($("ctl-trunc-randomized").checked) {
        this.showSlot("k1", "");
        this.showSlot("k2", "");
        const p = this.number($("ctl-p"), "p");
        if (p !== undefined) this.set("truncation", { mode: "randomized", p });
        return;
      }
      this.showSlot("p", "");
      const k1 = this.number($("ctl-k1"), "k1", { integer: true });
      const k2 = this.number($("ctl-k2"), "k2", { integer: true, optional: true });
      if (k1 === undefined || k2 === undefined) return;
      this.set("truncation", k2 === null ? { k1 } : { k1, k2 });
    };
    for (const id of ["ctl-trunc", "ctl-trunc-fixed", "ctl-trunc-randomized"]) {
      $(id).addEventListener("change", applyTrunc);
    }
    for (const id of ["ctl-k1", "ctl-k2", "ctl-p"]) $(id).addEventListener("change", applyTrunc);
    const applyOpt = () => {
      const lr = this.number($("ctl-lr"), "lr");
      if (lr === undefined) return;
      this.set("optimizer", { name: $("ctl-opt").value, lr });
    };
    $("ctl-opt").addEventListener("change", applyOpt);
    $("ctl-lr").addEventListener("change", applyOpt);
    const applyClip = () => {
      const mode = $("ctl-clip").value;
      this.syncEnabled();
      if (!mode) {
        this.showSlot("clip-max", "");
        this.set("clip", null);
        return;
      }
      const max = this.number($("ctl-clip-max"), "clip-max");
      if (max === undefined) return;
      this.set("clip", { mode, max });
    };
    $("ctl-clip").addEventListener("change", applyClip);
    $("ctl-clip-max").addEventListener("change", applyClip);
  }

  /** Training, the gradient check, the exports and sharing: handed to the studio. */
  bindActions() {
    $("btn-train").addEventListener("click", () => {
      const n = this.number($("ctl-train-n"), "train", { integer: true });
      if (n === undefined) return;
      if (n < 1) {
        this.showSlot("train", tr("error.greater_than_equal", { limit: 1 }));
        return;
      }
      this.handlers.onTrain(n);
    });
    $("btn-untrain").addEventListener("click", () => this.handlers.onUntrain());
    $("btn-gradcheck").addEventListener("click", () => this.handlers.onGradcheck());
    $("btn-export-json").addEventListener("click", () => this.handlers.onExportJson());
    $("btn-export-csv").addEventListener("click", () => this.handlers.onExportCsv());
    $("btn-export-trace-csv").addEventListener("click", () => this.handlers.onExportTraceCsv());
    $("btn-worksheet-key").addEventListener("click", () => this.handlers.onWorksheet("key"));
    $("btn-worksheet-blank").addEventListener("click", () => this.handlers.onWorksheet("blank"));
    $("btn-editors").addEventListener("click", () => this.handlers.onEditors());
    $("btn-export-torch").addEventListener("click", () => this.handlers.onExportTorch());
    $("btn-share").addEventListener("click", () => this.handlers.onShare());
  }

  /** Ask the API for the examples once; say so when they cannot be had. */
  loadPresets() {
    api
      .presets()
      .then((list) => this.setPresets(list))
      .catch(() => {
        this.showSlot("general", tr("error.presets"));
      });
  }

  setPresets(list) {
    this.presets = Array.isArray(list) ? list : [];
    this.relabel();
    this.sync(this.config);
  }

  /** Texts of options built from data (preset titles). */
  relabel() {
    const sel = $("ctl-preset");
    const value = sel.value;
    sel.replaceChildren();
    const custom = document.createElement("option");
    custom.value = "";
    custom.dataset.i18n = "ctl.preset.custom";
    custom.textContent = tr("ctl.preset.custom");
    sel.appendChild(custom);
    for (const p of this.presets) {
      const o = document.createElement("option");
      o.value = p.id;
      const key = `preset.${p.id}.title`;
      if (has(key)) {
        o.textContent = tr(key);
        o.dataset.i18n = key;
      } else {
        o.textContent = p.title; // a preset newer than the catalogues: the API's own title
        o.dataset.raw = "";
      }
      sel.appendChild(o);
    }
    sel.value = value;
    this.describePreset();
  }

  describePreset() {
    const id = $("ctl-preset").value;
    const desc = $("preset-desc");
    const preset = this.presets.find((p) => p.id === id);
    if (preset && !has(`preset.${id}.description`)) {
      delete desc.dataset.i18n;
      desc.dataset.raw = "";
      desc.textContent = preset.description;
    } else if (preset) {
      delete desc.dataset.raw;
      desc.dataset.i18n = `preset.${id}.description`;
      desc.textContent = tr(desc.dataset.i18n);
    } else {
      delete desc.dataset.i18n;
      delete desc.dataset.raw;
      desc.textContent = "";
    }
  }

  /**
   * Show the scenario: what the user set, else what the API filled in (config). A preset's
   * kind of data is the one GET /presets names (text, words, series; explicit arrays are the
   * editors' to show).
   * sizes: the trace's T, D, H, K (whether the worksheet is available).
   */
  sync(config, sizes = undefined) {
    if (config) this.config = config;
    if (sizes !== undefined) this.sizes = sizes;
    const s = this.store.get().scenario;
    const c = { ...(this.config || {}), ...s };
    const data = s.data || {};
    const preset = data.preset ? this.presets.find((p) => p.id === data.preset) : null;
    $("ctl-preset").value = preset ? data.preset : "";
    this.describePreset();
    // the kind of data shown is the scenario's own, a preset's included
    if (preset && preset.kind !== "arrays") $("ctl-data-kind").value = preset.kind;
    if (!data.preset) {
      const kind = dataKind(data);
      if (kind) {
        $("ctl-data-kind").value = kind;
        const lang = this.store.get().lang;
        const sequences = Array.isArray(data.batch) ? data.batch : [data];
        const text = sequences.map((d) => boxText(d, kind, lang)).join("\n");
        if (document.activeElement !== $("ctl-data")) $("ctl-data").value = text;
      }
    } else if (document.activeElement !== $("ctl-data")) {
      $("ctl-data").value = "";
    }
    this.fitDataRows();
    this.syncDataRule();
    // explicit arrays are edited in the editors, not typed here
    if (hasOwnArrays(data) && document.activeElement !== $("ctl-data")) $("ctl-data").value = "";
    const setv = (id, v) => {
      const el = $(id);
      if (document.activeElement === el) return;
      el.value = v === null || v === undefined ? "" : String(v);
    };
    setv("ctl-cell", c.cell || DEFAULT_CELL);
    setv("ctl-hidden", c.hidden_size ?? 4);
    setv("ctl-layers", c.num_layers ?? 1);
    setv("ctl-activation", c.activation || "tanh");
    setv("ctl-loss", s.loss || "");
    setv("ctl-loss-at", c.loss_at || "every");
    $("ctl-trunc").checked = Boolean(c.truncation);
    const randomized = isRandomized(c.truncation);
    $("ctl-trunc-randomized").checked = randomized;
    $("ctl-trunc-fixed").checked = !randomized;
    setv("ctl-k1", c.truncation?.k1 ?? "");
    setv("ctl-k2", c.truncation?.k2 ?? "");
    setv("ctl-p", randomized ? c.truncation.p : "");
    setv("ctl-opt", c.optimizer?.name || "sgd");
    setv("ctl-lr", c.optimizer?.lr ?? 0.1);
    setv("ctl-clip", c.clip?.mode || "");
    setv("ctl-clip-max", c.clip?.max ?? "");
    setv("ctl-seed", c.seed ?? 0);
    setv("ctl-rho", c.spectral_radius ?? "");
    const lossAuto = $("ctl-loss").querySelector('option[value=""]');
    if (lossAuto) {
      lossAuto.textContent = this.config?.loss
        ? tr("ctl.loss.auto", { loss: tr(`ctl.loss.${this.config.loss}`) })
        : tr("ctl.loss.fromData");
    }
    this.syncEnabled();
    this.syncStack(c.num_layers ?? 1);
    const trained = this.store.get().scenario.train;
    $("btn-untrain").hidden = !trained;
    $("train-status").textContent = trained ? tp("ctl.trained", trained) : "";
    this.syncOwn(s);
  }

  /**
   * A stack of layers: the API plants a bug hunt's bug in one layer's pass only (it refuses
   * num_layers > 1 with a bug); the top bar does not offer the hunt, and the note under the
   * layers says why.
   */
  syncStack(layers) {
    $("stack-note").hidden = !(layers > 1);
  }

  /** Whose numbers are in use (the editors' own), and whether the worksheet is available. */
  syncOwn(s) {
    const own = [
      s.params && "ctl.own.weights",
      (s.h0 || s.c0) && "ctl.own.state",
      hasOwnArrays(s.data) && "ctl.own.data",
    ].filter(Boolean);
    $("own-status").replaceChildren(
      ...own.map((key) => {
        const line = document.createElement("span");
        line.className = "own-line";
        line.textContent = tr(key);
        return line;
      }),
    );
    const z = this.sizes;
    // the worksheet writes one layer's pass (its tables have a column a step): not a stack's
    const stacked = (z?.layers ?? 1) > 1;
    const fits =
      z &&
      !stacked &&
      z.T <= WORKSHEET.maxSteps &&
      z.H <= WORKSHEET.maxHidden &&
      Math.max(z.D, z.K) <= WORKSHEET.maxInputs;
    for (const id of ["btn-worksheet-key", "btn-worksheet-blank"]) $(id).disabled = !fits;
    const hint = $("worksheet-hint");
    hint.dataset.i18n =
      fits || !z
        ? "ctl.worksheet.hint"
        : stacked
          ? "ctl.worksheet.stack"
          : "ctl.worksheet.unavailable";
    const args = z ? { ...z, maxT: WORKSHEET.maxSteps, maxH: WORKSHEET.maxHidden } : {};
    args.maxD = WORKSHEET.maxInputs;
    hint.dataset.i18nArgs = JSON.stringify(args);
    hint.textContent = tr(hint.dataset.i18n, args);
  }

  /**
   * The field a comparison sets in each of its columns (compare-plan.js): its control is
   * disabled and says so while the comparison is on; null when there is none.
   */
  setCompared(mode) {
    this.compared = mode || null;
    this.syncEnabled();
  }

  syncEnabled() {
    const compared = this.compared;
    const chooses = cellModule($("ctl-cell").value)?.choosesActivation;
    // comparing cells, the vanilla RNN's column uses the activation whatever the cell control says
    $("ctl-activation").disabled = !chooses && compared !== "cell";
    for (const [id, mode] of [
      ["ctl-cell", "cell"],
      ["ctl-loss-at", "loss_at"],
    ]) {
      const el = $(id);
      el.disabled = compared === mode;
      if (compared === mode) el.title = tr("cmp.controlled");
      else el.removeAttribute("title");
    }
    // the hint names the task's shape for the choice made (many-to-many or many-to-one)
    const lossAtHint = $("loss-at-hint");
    lossAtHint.dataset.i18n = `ctl.lossAt.${$("ctl-loss-at").value || "every"}Hint`;
    lossAtHint.textContent = tr(lossAtHint.dataset.i18n);
    const trunc = $("ctl-trunc").checked;
    const randomized = trunc && $("ctl-trunc-randomized").checked;
    for (const id of ["ctl-k1", "ctl-k2", "ctl-trunc-fixed", "ctl-trunc-randomized"]) {
      $(id).disabled = !trunc;
    }
    // the fields of the truncation chosen: k1 and k2 (shown, disabled, while off), or p
    $("trunc-fixed-fields").hidden = randomized;
    $("trunc-randomized-fields").hidden = !randomized;
    // ticking Truncate starts from k1 = 3 (randomized: p = 0.5), written in the field and said
    // in the hint below
    if (trunc && !randomized && !$("ctl-k1").value) $("ctl-k1").value = "3";
    if (randomized && !$("ctl-p").value) $("ctl-p").value = String(DEFAULT_KEEP);
    const hint = $("trunc-hint");
    const k1 = $("ctl-k1").value;
    const k2 = $("ctl-k2").value || k1;
    const args = randomized ? { p: $("ctl-p").value } : { k1, k2 };
    hint.dataset.i18n = randomized
      ? "ctl.trunc.randomized"
      : trunc
        ? "ctl.trunc.on"
        : "ctl.trunc.hint";
    hint.dataset.i18nArgs = JSON.stringify(args);
    hint.textContent = tr(hint.dataset.i18n, args);
    $("ctl-clip-max").disabled = !$("ctl-clip").value;
    if ($("ctl-clip").value && !$("ctl-clip-max").value) $("ctl-clip-max").value = "1";
  }

  setBusy(busy) {
    this.container.setAttribute("aria-busy", String(busy));
    $("busy").hidden = !busy;
  }

  /**
   * The gradient check's status line, kept as a catalogue key (and its arguments) so that a
   * language switch re-translates it; state: "running", "ok", "bad" or "failed".
   */
  setCheck(key, args, state) {
    const status = $("gradcheck-status");
    status.dataset.i18n = key;
    if (args) status.dataset.i18nArgs = JSON.stringify(args);
    else delete status.dataset.i18nArgs;
    status.textContent = tr(key, args);
    status.dataset.state = state;
    $("btn-gradcheck").disabled = state === "running";
  }

  /**
   * The PyTorch check's status line, a catalogue key like the gradient check's; the button
   * waits while the script is being made (state "running").
   */
  setTorch(key, state) {
    const status = $("torch-status");
    status.dataset.i18n = key;
    status.textContent = tr(key);
    status.dataset.state = state;
    $("btn-export-torch").disabled = state === "running";
  }

  /** The link to share, selected in its box; copied says whether the clipboard took it. */
  showShare(url, copied) {
    const box = $("share-url");
    box.value = url;
    box.hidden = false;
    if (!copied) box.select();
    $("share-status").textContent = tr(copied ? "share.copied" : "share.select");
  }

  showSlot(slot, text, detail = "") {
    const el = $(`err-${slot}`) || $("err-general");
    el.replaceChildren();
    if (text) {
      const main = document.createElement("span");
      main.textContent = text;
      el.appendChild(main);
      apiDetail(el, detail);
    }
    el.hidden = !text;
    const control = el.previousElementSibling?.matches?.("input, select")
      ? el.previousElementSibling
      : null;
    const owner = this.container.querySelector(`[aria-describedby~="err-${slot}"]`) || control;
    if (owner) owner.setAttribute("aria-invalid", text ? "true" : "false");
  }

  clearErrors() {
    for (const el of this.container.querySelectorAll(".field-error")) {
      el.replaceChildren();
      el.hidden = true;
    }
    for (const el of this.container.querySelectorAll("[aria-invalid=true]")) {
      el.setAttribute("aria-invalid", "false");
    }
  }

  /** Put an ApiError's messages beside the controls that own the fields. */
  showApiError(err) {
    if (err.kind === "network") {
      this.showSlot("general", tr("error.network"));
      return;
    }
    if (err.kind === "too_large") {
      this.showSlot("hidden", tr("error.tooLarge"));
      return;
    }
    if (err.kind === "server") {
      this.showSlot("general", tr("error.server", { status: err.status }));
      return;
    }
    const bySlot = new Map();
    for (const f of err.fields.length ? err.fields : [{ path: "", msg: "", type: "" }]) {
      const slot = slotFor(f.path);
      const ctx = f.ctx || {};
      const limit = ctx.ge ?? ctx.gt ?? ctx.le ?? ctx.lt ?? ctx.min_length ?? ctx.max_length ?? "";
      const text = KNOWN.has(f.type)
        ? tr(`error.${f.type}`, { limit: num(limit) })
        : tr("error.rejected");
      // the API's own (English) words only where we have no message of our own
      if (!bySlot.has(slot)) bySlot.set(slot, { text, detail: KNOWN.has(f.type) ? "" : f.msg });
    }
    for (const [slot, { text, detail }] of bySlot) this.showSlot(slot, text, detail);
  }
}
