// The gradient accumulators as small heatmaps, one card per parameter (W, U, b, V, b_y and
// every gate matrix; in Coursera's notation one card per W_k·[a, x]). What the cards are and
// what multiplies what is read from the trace's cell_spec: in a backward event a card shows
// this step's contribution as the outer product of the two factors the spec names (the column
// on the left, the row on top, both read from the trace), entering the running sum; in an
// update event, the raw and clipped gradient and the parameters before and after. Each map is
// coloured on its own scale (its largest magnitude at this event), with a numbered colour bar
// named for it: a clipped gradient 10⁴ times smaller than the raw one, or the weights before
// an exploding update, keep their structure. Maps whose scales are equal (a gradient that
// clipping left alone, the first step's contribution and its sum) share one bar that says so.
// Hooks: each card is #hm-<name> (after the view's idPrefix)
// with data-param (and data-params listing every parameter it shows). A click on an entry of
// a card's matrix hands that parameter's entry to `onPick` (the weight card changes that
// initial weight).
import { DIVERGING, DIVERGING_LUT, lutIndex } from "../util/config.js";
import { num } from "../text/format.js";
import { heatCell } from "../util/geometry.js";
import { language, t as tr } from "../text/i18n.js";
import {
  contribText,
  gradLabel,
  gradText,
  groupLabel,
  labelText,
  paramGroups,
  paramLayer,
  readPath,
} from "../text/notation.js";
import { maxAbs } from "../state/trace.js";

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

/** The diverging scale as a CSS gradient from −1 to +1 (the same stops the canvases use). */
const GRADIENT = `linear-gradient(to right, ${DIVERGING.map(
  ([at, c]) => `${c} ${((at + 1) / 2) * 100}%`,
).join(", ")})`;

/**
 * Values of a group's members side by side: one matrix [A | B] for matrices (Coursera's
 * W_k·[a, x] is W_k and U_k next to each other), one vector for vectors; norms (numbers)
 * stay a list. Display only: nothing is computed.
 */
function sideBySide(parts) {
  if (parts.length === 1) return parts[0];
  if (parts.some((p) => p === undefined)) return undefined;
  if (parts.some((p) => !Array.isArray(p))) return parts;
  if (!Array.isArray(parts[0][0])) return parts.flat();
  return parts[0].map((_, r) => parts.flatMap((p) => p[r]));
}

/** A map's own colour scale: its largest magnitude (1 for a map of zeros, drawn white). */
const ownScale = (values) => maxAbs(values, 0) || 1;

const setText = (el, text) => {
  if (el.textContent !== text) el.textContent = text;
};
const setHidden = (el, hidden) => {
  if (el.hidden !== hidden) el.hidden = hidden;
};

export class HeatmapsView {
  constructor({ container, tooltip, idPrefix = "", setupName = null, onPick = null }) {
    this.container = container;
    this.idPrefix = idPrefix; // before every id: views side by side never share one
    this.setupName = setupName; // side by side: the column's name, in each card's label
    this.tooltip = tooltip;
    this.onPick = onPick;
    this.index = null;
    this.notation = "goodfellow";
    this.eventIndex = 0;
    this.cards = new Map();
    this.gradcheck = null;
    this.visible = new Set();
    this.factorScales = new Map();
    // Cards off screen are not painted; they are painted when they scroll into view.
    this.observer = new IntersectionObserver(
      (entries) => {
        let newlyVisible = false;
        for (const entry of entries) {
          const name = entry.target.dataset.param;
          if (entry.isIntersecting) {
            if (!this.visible.has(name)) newlyVisible = true;
            this.visible.add(name);
          } else this.visible.delete(name);
        }
        if (newlyVisible && this.built) this.draw();
      },
      { rootMargin: "200px 0px" },
    );
    container.addEventListener("pointermove", (e) => this.hover(e));
    container.addEventListener("pointerleave", () => this.tooltip.hide());
    container.addEventListener("click", (e) => this.pick(e));
  }

  setTrace(index) {
    this.index = index;
    this.built = false;
    this.gradcheck = null;
    this.factorScales = new Map();
  }

  setNotation(n) {
    // Coursera groups W_k and U_k into one card: the cards themselves change
    if ((n === "coursera") !== (this.notation === "coursera")) this.built = false;
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

  get spec() {
    return this.index.trace.cell_spec;
  }

  /** Paint every card now, visible or not (screenshots, tests). */
  drawAll() {
    for (const name of this.cards.keys()) this.visible.add(name);
    this.draw();
  }

  build() {
    const grid = document.createDocumentFragment();
    this.cards.clear();
    for (const group of paramGroups(this.spec, this.notation)) {
      const card = div("hm-card", grid, "section");
      card.id = `${this.idPrefix}hm-${group.id}`;
      card.dataset.param = group.id;
      card.dataset.params = group.names.join(" ");
      card.tabIndex = 0;
      const head = div("hm-head", card);
      const title = div("hm-title", head, "h3");
      title.dataset.raw = "";
      const formula = div("hm-formula", head);
      formula.dataset.raw = "";
      const check = div("hm-check", head);
      const body = div("hm-body", card);
      const panes = [];
      // Canvases get their drawn size now, before they are painted: an unpainted canvas is
      // 300 × 150 px, and a page of those would shrink by thousands of pixels as the cards
      // scroll into view and are painted, moving whatever the reader scrolled to.
      const [rows, cols] = this.shapeOf(group);
      const cell = heatCell(rows, cols);
      const sized = (cls, w, h) => {
        const canvas = document.createElement("canvas");
        canvas.className = cls;
        canvas.width = 1;
        canvas.height = 1;
        canvas.style.width = `${w * cell}px`;
        canvas.style.height = `${h * cell}px`;
        return canvas;
      };
      // four panes: [contribution or raw grad] [sum or clipped] [before] [after]
      for (let k = 0; k < 4; k += 1) {
        const pane = div("hm-pane", body);
        pane.hidden = k > 1; // the update's panes, shown in update events
        const fig = div("hm-fig", pane);
        const left = sized("hm-left", 1, rows);
        const top = sized("hm-top", cols, 1);
        const main = sized("hm-main", cols, rows);
        main.dataset.param = group.id;
        const topRow = div("hm-toprow", fig);
        div("hm-corner", topRow);
        topRow.appendChild(top);
        const mainRow = div("hm-mainrow", fig);
        mainRow.append(left, main);
        const cap = div("hm-cap", pane);
        const legend = this.legend(pane); // this map's own colour bar, under its caption
        const norm = div("hm-norm", pane);
        norm.dataset.raw = "";
        panes.push({ pane, left, top, main, cap, norm, topRow, legend });
        if (k < 3) {
          const op = div("hm-op", body);
          op.setAttribute("aria-hidden", "true");
          op.dataset.raw = "";
          op.hidden = k > 0;
          panes[k].op = op;
        }
      }
      this.cards.set(group.id, {
        group,
        card,
        title,
        formula,
        check,
        panes,
      });
    }
    this.observer.disconnect();
    this.visible.clear();
    this.container.replaceChildren(grid);
    for (const { card } of this.cards.values()) this.observer.observe(card);
    this.built = true;
    this.labelsDirty = true;
  }

  /**
   * A map's colour bar with numbers under it (−v, 0, v), or, when the map shares an earlier
   * map's scale, a note that names that map instead of a second, identical bar.
   */
  legend(parent) {
    const box = div("hm-legend", parent);
    const same = div("hm-legend-same", box, "span");
    const bar = div("hm-legend-bar", box);
    const strip = div("hm-legend-strip", bar);
    strip.style.background = GRADIENT;
    const ticks = [-1, 0, 1].map((at) => {
      const tick = div("hm-tick", bar, "span");
      tick.dataset.raw = "";
      tick.dataset.at = String(at);
      return tick;
    });
    return { box, same, bar, ticks };
  }

  /**
   * The colour bars of a card's maps at this event, each under its map, on its own scale; a
   * map whose scale is an earlier map's says "same scale as" that one instead of a bar.
   * maps: [{pane, scale}] of the shown panes that hold matrices.
   */
  setLegends(c, maps) {
    const first = new Map(); // scale -> the caption of the first map drawn on it
    for (const pane of c.panes) {
      const { box, same, bar, ticks } = pane.legend;
      const map = maps.find((m) => m.pane === pane);
      setHidden(box, !map);
      if (!map) continue;
      const owner = first.get(map.scale);
      box.dataset.scale = String(map.scale);
      box.dataset.shared = String(owner !== undefined);
      setHidden(bar, owner !== undefined);
      setHidden(same, owner === undefined);
      if (owner !== undefined) {
        setText(same, tr("hm.legend.sameAs", { first: owner }));
        continue;
      }
      first.set(map.scale, pane.cap.textContent);
      for (const tick of ticks) setText(tick, num(Number(tick.dataset.at) * map.scale, 2));
    }
  }

  relabel() {
    const cell = this.index.cell;
    const n = this.notation;
    for (const c of this.cards.values()) {
      const name = labelText(gradLabel(groupLabel(c.group, n, cell)), n);
      c.title.textContent = name;
      c.formula.textContent = contribText(c.group, n);
      c.card.setAttribute(
        "aria-label",
        this.setupName
          ? tr("hm.ariaIn", { name, setup: this.setupName() })
          : tr("hm.aria", { name }),
      );
      const errors = c.group.names.map((p) => this.gradcheck?.max_rel_error?.[p]);
      if (errors.every((e) => e === undefined)) {
        c.check.textContent = "";
        c.check.removeAttribute("data-state");
      } else {
        // a card of several parameters shows the largest of their errors
        const err = errors.some((e) => e === null || e === undefined) ? null : Math.max(...errors);
        const ok = err !== null && err < (this.gradcheck.tolerance ?? 1e-5);
        c.check.textContent = tr(ok ? "hm.checkOk" : "hm.checkBad", { err: num(err, 2) });
        c.check.dataset.state = ok ? "ok" : "bad";
        c.check.dataset.value = String(err);
      }
    }
  }

  /** The largest magnitude a factor path takes over the trace (its colour scale). */
  factorScale(path, kind) {
    const key = `${kind}:${path}`;
    if (!this.factorScales.has(key)) {
      let m = 0;
      for (const ev of this.index.events) if (ev.kind === kind) m = maxAbs(readPath(ev, path), m);
      this.factorScales.set(key, m || 1);
    }
    return this.factorScales.get(key);
  }

  /** Rows and columns of a group's matrix, from the spec's shapes. */
  shapeOf(group) {
    const shapes = group.names.map((p) => this.spec.params[p].shape);
    return [shapes[0][0] || 1, shapes.reduce((s, sh) => s + (sh[1] || 1), 0)];
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
    // (a stack: the forward step of the event's own layer, whose h(t−1) and input it multiplies)
    const fwd = mode === "backward" ? idx.forward(ev.t, ev.layer ?? idx.layers) : null;
    // a stack: a step's cards are its own layer's parameters (the output's with the top's);
    // an update's are every layer's
    const eventLayer = idx.layers > 1 && mode !== "update" ? (ev.layer ?? idx.layers) : null;
    const layerOf = (p) => (this.spec.params[p].factors[0] === "g_o" ? idx.layers : paramLayer(p));
    // forward steps of one window show the same parameters: painted once, not once per step
    const shown = mode === "forward" ? `forward:${ev.version ?? 0}` : i;
    const key = `${shown}|${this.notation}|${language()}`;
    for (const [id, c] of this.cards) {
      const own = !eventLayer || c.group.names.every((p) => layerOf(p) === eventLayer);
      setHidden(c.card, !own);
      if (!own) continue;
      // paint what is on screen; the rest when it scrolls into view
      if (!this.visible.has(id) || c.drawn === key) continue;
      c.drawn = key;
      const { group } = c;
      const names = group.names;
      const of = (source) => sideBySide(names.map((p) => source?.[p]));
      const [p0, p1, p2, p3] = c.panes;
      const [rows, cols] = this.shapeOf(group);
      const cell = heatCell(rows, cols);
      const show = (pane, on) => {
        setHidden(pane.pane, !on);
        if (pane.op) setHidden(pane.op, !on);
      };
      c.blocks = names.map((p) => this.spec.params[p].shape[1] || 1);
      const maps = []; // the maps drawn at this event, each on its own scale
      const fill = (pane, values, capKey, capParams, ...factors) => {
        const scale = ownScale(values);
        if (this.fill(pane, values, scale, cell, capKey, capParams, names, ...factors)) {
          maps.push({ pane, scale });
        }
      };
      if (mode === "backward") {
        const left = readPath(ev, group.left);
        const rights = group.rights.filter((r) => r !== null);
        const top = rights.length ? sideBySide(rights.map((r) => readPath(fwd, r))) : null;
        const topScale = Math.max(...rights.map((r) => this.factorScale(r, "forward")), 0) || 1;
        fill(
          p0,
          of(ev.contrib),
          "hm.contrib",
          { t: ev.t },
          left,
          top,
          this.factorScale(group.left, "backward"),
          topScale,
        );
        setText(p0.op, "→");
        fill(p1, of(ev.accum), "hm.accum", { t: ev.t });
        show(p0, true);
        show(p1, true);
        setHidden(p1.op, true);
        show(p2, false);
        show(p3, false);
      } else if (mode === "update" && update) {
        fill(p0, of(update.grads), "hm.raw", null);
        fill(p1, of(update.clipped_grads), "hm.clipped", null);
        fill(p2, of(update.params_before), "hm.before", null);
        fill(p3, of(update.params_after), "hm.after", null);
        for (const p of c.panes) show(p, true);
      } else {
        // forward: the window's accumulators start from zero; show the parameters in use
        fill(p0, of(this.paramsAt(i)), "hm.params", null);
        show(p0, true);
        setHidden(p0.op, true);
        show(p1, false);
        show(p2, false);
        show(p3, false);
      }
      this.setLegends(c, maps);
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

  fill(
    pane,
    values,
    scale,
    cell,
    capKey,
    capParams,
    names,
    left = null,
    top = null,
    lscale = 1,
    tscale = 1,
  ) {
    setText(pane.cap, tr(capKey, capParams));
    if (values === undefined) {
      setHidden(pane.main, true);
      setText(pane.norm, "");
      return false;
    }
    const isNorm = (v) => typeof v === "number" || v === null;
    if (isNorm(values) || (names.length > 1 && values.every?.(isNorm))) {
      // detail "norms": the API sent the Frobenius norm instead of the matrix (one per part)
      setHidden(pane.main, true);
      setHidden(pane.left, true);
      setHidden(pane.topRow, true);
      const list = names.length > 1 ? values : [values];
      setText(
        pane.norm,
        list
          .map((v, k) =>
            names.length > 1
              ? `‖${gradText(names[k], this.index.cell, this.notation)}‖ = ${num(v, 3)}`
              : `‖·‖ = ${num(v, 3)}`,
          )
          .join(", "),
      );
      pane.norm.dataset.value = list.map(String).join(" ");
      return false;
    }
    setHidden(pane.main, false);
    setText(pane.norm, "");
    paint(pane.main, values, scale, cell);
    if (Array.isArray(left)) {
      setHidden(pane.left, false);
      paint(pane.left, left, lscale, cell);
    } else setHidden(pane.left, true);
    if (Array.isArray(top)) {
      setHidden(pane.topRow, false);
      const w = `${Array.isArray(left) ? cell : 0}px`;
      if (pane.topRow.firstChild.style.width !== w) pane.topRow.firstChild.style.width = w;
      paint(pane.top, top, tscale, cell, true);
    } else setHidden(pane.topRow, true);
    return true;
  }

  /**
   * The entry under the pointer on a card's canvas: {canvas, cap, name, row, col, value}, col
   * counted inside its own parameter (a card of several side by side says which one it is).
   */
  entryAt(e) {
    const canvas = e.target.closest?.("canvas");
    if (!canvas?._values) return null;
    const r = canvas.getBoundingClientRect();
    const cell = Number(canvas.dataset.cell);
    const col = Math.floor((e.clientX - r.left) / cell);
    const row = Math.floor((e.clientY - r.top) / cell);
    const value = canvas._values[row]?.[col];
    if (value === undefined) return null;
    const card = this.cards.get(canvas.closest(".hm-card")?.dataset.param);
    if (!card) return null;
    const cap = canvas.closest(".hm-pane")?.querySelector(".hm-cap")?.textContent || "";
    let name = card.group.names[0];
    let c = col;
    if (canvas.classList.contains("hm-main") || canvas.classList.contains("hm-top")) {
      for (const [k, width] of (card.blocks || []).entries()) {
        name = card.group.names[k];
        if (c < width) break;
        c -= width;
      }
    }
    return { canvas, cap, name, row, col: c, value };
  }

  hover(e) {
    const at = this.entryAt(e);
    if (!at) {
      if (!e.target.closest?.("canvas")?._values) this.tooltip.hide();
      return;
    }
    const label = gradText(at.name, this.index.cell, this.notation);
    this.tooltip.show(at.canvas, `${label} · ${at.cap}`, [
      { label: `[${at.row + 1}, ${at.col + 1}]`, value: at.value },
    ]);
  }

  /** A click on a matrix entry: that parameter's entry (col null for a vector's). */
  pick(e) {
    const at = this.entryAt(e);
    if (!at || !this.onPick || !at.canvas.classList.contains("hm-main")) return;
    const vector = this.spec.params[at.name].shape.length === 1;
    this.tooltip.hide();
    this.onPick({
      name: at.name,
      row: at.row,
      col: vector ? null : at.col,
      x: e.pageX,
      y: e.pageY,
    });
  }
}
