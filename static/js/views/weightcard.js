// Change one weight where it is drawn, as TensorFlow Playground's hovercard does: a click on
// an entry of an accumulator's heatmap opens a small card with that weight's initial value to
// retype; a click on a connection of the network opens the weights of that connection (W on
// h(t−1) → h(t), U on x(t) → h(t), V on h(t) → ŷ(t), and each gate's for LSTM and GRU). The
// trace runs again from the new weight (editors.js writes it into the scenario); the API's
// refusal appears in the card. Loaded on the first such click.
import { cellValue, Grid } from "../controls/grid.js";
import { t as tr } from "../text/i18n.js";
import { paramLayer, rightText, specParams } from "../text/notation.js";
import { el } from "../util/dom.js";

// A connection's matrix is edited in the card up to this many entries; larger ones open the
// editors' panel instead.
const CARD_CELLS = 64;

/**
 * The parameters a connection of the network applies, from the trace's cell_spec: "h-h" and
 * "h-gates" the recurrent ones (right factor h(t−1), or r ⊙ h(t−1) for the GRU's candidate),
 * "x-h" and "x-gate" the input ones (of one gate when `gate` is given), "h-yhat" the output's.
 */
export function paramsOfEdge(spec, edge, gate = null, layer = 1) {
  // a stack's cell_spec names every layer's parameters (W_f, W_f_l2, ...): the layer's own
  const named = (list) => list.filter((p) => paramLayer(p) === layer);
  const names = specParams(spec);
  const factors = (p) => spec.params[p].factors;
  const ofGate = (p) => !gate || factors(p)[0] === `deltas.${gate}`;
  if (edge === "h-h" || edge === "h-gates") {
    return named(names.filter((p) => ["h_prev", "rh_prev"].includes(factors(p)[1])));
  }
  if (edge === "x-h" || edge === "x-gate") {
    return named(names.filter((p) => factors(p)[1] === "x" && ofGate(p)));
  }
  if (edge === "h-yhat") return names.filter((p) => factors(p)[0] === "g_o");
  return [];
}

export class WeightCard {
  constructor({ editors }) {
    this.editors = editors;
    this.card = el("div", "weight-card", document.body);
    this.card.id = "weight-card";
    this.card.hidden = true;
    this.card.setAttribute("role", "dialog");
    this.card.setAttribute("aria-labelledby", "wc-title");
    this.target = null; // {names, name, row, col}
    // Escape closes it wherever the focus is (a redraw may have taken it from the card)
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !this.card.hidden) this.close();
    });
    document.addEventListener("pointerdown", (e) => {
      if (
        !this.card.hidden &&
        !this.card.contains(e.target) &&
        !e.target.closest?.("canvas, .edge-hit")
      ) {
        this.close();
      }
    });
    const studio = editors.studio;
    studio.addEventListener("trace", () => this.refresh());
    studio.addEventListener("error", () => this.refresh());
  }

  /** One weight: {name, row, col} (col null for a vector's entry), at page point (x, y). */
  openEntry({ name, row, col, x, y }) {
    this.target = { names: [name], name, row, col };
    this.show(x, y);
  }

  /** The weights of a connection of the network ("h-h", "x-gate", ...), at page point (x, y). */
  openEdge({ edge, gate = null, layer = 1, x, y }) {
    const spec = this.editors.spec;
    const names = spec ? paramsOfEdge(spec, edge, gate, layer) : [];
    if (!names.length) return;
    this.target = { names, name: names[0], row: null, col: null, edge };
    this.show(x, y);
  }

  close() {
    this.card.hidden = true;
    this.target = null;
  }

  show(x, y) {
    this.card.hidden = false;
    this.at = { x, y };
    this.place();
    this.refresh(true);
  }

  /** Beside the click, inside the window (above it when there is no room below). */
  place() {
    const card = this.card;
    const { x, y } = this.at;
    const view = document.documentElement;
    const w = card.offsetWidth || 280;
    const h = card.offsetHeight || 160;
    const maxX = window.scrollX + view.clientWidth - w - 8;
    card.style.left = `${Math.max(window.scrollX + 8, Math.min(x + 12, maxX))}px`;
    const below = y + 12 + h <= window.scrollY + view.clientHeight;
    card.style.top = `${below ? y + 12 : Math.max(window.scrollY + 8, y - h - 12)}px`;
  }

  async refresh(focus = false) {
    if (this.card.hidden || !this.target) return;
    const ed = this.editors;
    const target = this.target;
    const card = this.card;
    // the entry being edited keeps the focus across the redraw
    const active = card.contains(document.activeElement) ? document.activeElement : null;
    const keep = active?.classList.contains("cell")
      ? [active.dataset.row, active.dataset.col]
      : null;
    card.replaceChildren();
    const head = el("div", "wc-head", card);
    const title = el("h3", "wc-title", head);
    title.id = "wc-title";
    title.dataset.raw = "";
    const close = el("button", "btn link wc-close", head, tr("ed.card.close"));
    close.type = "button";
    close.addEventListener("click", () => this.close());
    if (target.names.length > 1) {
      const chips = el("div", "ed-chips", card);
      for (const p of target.names) {
        const chip = el("button", "chip", chips, ed.paramName(p));
        chip.type = "button";
        chip.dataset.raw = "";
        chip.dataset.param = p;
        chip.setAttribute("aria-pressed", String(p === target.name));
        chip.addEventListener("click", () => {
          target.name = p;
          this.refresh();
        });
      }
    }
    const body = el("div", "wc-body", card);
    el("p", "hint", body, tr("ed.loading"));
    let params;
    try {
      params = await ed.params();
    } catch (err) {
      body.replaceChildren();
      el(
        "p",
        "cell-error",
        body,
        tr(err?.kind === "too_large" ? "ed.seed.tooLarge" : "ed.seed.failed"),
      );
      return;
    }
    if (this.target !== target || card.hidden) return;
    body.replaceChildren();
    const name = target.name;
    const value = params[name];
    const spec = ed.spec.params[name];
    const right = spec.factors[1];
    const label = ed.paramName(name);
    const n = ed.notation;
    // a stack's layer j >= 2 multiplies the layer below's h(t) where layer 1 multiplies x(t)
    const layer = paramLayer(name);
    const reads =
      right === "x" && layer > 1
        ? tr("net.layerNode", { node: rightText("h", n), j: layer - 1 })
        : right && rightText(right, n);
    title.textContent = right ? `${label} · ${reads}` : label;
    const errors = ed.errors.get(`params.${name}`) ?? [];
    if (target.row !== null) this.drawEntry(body, params, errors, focus);
    else this.drawMatrix(body, params, name, value, errors, focus);
    if (keep) {
      const at = `input.cell[data-row="${keep[0]}"]${keep[1] ? `[data-col="${keep[1]}"]` : ""}`;
      body.querySelector(at)?.focus();
    }
    for (const e of ed.groupErrors) ed.message(body, e);
    const open = el("button", "btn link", card, tr("ed.card.openEditor"));
    open.type = "button";
    open.addEventListener("click", () => {
      this.close();
      ed.open("weights");
    });
    if (focus) this.place(); // its size is known now
  }

  /** One entry: its initial value in full, to retype. */
  drawEntry(body, params, errors, focus) {
    const ed = this.editors;
    const { name, row, col } = this.target;
    const vector = col === null || !Array.isArray(params[name][0]);
    const value = vector ? params[name][row] : params[name][row][col];
    const where = vector ? `[${row + 1}]` : `[${row + 1}, ${col + 1}]`;
    const line = el("label", "wc-entry", body);
    const what = el("span", "wc-where", line, `${ed.paramName(name)}${where}`);
    what.dataset.raw = "";
    const input = el("input", "cell", line);
    input.type = "text";
    input.inputMode = "decimal";
    input.id = "wc-value";
    input.value = String(value ?? "");
    input.dataset.param = name;
    input.dataset.row = String(row);
    if (!vector) input.dataset.col = String(col);
    if (errors.length) input.setAttribute("aria-invalid", "true");
    const set = el("button", "btn", body, tr("ed.card.set"));
    set.type = "button";
    set.id = "wc-set";
    const apply = () => {
      const v = cellValue(input.value);
      ed.note = null;
      ed.setParamEntry(name, row, vector ? null : col, v);
    };
    set.addEventListener("click", apply);
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") apply();
    });
    el("p", "hint", body, tr("ed.card.hint"));
    for (const e of errors) ed.message(body, e);
    if (focus) {
      input.focus();
      input.select();
    }
  }

  /** A connection's whole matrix (small ones): change any entry. */
  drawMatrix(body, params, name, value, errors, focus) {
    const ed = this.editors;
    const count = JSON.stringify(value).split(",").length;
    if (count > CARD_CELLS) {
      el("p", "hint", body, tr("ed.card.large", { n: count }));
      return;
    }
    el("p", "hint", body, tr("ed.card.matrix"));
    const holder = el("div", "ed-grid", body);
    const grid = new Grid({
      container: holder,
      name: `params.${name}`,
      vector: !Array.isArray(value[0]),
      label: ed.paramName(name),
      onChange: (v) => {
        const next = structuredClone(params);
        next[name] = v;
        ed.note = null;
        ed.setParams(next);
      },
    });
    grid.setValues(value);
    grid.setErrors(errors);
    grid.draw();
    if (focus) holder.querySelector("input.cell")?.focus();
  }
}
