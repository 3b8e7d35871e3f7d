// The gradient accumulators as small heatmaps, one card per parameter (W, U, b, V, b_y and
// every gate matrix). In a backward event a card shows this step's contribution as the outer
// product of its two factors (the column on the left, the row on top, both from the trace),
// entering the running sum; in an update event, the raw and clipped gradient and the
// parameters before and after. Hooks: each card is #hm-<name> with data-param.
import { DIVERGING_LUT, lutIndex } from "./config.js";
import { num } from "./format.js";
import { heatCell } from "./geometry.js";
import { language, t as tr } from "./i18n.js";
import { gradText, labelText, paramNames, varLabel } from "./notation.js";

function div(cls, parent, tag = "div") {
  const d = document.createElement(tag);
  if (cls) d.className = cls;
  if (parent) parent.appendChild(d);
  return d;
}

/**
 * Draw a matrix (or a vector as one column, or as one row when asRow) on a canvas: one pixel
 * per entry from the colour table, scaled up by CSS (image-rendering: pixelated).
 */
function paint(canvas, values, scale, cell, asRow = false) {
  let rows;
  if (!Array.isArray(values)) rows = [[values]];
  else if (Array.isArray(values[0])) rows = values;
  else rows = asRow ? [values] : values.map((v) => [v]);
  const nr = rows.length;
  const nc = rows[0]?.length || 1;
  if (canvas.width !== nc || canvas.height !== nr) {
    canvas.width = nc;
    canvas.height = nr;
  }
  const w = `${nc * cell}px`;
  if (canvas.style.width !== w) {
    canvas.style.width = w;
    canvas.style.height = `${nr * cell}px`;
  }
  const ctx = canvas.getContext("2d");
  let image = canvas._image;
  if (!image || image.width !== nc || image.height !== nr) {
    image = ctx.createImageData(nc, nr);
    canvas._image = image;
  }
  const data = image.data;
  const inv = 1 / (scale || 1);
  let p = 0;
  for (let r = 0; r < nr; r += 1) {
    const line = rows[r];
    for (let c = 0; c < nc; c += 1) {
      const v = line[c];
      const k = lutIndex(v === null ? null : v * inv);
      if (k < 0) {
        data[p] = 204;
        data[p + 1] = 204;
        data[p + 2] = 204;
      } else {
        data[p] = DIVERGING_LUT[k * 3];
        data[p + 1] = DIVERGING_LUT[k * 3 + 1];
        data[p + 2] = DIVERGING_LUT[k * 3 + 2];
      }
      data[p + 3] = 255;
      p += 4;
    }
  }
  ctx.putImageData(image, 0, 0);
  canvas.dataset.cell = cell;
  canvas._values = rows;
}

const setText = (el, text) => {
  if (el.textContent !== text) el.textContent = text;
};
const setHidden = (el, hidden) => {
  if (el.hidden !== hidden) el.hidden = hidden;
};

export class HeatmapsView {
  constructor({ container, tooltip }) {
    this.container = container;
    this.tooltip = tooltip;
    this.index = null;
    this.notation = "goodfellow";
    this.eventIndex = 0;
    this.cards = new Map();
    this.gradcheck = null;
    this.visible = new Set();
    // Cards off screen are not painted; they are painted when they scroll into view.
    this.observer = new IntersectionObserver((entries) => {
      let newlyVisible = false;
      for (const entry of entries) {
        const name = entry.target.dataset.param;
        if (entry.isIntersecting) {
          if (!this.visible.has(name)) newlyVisible = true;
          this.visible.add(name);
        } else this.visible.delete(name);
      }
      if (newlyVisible && this.built) this.draw();
    }, { rootMargin: "200px 0px" });
    container.addEventListener("pointermove", (e) => this.hover(e));
    container.addEventListener("pointerleave", () => this.tooltip.hide());
  }

  setTrace(index) {
    this.index = index;
    this.built = false;
    this.gradcheck = null;
  }

  setNotation(n) {
    this.notation = n;
    this.labelsDirty = true;
  }

  setLanguage() {
    this.labelsDirty = true;
  }

  setEvent(i) {
    this.eventIndex = i;
  }

  setGradcheck(result) {
    this.gradcheck = result;
    this.labelsDirty = true;
  }

  /** Paint every card now, visible or not (screenshots, tests). */
  drawAll() {
    for (const name of this.cards.keys()) this.visible.add(name);
    this.draw();
  }

  build() {
    const idx = this.index;
    const grid = document.createDocumentFragment();
    this.cards.clear();
    const names = paramNames(idx.cell).filter((n) => n in (idx.trace.params || {}));
    for (const name of names) {
      const card = div("hm-card", grid, "section");
      card.id = `hm-${name}`;
      card.dataset.param = name;
      card.tabIndex = 0;
      const head = div("hm-head", card);
      const title = div("hm-title", head, "h3");
      title.dataset.raw = "";
      const formula = div("hm-formula", head);
      formula.dataset.raw = "";
      const check = div("hm-check", head);
      const body = div("hm-body", card);
      const panes = [];
      // four panes: [contribution or raw grad] [sum or clipped] [before] [after]
      for (let k = 0; k < 4; k += 1) {
        const pane = div("hm-pane", body);
        const fig = div("hm-fig", pane);
        const left = document.createElement("canvas");
        left.className = "hm-left";
        const top = document.createElement("canvas");
        top.className = "hm-top";
        const main = document.createElement("canvas");
        main.className = "hm-main";
        main.dataset.param = name;
        const topRow = div("hm-toprow", fig);
        div("hm-corner", topRow);
        topRow.appendChild(top);
        const mainRow = div("hm-mainrow", fig);
        mainRow.append(left, main);
        const cap = div("hm-cap", pane);
        const norm = div("hm-norm", pane);
        norm.dataset.raw = "";
        panes.push({ pane, left, top, main, cap, norm, topRow });
        if (k < 3) {
          const op = div("hm-op", body);
          op.setAttribute("aria-hidden", "true");
          op.dataset.raw = "";
          panes[k].op = op;
        }
      }
      const scale = div("hm-scale", card);
      this.cards.set(name, { card, title, formula, check, panes, scale });
    }
    this.observer.disconnect();
    this.visible.clear();
    this.container.replaceChildren(grid);
    for (const { card } of this.cards.values()) this.observer.observe(card);
    this.built = true;
    this.labelsDirty = true;
  }

  relabel() {
    const cell = this.index.cell;
    for (const [name, c] of this.cards) {
      c.title.textContent = gradText(name, cell, this.notation);
      c.formula.textContent = this.formulaText(name);
      c.card.setAttribute("aria-label", tr("hm.aria", { name: gradText(name, cell, this.notation) }));
      const err = this.gradcheck?.max_rel_error?.[name];
      if (err === undefined) {
        c.check.textContent = "";
        c.check.removeAttribute("data-state");
      } else {
        const ok = err !== null && err < (this.gradcheck.tolerance ?? 1e-5);
        c.check.textContent = tr(ok ? "hm.checkOk" : "hm.checkBad", { err: num(err, 2) });
        c.check.dataset.state = ok ? "ok" : "bad";
        c.check.dataset.value = String(err);
      }
    }
  }

  /** "δ(t) h(t−1)ᵀ": the outer product that makes this parameter's contribution. */
  formulaText(name) {
    const n = this.notation;
    const cell = this.index.cell;
    const v = (k, t) => labelText(varLabel(k, n), n, t);
    const [kind, gate0] = name.split("_");
    const gate = cell === "gru" && gate0 === "h" ? "n" : gate0;
    if (name === "V") return `${v("g_o", "t")} ${v("h", "t")}ᵀ`;
    if (name === "b_y") return v("g_o", "t");
    const d = cell === "rnn" ? v("delta", "t") : `${labelText(varLabel("delta", n))}_${gate}(t)`;
    if (kind === "b") return d;
    if (kind === "U") return `${d} ${v("x", "t")}ᵀ`;
    if (cell === "gru" && gate === "n") {
      return `${d} (${labelText({ b: "r" })} ⊙ ${v("h", "t−1")})ᵀ`;
    }
    return `${d} ${v("h", "t−1")}ᵀ`;
  }

  /** The two factors of a contribution, from the backward and forward events. */
  factors(name, ev, fwd) {
    const cell = this.index.cell;
    if (name === "V") return [ev.g_o, fwd?.h];
    if (name === "b_y") return [ev.g_o, null];
    const [kind, g0] = name.split("_");
    const gate = cell === "gru" && g0 === "h" ? "n" : g0;
    const delta = cell === "rnn" ? ev.delta : ev.deltas?.[gate];
    if (kind === "b") return [delta, null];
    if (kind === "U") return [delta, fwd?.x];
    if (cell === "gru" && gate === "n") return [delta, null]; // r ⊙ h(t−1) is not in the trace
    return [delta, fwd?.h_prev];
  }

  draw() {
    if (!this.index) return;
    if (!this.built) this.build();
    if (this.labelsDirty) {
      this.relabel();
      this.labelsDirty = false;
    }
    const idx = this.index;
    const i = Math.min(this.eventIndex, idx.events.length - 1);
    const ev = idx.event(i);
    const mode = ev.kind;
    this.container.dataset.mode = mode;
    this.container.dataset.detail = idx.detail;
    const update = mode === "update" ? idx.trace.updates?.[ev.update] : null;
    const fwd = mode === "backward" ? idx.forward(ev.t) : null;
    const key = `${i}|${this.notation}|${language()}`;
    for (const [name, c] of this.cards) {
      // paint what is on screen; the rest when it scrolls into view
      if (!this.visible.has(name) || c.drawn === key) continue;
      c.drawn = key;
      const [p0, p1, p2, p3] = c.panes;
      const shape = idx.trace.params[name];
      const rows = Array.isArray(shape) ? shape.length : 1;
      const cols = Array.isArray(shape?.[0]) ? shape[0].length : 1;
      const cell = heatCell(rows, cols);
      const show = (pane, on) => {
        setHidden(pane.pane, !on);
        if (pane.op) setHidden(pane.op, !on);
      };
      if (mode === "backward") {
        const scale = idx.scales.accum[name] || 1;
        const [left, top] = this.factors(name, ev, fwd);
        this.fill(p0, ev.contrib?.[name], scale, cell, "hm.contrib", { t: ev.t }, left, top,
          idx.scales.delta);
        setText(p0.op, "→");
        this.fill(p1, ev.accum?.[name], scale, cell, "hm.accum", { t: ev.t });
        show(p0, true);
        show(p1, true);
        setHidden(p1.op, true);
        show(p2, false);
        show(p3, false);
        setText(c.scale, tr("hm.scale", { v: num(scale, 2) }));
      } else if (mode === "update" && update) {
        const gs = idx.scales.params[`grad:${name}`] || 1;
        const ps = idx.scales.params[`param:${name}`] || 1;
        this.fill(p0, update.grads?.[name], gs, cell, "hm.raw");
        this.fill(p1, update.clipped_grads?.[name], gs, cell, "hm.clipped");
        this.fill(p2, update.params_before?.[name], ps, cell, "hm.before");
        this.fill(p3, update.params_after?.[name], ps, cell, "hm.after");
        for (const p of c.panes) show(p, true);
        setText(c.scale, tr("hm.scale2", { g: num(gs, 2), p: num(ps, 2) }));
      } else {
        // forward: the window's accumulators start from zero; show the parameters in use
        const params = this.paramsAt(i);
        const ps = idx.scales.params[`param:${name}`] || 1;
        this.fill(p0, params?.[name], ps, cell, "hm.params");
        show(p0, true);
        setHidden(p0.op, true);
        show(p1, false);
        show(p2, false);
        show(p3, false);
        setText(c.scale, tr("hm.scale", { v: num(ps, 2) }));
      }
    }
  }

  /** The parameters the forward step of event i used (before its window's update). */
  paramsAt(i) {
    const idx = this.index;
    const ev = idx.event(i);
    const version = ev.version ?? 0;
    if (version === 0) return idx.trace.params;
    return idx.trace.updates?.[version - 1]?.params_after || idx.trace.params;
  }

  fill(pane, values, scale, cell, capKey, capParams = null, left = null, top = null, fscale = 1) {
    setText(pane.cap, tr(capKey, capParams));
    if (values === undefined) {
      setHidden(pane.main, true);
      setText(pane.norm, "");
      return;
    }
    if (typeof values === "number" || values === null) {
      // detail "norms": the API sent the Frobenius norm instead of the matrix
      setHidden(pane.main, true);
      setHidden(pane.left, true);
      setHidden(pane.topRow, true);
      setText(pane.norm, `‖·‖ = ${num(values, 3)}`);
      pane.norm.dataset.value = String(values);
      return;
    }
    setHidden(pane.main, false);
    setText(pane.norm, "");
    paint(pane.main, values, scale, cell);
    if (Array.isArray(left)) {
      setHidden(pane.left, false);
      paint(pane.left, left, fscale, cell);
    } else setHidden(pane.left, true);
    if (Array.isArray(top)) {
      setHidden(pane.topRow, false);
      const w = `${Array.isArray(left) ? cell : 0}px`;
      if (pane.topRow.firstChild.style.width !== w) pane.topRow.firstChild.style.width = w;
      paint(pane.top, top, 1, cell, true);
    } else setHidden(pane.topRow, true);
  }

  hover(e) {
    const canvas = e.target.closest?.("canvas");
    if (!canvas || !canvas._values) {
      this.tooltip.hide();
      return;
    }
    const r = canvas.getBoundingClientRect();
    const cell = Number(canvas.dataset.cell);
    const col = Math.floor((e.clientX - r.left) / cell);
    const rowI = Math.floor((e.clientY - r.top) / cell);
    const value = canvas._values[rowI]?.[col];
    if (value === undefined) return;
    const card = canvas.closest(".hm-card");
    const cap = canvas.closest(".hm-pane")?.querySelector(".hm-cap")?.textContent || "";
    const name = card ? gradText(card.dataset.param, this.index.cell, this.notation) : "";
    this.tooltip.show(canvas, `${name} · ${cap}`, [{ label: `[${rowI + 1}, ${col + 1}]`, value }]);
  }
}

