// The printable worksheet of a small scenario (/worksheet, the studio's link to it): every
// number of one pass in tables, for homework and its answer key. The givens (inputs, targets,
// the initial state and weights, the learning rate), then the forward pass, the backward pass
// (each error signal and local gradient), each step's contribution to every gradient with the
// running sum, and the update. The answer key writes every number; the blank variant leaves
// the computed ones as boxes to fill in. Every number is the API's (the same request as the
// studio's, read from the same link), written in the notation and language of the link.
// Each number is a .ws-num (or, blank, a .ws-box) with data-field (its path in the trace:
// "events.3.h", "updates.0.grads.W", "params.U") and data-index ("r" or "r,c").
import { cellModule, gatedPrevOf, loadCell } from "../cells/index.js";
import { WORKSHEET } from "../util/config.js";
import { applyTranslations, setLanguage, t as tr } from "../text/i18n.js";
import { num, raw } from "../text/format.js";
import {
  contribText,
  deltaLabel,
  errorSign,
  gateLabel,
  labelText,
  NOTATIONS,
  paramLabel,
  specParams,
  timeIndex,
  timeVar,
  varLabel,
} from "../text/notation.js";
import { TraceSource } from "../state/source.js";
import { fromUrl, isRandomized } from "../state/state.js";
import { TraceIndex } from "../state/trace.js";
import { el } from "../util/dom.js";

const $ = (id) => document.getElementById(id);

/** Why a trace is too large for a worksheet (a catalogue key and its arguments), or null. */
export function tooLarge(sizes) {
  const { T, H, D, K } = sizes;
  const fits =
    T <= WORKSHEET.maxSteps && H <= WORKSHEET.maxHidden && Math.max(D, K) <= WORKSHEET.maxInputs;
  if (fits) return null;
  return {
    key: "ctl.worksheet.unavailable",
    args: {
      T,
      H,
      D,
      K,
      maxT: WORKSHEET.maxSteps,
      maxH: WORKSHEET.maxHidden,
      maxD: WORKSHEET.maxInputs,
    },
  };
}

class Worksheet {
  constructor({ root, trace, notation, blank, example = 0 }) {
    this.root = root;
    // a mini-batch: the sheet of the link's example (ex=), its events and numbers (trace.js)
    this.index = new TraceIndex(trace, example);
    this.trace = this.index.trace;
    this.n = notation;
    this.blank = blank;
    this.spec = trace.cell_spec;
    this.cell = trace.config.cell;
  }

  // ---- labels ----------------------------------------------------------------------------

  v(name, t = null) {
    return labelText(varLabel(name, this.n), this.n, timeIndex(t, this.n));
  }

  gate(g, t = null) {
    return labelText(gateLabel(g, this.n), this.n, timeIndex(t, this.n));
  }

  /** The symbols the hints name: {t}, {next} (t + 1), {h} (h(t)) in the notation. */
  get symbols() {
    return { t: timeVar(this.n), next: timeIndex("t + 1", this.n), h: this.v("h", "t") };
  }

  delta(gate) {
    return labelText(deltaLabel(gate, this.n), this.n, timeIndex("t", this.n));
  }

  /** The pre-activation of a gate: a_f(t) (Coursera's z_f⟨t⟩, the candidate's a_c̃). */
  pre(g, t) {
    const label = gateLabel(g, this.n);
    const sub = label.s || label.b.replace(/^1?−/, "") + (label.acc === "tilde" ? "\u0303" : "");
    return labelText({ ...varLabel("a", this.n), s: sub }, this.n, timeIndex(t, this.n));
  }

  param(name) {
    return labelText(paramLabel(name, this.cell, this.n), this.n);
  }

  /** The cell's state vectors besides h (the LSTM's c), from the trace's cell_spec. */
  otherStates() {
    return (this.spec.state || []).slice(1);
  }

  /** The recorded right factors that are a gate times h(t−1) (the GRU's rh_prev), in order. */
  rights() {
    const paths = specParams(this.spec).map((name) => this.spec.params[name].factors[1]);
    return [...new Set(paths)].filter((path) => path && gatedPrevOf(path));
  }

  // ---- numbers -----------------------------------------------------------------------------

  /**
   * A number, a vector (a column) or a matrix as the worksheet writes it: `given` numbers are
   * always written; the others are boxes in the blank variant.
   */
  value(parent, value, field, given = false, sign = 1) {
    if (value === undefined) return el("span", "ws-none", parent, "");
    if (!Array.isArray(value)) return this.number(parent, value, field, "", given, sign);
    const rows = Array.isArray(value[0]) ? value : value.map((x) => [x]);
    const table = el("table", "ws-mat", parent);
    rows.forEach((row, r) => {
      const tr_ = el("tr", "", table);
      row.forEach((x, c) => {
        const index = Array.isArray(value[0]) ? `${r},${c}` : String(r);
        this.number(el("td", "", tr_), x, field, index, given, sign);
      });
    });
    return table;
  }

  /**
   * One number: data-value is the API's; the text is as the notation shows it (sign −1: an
   * error quantity in Haykin's notation, whose δ is −∂ℰ/∂v; notation.js errorSign).
   */
  number(parent, x, field, index, given, sign = 1) {
    const box = this.blank && !given;
    const span = el("span", box ? "ws-box" : "ws-num", parent);
    span.dataset.field = field;
    if (index !== "") span.dataset.index = index;
    if (sign === -1) span.dataset.sign = "-1";
    if (!box) {
      const shown = typeof x === "number" && sign === -1 && x !== 0 ? -x : x;
      span.textContent =
        typeof x === "number" || x === null ? num(shown, WORKSHEET.digits) : String(x);
      span.dataset.value = raw(x);
    }
    span.dataset.raw = "";
    return span;
  }

  // ---- the page --------------------------------------------------------------------------------

  /** In the trace's order: each window's forward steps, its backward pass, its update. */
  draw() {
    this.root.replaceChildren();
    this.drawGiven();
    const groups = this.forwardGroups();
    const updates = this.trace.updates || [];
    updates.forEach((update, u) => {
      this.drawForward(groups[u] ?? [], u, u === updates.length - 1);
      this.drawBackward(u, update);
      this.drawContributions(u);
      this.drawUpdate(u, update);
    });
  }

  /** The forward steps that run before each update (with truncation, on its new weights). */
  forwardGroups() {
    const groups = [];
    let steps = [];
    for (const e of this.index.events) {
      if (e.kind === "forward") steps.push(e.t);
      else if (e.kind === "update") {
        groups[e.update] = steps;
        steps = [];
      }
    }
    return groups;
  }

  section(key, args = null) {
    const s = el("section", "ws-section", this.root);
    el("h2", "", s, tr(key, args));
    return s;
  }

  /**
   * A table with a column per step: head cells, then rows [label, note, cells]. `width`: the
   * numbers across one step's cell (a matrix's columns); the steps are split into tables of
   * as many as fit across a page (WORKSHEET.maxAcross numbers), so that nothing is cut off.
   */
  stepTable(parent, steps, rows, width = 1) {
    const per = Math.max(1, Math.floor(WORKSHEET.maxAcross / width));
    for (let k = 0; k < steps.length; k += per) {
      const part = rows.map((row) => ({ ...row, cells: row.cells.slice(k, k + per) }));
      this.stepPart(parent, steps.slice(k, k + per), part);
    }
  }

  stepPart(parent, steps, rows) {
    const wrap = el("div", "ws-table-wrap", parent);
    const table = el("table", "ws-table", wrap);
    const head = el("tr", "", el("thead", "", table));
    el("th", "", head);
    for (const t of steps) {
      const th = el("th", "", head, `${timeVar(this.n)} = ${t}`);
      th.dataset.raw = "";
      th.scope = "col";
    }
    const body = el("tbody", "", table);
    for (const { label, note, cells } of rows) {
      const row = el("tr", "", body);
      const th = el("th", "", row);
      th.scope = "row";
      const sym = el("span", "ws-sym", th, label);
      sym.dataset.raw = "";
      if (note) el("span", "ws-note", th, note);
      for (const fill of cells) fill(el("td", "", row));
    }
    return table;
  }

  drawGiven() {
    const trace = this.trace;
    const s = this.section("ws.given");
    const T = this.index.T;
    const steps = Array.from({ length: T }, (_, k) => k + 1);
    const forward = steps.map((t) => this.index.forward(t));
    const at = (t) => this.index.forwardAt[t];
    const rows = [
      {
        label: this.v("x", "t"),
        note: tr("ws.row.x"),
        cells: forward.map((ev, k) => (td) => {
          this.value(td, ev.x, `events.${at(k + 1)}.x`, true);
          const tok = this.index.tokens(k + 1);
          if (trace.vocab) el("div", "ws-token", td, TraceIndex.shown(tok.x)).dataset.raw = "";
        }),
      },
      {
        label: this.v("y", "t"),
        note: tr("ws.row.y"),
        cells: forward.map((ev, k) => (td) => {
          this.value(td, ev.target, `events.${at(k + 1)}.target`, true);
          const tok = this.index.tokens(k + 1);
          if (trace.vocab) el("div", "ws-token", td, TraceIndex.shown(tok.y)).dataset.raw = "";
        }),
      },
    ];
    this.stepTable(s, steps, rows);
    const first = forward[0];
    const givens = el("div", "ws-givens", s);
    for (const name of this.spec.state) {
      const box = el("div", "ws-given", givens);
      el("div", "ws-sym", box, this.v(name, 0)).dataset.raw = "";
      this.value(box, first?.[`${name}_prev`], `events.${at(1)}.${name}_prev`, true);
    }
    for (const name of specParams(this.spec)) {
      const box = el("div", "ws-given", givens);
      const title = el("div", "ws-sym", box, this.param(name));
      title.dataset.raw = "";
      this.value(box, trace.params[name], `params.${name}`, true);
    }
    const opt = trace.config.optimizer;
    const lr = el("p", "ws-line", s);
    el("span", "", lr, tr("ws.lr"));
    el("span", "", lr, " η = ").dataset.raw = "";
    this.number(lr, opt.lr, "config.optimizer.lr", "", true);
  }

  drawForward(steps, u, last) {
    const many = this.trace.updates.length > 1;
    const s = many
      ? this.section("ws.forwardSteps", { first: steps[0], last: steps.at(-1) })
      : this.section("ws.forward");
    el("p", "hint", s, tr("ws.forward.hint", this.symbols));
    if (u > 0) el("p", "hint", s, tr("ws.forward.after", { u }));
    const at = (t) => this.index.forwardAt[t];
    const ev = (t) => this.index.forward(t);
    const row = (label, note, read, path) => ({
      label,
      note,
      cells: steps.map((t) => (td) => this.value(td, read(ev(t)), `events.${at(t)}.${path}`)),
    });
    const rows = [];
    const gates = this.spec.gates || [];
    if (!gates.length) rows.push(row(this.v("a", "t"), tr("ws.row.a"), (e) => e.a, "a"));
    for (const g of gates) {
      rows.push(row(this.pre(g, "t"), tr("ws.row.pre"), (e) => e.a?.[g], `a.${g}`));
    }
    for (const g of gates) {
      rows.push(row(this.gate(g, "t"), tr("ws.row.gate"), (e) => e.gates?.[g], `gates.${g}`));
    }
    // what the cell records that is a gate times h(t−1) (the GRU's r ⊙ h(t−1)), then its
    // states besides h (the LSTM's c)
    for (const path of this.rights()) {
      const { gate, note } = gatedPrevOf(path);
      const label = `${this.gate(gate, "t")} ⊙ ${this.v("h", "t−1")}`;
      rows.push(row(label, tr(note), (e) => e[path], path));
    }
    for (const s of this.otherStates()) {
      rows.push(row(this.v(s, "t"), tr(`ws.row.${s}`), (e) => e[s], s));
    }
    rows.push(row(this.v("h", "t"), tr("ws.row.h"), (e) => e.h, "h"));
    rows.push(row(this.v("o", "t"), tr("ws.row.o"), (e) => e.o, "o"));
    rows.push(row(this.v("yhat", "t"), tr("ws.row.yhat"), (e) => e.yhat, "yhat"));
    rows.push({
      label: this.v("L", "t"),
      note: tr("ws.row.L"),
      cells: steps.map((t) => (td) => {
        this.value(td, ev(t).loss, `events.${at(t)}.loss`);
        if (!ev(t).loss_injected) el("div", "ws-token", td, tr("ws.notInLoss"));
      }),
    });
    this.stepTable(s, steps, rows);
    if (!last) return;
    const total = el("p", "ws-line", s);
    el("span", "", total, tr("ws.totalLoss"));
    el("span", "", total, ` ${this.v("L")} = `).dataset.raw = "";
    this.number(total, this.trace.loss, "loss", "", false);
  }

  /** The backward steps of update u, in the order they are computed (last step first). */
  backwardOf(u) {
    return this.index.events
      .map((e, i) => [e, i])
      .filter(([e]) => e.kind === "backward" && e.update === u);
  }

  drawBackward(u, update) {
    const many = this.trace.updates.length > 1;
    const [first, last] = update.window;
    const s = this.section(many ? "ws.backwardWindow" : "ws.backward", { first, last });
    el("p", "hint", s, tr("ws.backward.hint", this.symbols));
    if (errorSign("delta", this.n) === -1) el("p", "hint", s, tr("nota.sign"));
    const steps = this.backwardOf(u);
    // an error quantity in Haykin's notation is shown with its sign flipped (errorSign)
    const row = (label, note, path) => ({
      label,
      note,
      cells: steps.map(([e, i]) => (td) => {
        const value = path.split(".").reduce((v, k) => v?.[k], e);
        this.value(td, value, `events.${i}.${path}`, false, errorSign(path, this.n));
      }),
    });
    const sym = this.symbols;
    const rows = [
      row(this.v("g_o", "t"), tr("ws.row.g_o"), "g_o"),
      row(this.v("dh", "t"), tr("ws.row.dhOut"), "dh_out"),
      row(this.v("dh", "t"), tr("ws.row.dhNext", sym), "dh_next"),
      row(this.v("dh", "t"), tr("ws.row.dh", sym), "dh"),
    ];
    for (const s of this.otherStates())
      rows.push(row(this.v(`d${s}`, "t"), tr(`ws.row.d${s}`), `d${s}`));
    const gates = this.spec.gates || [];
    if (!gates.length) rows.push(row(this.delta(null), tr("ws.row.delta"), "delta"));
    for (const g of gates) rows.push(row(this.delta(g), tr("ws.row.deltaGate"), `deltas.${g}`));
    this.stepTable(
      s,
      steps.map(([e]) => e.t),
      rows,
    );
  }

  drawContributions(u) {
    const s = this.section("ws.contrib");
    el("p", "hint", s, tr("ws.contrib.hint"));
    const steps = this.backwardOf(u);
    for (const name of specParams(this.spec)) {
      const [left, right] = this.spec.params[name].factors;
      const group = { names: [name], left, rights: [right] };
      const title = el("h3", "ws-param", s);
      const sym = el("span", "ws-sym", title, `d${this.param(name)}`);
      sym.dataset.raw = "";
      const formula = contribText(group, this.n, timeIndex("t", this.n));
      const f = el("span", "ws-formula", title, ` += ${formula}`);
      f.dataset.raw = "";
      this.stepTable(
        s,
        steps.map(([e]) => e.t),
        [
          {
            label: "",
            note: tr("ws.row.contrib", this.symbols),
            cells: steps.map(([e, i]) => (td) => {
              this.value(td, e.contrib?.[name], `events.${i}.contrib.${name}`);
            }),
          },
          {
            label: "",
            note: tr("ws.row.accum"),
            cells: steps.map(([e, i]) => (td) => {
              this.value(td, e.accum?.[name], `events.${i}.accum.${name}`);
            }),
          },
        ],
        this.spec.params[name].shape[1] || 1,
      );
    }
  }

  drawUpdate(u, update) {
    const many = this.trace.updates.length > 1;
    const s = this.section(many ? "ws.updateN" : "ws.update", { u: u + 1, t: update.t });
    const opt = this.trace.config.optimizer;
    const rule = el("p", "hint", s, tr(`eq.opt.${opt.name}`));
    rule.dataset.rule = opt.name;
    if (opt.name === "sgd") el("p", "ws-line", s, tr("ws.rule.sgd"));
    const clip = this.trace.config.clip;
    if (clip?.mode === "norm") {
      const line = el("p", "ws-line", s);
      el("span", "", line, tr("ws.clipCoef"));
      el("span", "", line, " c = ").dataset.raw = "";
      this.number(line, update.clip_coef, `updates.${u}.clip_coef`, "", false);
    } else if (clip) {
      // by value: each entry clamped on its own, no single coefficient
      const line = el("p", "ws-line", s);
      el("span", "", line, tr("ws.clipValue", { max: num(clip.max, WORKSHEET.digits) }));
      el("span", "", line, " ");
      this.number(line, update.clipped_entries, `updates.${u}.clipped_entries`, "", false);
    }
    const cols = ["grads", ...(clip ? ["clipped_grads"] : []), "params_after"];
    const names = specParams(this.spec);
    const width = Math.max(...names.map((name) => this.spec.params[name].shape[1] || 1));
    // the columns side by side while they fit across the page, else one table each
    const together = cols.length * width <= WORKSHEET.maxAcross;
    for (const part of together ? [cols] : cols.map((key) => [key])) {
      const wrap = el("div", "ws-table-wrap", s);
      const table = el("table", "ws-table", wrap);
      const head = el("tr", "", el("thead", "", table));
      el("th", "", head);
      for (const key of part) el("th", "", head, tr(`ws.col.${key}`));
      const body = el("tbody", "", table);
      for (const name of names) {
        const row = el("tr", "", body);
        const th = el("th", "", row);
        th.scope = "row";
        el("span", "ws-sym", th, this.param(name)).dataset.raw = "";
        for (const key of part) {
          this.value(el("td", "", row), update[key]?.[name], `updates.${u}.${key}.${name}`);
        }
      }
    }
  }
}

// ---- the page: its scenario, language and variant from the link ----------------------------------

async function main() {
  const { state } = await fromUrl(window.location);
  const params = new URLSearchParams(window.location.search);
  const blank = params.get("variant") === "blank";
  const notation = NOTATIONS.includes(state.notation) ? state.notation : "goodfellow";
  await setLanguage(state.lang);
  document.body.dataset.variant = blank ? "blank" : "key";
  document.body.dataset.notation = notation;
  applyTranslations();
  document.title = tr(blank ? "ws.title.blank" : "ws.title.key");
  $("ws-title").textContent = document.title;
  // the other variant, the studio and printing
  const other = new URLSearchParams(params);
  other.set("variant", blank ? "key" : "blank");
  $("ws-other").href = `?${other}${window.location.hash}`;
  $("ws-other").textContent = tr(blank ? "ws.toKey" : "ws.toBlank");
  const studio = new URLSearchParams(params);
  studio.delete("variant");
  $("ws-studio").href = `/?${studio}${window.location.hash}`;
  $("ws-print").addEventListener("click", () => window.print());
  const status = $("ws-status");
  let result;
  try {
    result = await new TraceSource().load(state.scenario);
  } catch (err) {
    status.textContent = tr("ws.failed", { msg: err?.fields?.[0]?.msg ?? err?.message ?? "" });
    status.dataset.state = "bad";
    return;
  }
  const trace = result.trace;
  if (!(await loadCell(trace.config.cell))) {
    status.textContent = tr("cell.noModule", { cell: trace.config.cell });
    status.dataset.state = "bad";
    return;
  }
  const problem = tooLarge(trace.sizes);
  if (problem) {
    status.textContent = tr(problem.key, problem.args);
    status.dataset.state = "bad";
    return;
  }
  status.textContent = "";
  describe(trace, notation, state);
  new Worksheet({ root: $("ws-body"), trace, notation, blank, example: state.example }).draw();
  document.body.dataset.ready = "true";
}

/** The scenario in words: the network, the loss, the schedule, the update, the notation. */
function describe(trace, notation, state) {
  const c = trace.config;
  const { T, D, H, K } = trace.sizes;
  const lines = [
    tr("ws.meta.net", {
      cell: tr(`ctl.cell.${c.cell}`),
      act: cellModule(c.cell)?.choosesActivation ? `, ${tr(`ctl.act.${c.activation}`)}` : "",
      T,
      D,
      H,
      K,
    }),
    tr("ws.meta.loss", {
      loss: tr(`ctl.loss.${c.loss}`),
      at: tr(`ctl.lossAt.${c.loss_at}`),
      red: tr(`ws.red.${c.reduction}`),
    }),
    truncationLine(c, trace),
    tr("ws.meta.opt", { opt: tr(`ctl.opt.${c.optimizer.name}`) }),
    c.clip ? tr("ws.meta.clip", { mode: tr(`ctl.clip.${c.clip.mode}`), max: c.clip.max }) : null,
    tr("ws.meta.notation", { notation: tr(`nota.${notation}`) }),
  ];
  if (state.scenario.train) lines.push(tr("ws.meta.trained", { n: state.scenario.train }));
  const n = trace.sizes.n;
  if (n) lines.push(tr("batch.of", { k: Math.min(state.example, n - 1) + 1, n }));
  const meta = $("ws-meta");
  meta.replaceChildren();
  for (const line of lines.filter(Boolean)) el("li", "", meta, line);
}

main();

/**
 * The truncation in the heading: full BPTT, fixed BPTT(k1, k2), or randomized with the API's
 * ξ(2)…ξ(T), which the rows "error from step t + 1" already carry.
 */
function truncationLine(c, trace) {
  if (isRandomized(c.truncation)) {
    const xi = (trace.xi || []).slice(1).map((v) => num(v, 3));
    return tr("ws.meta.randomized", { p: num(c.truncation.p, 3), xi: xi.join(", ") });
  }
  if (c.truncation) return tr("ws.meta.truncated", { k1: c.truncation.k1, k2: c.truncation.k2 });
  return tr("ws.meta.full");
}
