// A grid of numbers to type or paste into: one <input> per entry, row and column headers, and
// the API's refusals shown in the refused cell itself (or under the grid when the API names
// only the whole array or a row). It holds what was typed, numbers or not: the API judges it.
// Pasting a block (a spreadsheet's tab-separated cells, CSV, or a NumPy or JSON print such as
// [[0.1, 0.2], [0.3, 0.4]] or array([...])) into the first cell replaces the whole grid; into
// another cell it writes from there on, growing the grid if the block needs it (a shape the
// request cannot take is the API's to refuse). Large arrays are edited as text.
// Pure parsing functions first, then the component.
import { num } from "../text/format.js";
import { t as tr } from "../text/i18n.js";
import { apiDetail, el } from "../util/dom.js";
import { cellValue, DECIMAL_COMMA } from "../text/numbers.js";

// ---- parsing (no DOM) --------------------------------------------------------------------------

export { cellValue }; // what one entry means: numbers.js, shared with the data box

/** The text of a value in a cell: the shortest text that reads back as the same float64. */
export function cellText(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "number" ? String(value) : String(value);
}

/** Rows of entry texts from a NumPy or JSON print: every innermost [...] is a row. */
function numpyRows(text) {
  const body = text
    .replace(/^\s*(np\.)?array\(/, "")
    .replace(/,?\s*dtype\s*=\s*[\w.'"]+\s*\)?\s*$/, "")
    .replace(/\)\s*$/, "");
  const rows = [];
  for (const m of body.matchAll(/\[([^[\]]*)\]/g)) {
    rows.push(m[1].split(/[\s,]+/).filter((p) => p !== ""));
  }
  return rows;
}

/** Entries of one line of a spreadsheet block (tabs, else semicolons, else commas or spaces). */
function lineCells(line) {
  if (line.includes("\t")) return line.split("\t").map((c) => c.trim());
  if (line.includes(";")) return line.split(";").map((c) => c.trim());
  if (DECIMAL_COMMA.test(line.trim())) return [line.trim()]; // one number, "0,5"
  return line.split(/[\s,]+/).filter((p) => p !== "");
}

/**
 * Rows of entry texts from pasted text: a NumPy print (`[[0.1 0.2]\n [0.3 0.4]]`), its repr
 * (`array([[0.1, 0.2], ...])`), JSON, or a spreadsheet block (tab-separated cells, one row per
 * line; in such a block a comma is a decimal comma), or CSV.
 */
export function parseBlock(text) {
  const s = String(text ?? "").trim();
  if (!s) return [];
  if (s.includes("[")) return numpyRows(s).filter((r) => r.length);
  return s
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map(lineCells);
}

/** A block of rows as a vector (one entry per row) when it is one row or one column. */
export function asVector(rows) {
  if (rows.length === 1) return rows[0];
  if (rows.every((r) => r.length === 1)) return rows.map((r) => r[0]);
  return null;
}

// ---- the component ----------------------------------------------------------------------------

// Beyond this many entries a grid is a text area (one row per line): thousands of inputs would
// make the page slow to open and to scroll.
export const MAX_CELLS = 1600;

export class Grid {
  /**
   * container: the element the grid draws into. name: its data-grid hook ("params.W",
   * "data.inputs", "h0"). vector: one entry per row (a column vector). rowLabel(r),
   * colLabel(c): header texts (1-based numbering is theirs). label: the accessible name of the
   * grid. onChange(values): the grid's new contents.
   */
  constructor({ container, name, vector = false, rowLabel, colLabel, label, onChange }) {
    this.container = container;
    this.name = name;
    this.vector = vector;
    this.rowLabel = rowLabel || ((r) => String(r + 1));
    this.colLabel = colLabel || ((c) => String(c + 1));
    this.label = label || name;
    this.onChange = onChange;
    this.values = [];
    this.errors = [];
    this.pending = new Set(); // "r,c" of entries written and not yet answered by the API
    this.written = []; // "r,c" of the entries the last write changed
    this.readOnly = false;
  }

  /** Mark entries ("r,c") as written and waiting for the API's new trace. */
  setPending(cells) {
    this.pending = new Set(cells);
  }

  /** Set the contents: rows of values (a vector is a list of values). */
  setValues(values) {
    this.values = structuredClone(values ?? []);
  }

  /** The contents as the request carries them (a vector stays a list). */
  get rows() {
    return this.vector ? this.values.map((v) => [v]) : this.values;
  }

  fromRows(rows) {
    return this.vector ? rows.map((r) => r[0] ?? null) : rows;
  }

  /** The API's refusals: [{row, col, text, detail}]; row/col null for the whole grid or row. */
  setErrors(errors) {
    this.errors = errors;
  }

  get count() {
    return this.rows.reduce((n, r) => n + (Array.isArray(r) ? r.length : 1), 0);
  }

  draw() {
    // the entry being edited keeps the focus across a redraw
    const active = this.container.contains(document.activeElement) ? document.activeElement : null;
    const at = active?.classList.contains("cell") ? [active.dataset.row, active.dataset.col] : null;
    this.container.replaceChildren();
    this.container.dataset.grid = this.name;
    const whole = this.errors.filter((e) => e.row === null);
    this.container.classList.toggle("is-invalid", whole.length > 0);
    for (const e of whole) this.message(this.container, e);
    if (this.count > MAX_CELLS) this.drawText();
    else this.drawTable();
    if (at) {
      this.container.querySelector(`input.cell[data-row="${at[0]}"][data-col="${at[1]}"]`)?.focus();
    }
  }

  /** A refusal as text: our words (or "rejected"), then the API's own message. */
  message(parent, error, tag = "p") {
    const box = el(tag, "cell-error", parent);
    box.setAttribute("role", "alert");
    const main = el("span", "", box);
    main.textContent = error.text;
    apiDetail(box, error.detail);
    return box;
  }

  drawTable() {
    const wrap = el("div", "grid-wrap", this.container);
    const table = el("table", "grid", wrap);
    table.setAttribute("aria-label", this.label);
    const rows = this.rows;
    const width = Math.max(1, ...rows.map((r) => (Array.isArray(r) ? r.length : 1)));
    if (!this.vector) {
      const head = el("tr", "", el("thead", "", table));
      el("th", "", head);
      for (let c = 0; c < width; c += 1) {
        const th = el("th", "", head);
        th.scope = "col";
        th.dataset.raw = "";
        th.textContent = this.colLabel(c);
      }
    }
    const body = el("tbody", "", table);
    // the entry being edited, written in full under the grid (every digit of its float64)
    this.focusLine = el("p", "grid-focus", this.container);
    this.focusLine.dataset.raw = "";
    rows.forEach((row, r) => {
      const tr_ = el("tr", "", body);
      const th = el("th", "", tr_);
      th.scope = "row";
      th.dataset.raw = "";
      th.textContent = this.rowLabel(r);
      const rowErrors = this.errors.filter((e) => e.row === r && e.col === null);
      if (rowErrors.length) tr_.classList.add("is-invalid");
      const cells = Array.isArray(row) ? row : [row];
      cells.forEach((value, c) => {
        const td = el("td", "", tr_);
        const input = el("input", "cell", td);
        input.type = "text";
        input.inputMode = "decimal";
        input.autocomplete = "off";
        input.spellcheck = false;
        input.dataset.row = String(r);
        input.dataset.col = String(c);
        input.readOnly = this.readOnly;
        input.setAttribute(
          "aria-label",
          `${this.label} [${this.rowLabel(r)}, ${this.colLabel(c)}]`,
        );
        this.show(input, value, false);
        if (this.pending.has(`${r},${c}`)) input.dataset.pending = "true";
        const errs = this.errors.filter((e) => e.row === r && (e.col === c || e.col === null));
        if (errs.length) {
          input.setAttribute("aria-invalid", "true");
          // a row's refusal is written once, in its first cell
          for (const e of errs) if (e.col === c || c === 0) this.message(td, e, "span");
        }
        this.bind(input, r, c);
      });
    });
  }

  /** The value in a cell: in full while it is being edited, rounded otherwise. */
  show(input, value, full) {
    input._value = value;
    if (typeof value !== "number") input.value = cellText(value);
    else input.value = full ? cellText(value) : num(value, 4).replace(/\u2212/g, "-");
    input.title = cellText(value);
  }

  bind(input, r, c) {
    input.addEventListener("focus", () => {
      this.show(input, input._value, true);
      input.select();
      const exact = typeof input._value === "number" ? ` = ${cellText(input._value)}` : "";
      this.focusLine.textContent = `${input.getAttribute("aria-label")}${exact}`;
    });
    input.addEventListener("blur", () => {
      this.show(input, input._value, false);
      this.focusLine.textContent = "";
    });
    input.addEventListener("keydown", (e) => this.key(e, r, c));
    input.addEventListener("change", () => {
      const value = cellValue(input.value);
      input._value = value;
      this.write([[value]], r, c, false);
    });
    input.addEventListener("paste", (e) => {
      const block = parseBlock(e.clipboardData?.getData("text/plain") ?? "");
      if (block.length <= 1 && (block[0]?.length ?? 0) <= 1) return; // one entry: typed as usual
      e.preventDefault();
      this.paste(block, r, c);
    });
  }

  /** Enter, arrows up and down: move between rows, as a spreadsheet does. */
  key(e, r, c) {
    const moves = { Enter: e.shiftKey ? -1 : 1, ArrowDown: 1, ArrowUp: -1 };
    if (!(e.key in moves)) return;
    const next = this.container.querySelector(
      `input.cell[data-row="${r + moves[e.key]}"][data-col="${c}"]`,
    );
    if (next) {
      e.preventDefault();
      next.focus(); // leaving the cell commits it (change)
    } else if (e.key === "Enter" && !Object.is(cellValue(e.target.value), e.target._value)) {
      e.target.dispatchEvent(new Event("change"));
    }
  }

  /** Paste a block of texts at (r, c): at the first cell it replaces the whole grid. */
  paste(block, r, c) {
    const values = block.map((row) => row.map(cellValue));
    if (this.vector) {
      const v = asVector(values) ?? values.flat();
      this.write(
        v.map((x) => [x]),
        r,
        0,
        r === 0,
      );
    } else this.write(values, r, c, r === 0 && c === 0);
  }

  /** Write a block of values at (r, c) (replacing everything when `replace`) and announce it. */
  write(block, r, c, replace) {
    let rows = replace ? [] : structuredClone(this.rows);
    if (replace) rows = block.map((row) => [...row]);
    else {
      block.forEach((row, i) => {
        const target = r + i;
        while (rows.length <= target) rows.push(new Array(rows[0]?.length ?? 0).fill(null));
        row.forEach((v, j) => {
          rows[target][c + j] = v;
        });
      });
      for (const row of rows) for (let j = 0; j < row.length; j += 1) row[j] ??= null;
    }
    this.written = block.flatMap((row, i) => row.map((_v, j) => `${r + i},${c + j}`));
    this.values = this.fromRows(rows);
    this.onChange?.(structuredClone(this.values));
  }

  /** A large array as text: one row per line, entries separated by tabs, every digit kept. */
  drawText() {
    const area = el("textarea", "grid-text", this.container);
    area.setAttribute("aria-label", this.label);
    area.spellcheck = false;
    area.rows = 8;
    area.readOnly = this.readOnly;
    area.value = this.rows.map((row) => row.map(cellText).join("\t")).join("\n");
    const note = el("p", "hint", this.container);
    note.textContent = tr("ed.grid.asText", { n: this.count });
    for (const e of this.errors.filter((x) => x.row !== null)) {
      const where =
        e.col === null
          ? tr("ed.grid.atRow", { row: this.rowLabel(e.row) })
          : tr("ed.grid.atCell", { row: this.rowLabel(e.row), col: this.colLabel(e.col) });
      this.message(this.container, { ...e, text: `${where} ${e.text}` });
      area.setAttribute("aria-invalid", "true");
    }
    area.addEventListener("change", () => {
      const rows = parseBlock(area.value).map((row) => row.map(cellValue));
      this.values = this.fromRows(
        this.vector ? (asVector(rows) ?? rows.flat()).map((v) => [v]) : rows,
      );
      this.onChange?.(structuredClone(this.values));
    });
  }
}
