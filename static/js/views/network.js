// The unrolled network as SVG: a column per timestep, forward edges, the error flowing back
// (one strand per hidden unit, width and diverging colour from the API's values), the
// truncation windows and their cut, the weights ξ_t of a randomized truncation, and the current
// event highlighted.
//
// Stable hooks (for tests and lessons): every node is a <g class="node"> with id
// "node-<name>-<t>" (name x, h, c, yhat, L, or gate-<f|i|g|o|z|r|n>) and data-node, data-t,
// data-kind; error edges are <g class="err"> with data-edge (err-out, err-next, err-c) and
// data-t; a randomized truncation's weight of the flow from step t back to t−1 is a
// <g class="xi"> with data-t and data-xi (the API's ξ_t, exact), cut (xi-cut) or kept (xi-kept),
// between columns t−1 and t; the cursor #net-cursor carries the current event's data-t and
// data-kind. Every id is written after the view's idPrefix (empty for the page's network; the
// compare view gives each of its columns its own, so that networks side by side never share an
// id). A connection that applies weights (h-h, x-h, h-yhat, h-gates, x-gate) has a wide
// invisible twin, path.edge-hit with data-hit: a click on it is announced as "pick-weights". At a
// backward event, each hidden unit j of a step the error has reached is a button
// (<rect class="unit" data-t data-unit>, beside h's value strip; click, Enter or Space) that
// asks for its neuron view: the view dispatches "unit" {event, unit}, and main.js writes the
// store (neuron.js draws the panel). The h node itself opens unit 1's.
//
// The rows (the state vectors, the gate row) and the wiring come from the trace's cell_spec:
// a cell with gates draws them between x and h; a second state (the LSTM's c) gets its row,
// written by every gate but the last, which (as the LSTM's o) gates what c gives h.
//
// The drawing fills its panel (geometry.js networkLayout) and is rebuilt when the panel's width
// changes; each error bundle is labelled with the length of its error vector, and the error of
// a new backward event runs along its strands (not under prefers-reduced-motion; see CSS).
import { DIVERGING_LUT, diverging, lutIndex, SIZES } from "../util/config.js";
import { num, raw } from "../text/format.js";
import {
  bandX,
  curve,
  layerRow,
  fitText,
  gateSlots,
  networkLayout,
  scrollToShow,
  strandOffsets,
  strandWidth,
} from "../util/geometry.js";
import { t as tr } from "../text/i18n.js";
import { svgEl as el, svgLabel } from "../text/labels.js";
import { errorSign, gateLabel, gatesOf, labelText, varLabel } from "../text/notation.js";
import { TraceIndex } from "../state/trace.js";
import { inSeriesUnits } from "../state/units.js";

// A column narrower than this (at scale 1) writes the norms of its strands only while current.
const DENSE_COLUMN = 72;
// The connections that apply weights (W, U, V and the gates' own): a click changes them.
const WEIGHT_EDGES = new Set(["h-h", "x-h", "h-yhat", "h-gates", "x-gate"]);

/**
 * Write an attribute only when its value changes: a step rewrites a handful of attributes, and
 * every write (even of the same value) invalidates style and paint of the SVG it belongs to.
 */
function setAttr(node, name, value) {
  const v = String(value);
  if (node.getAttribute(name) !== v) node.setAttribute(name, v);
}

export class NetworkView extends EventTarget {
  constructor({ container, tooltip, idPrefix = "" }) {
    super();
    this.container = container;
    this.tooltip = tooltip;
    this.idPrefix = idPrefix;
    this.index = null;
    this.notation = "goodfellow";
    this.eventIndex = 0;
    this.built = false;
    this.errGroups = new Map();
    this.visibleErr = new Set();
    this.lastWindow = -1;
    this.container.addEventListener("pointerover", (e) => this.onHover(e));
    this.container.addEventListener("pointerout", (e) => this.onLeave(e));
    this.container.addEventListener("focusin", (e) => this.onHover(e));
    this.container.addEventListener("focusout", (e) => this.onLeave(e));
    this.container.addEventListener("keydown", (e) => this.onKey(e));
    this.container.addEventListener("click", (e) => this.onPickWeights(e));
    this.container.addEventListener("click", (e) => this.onClick(e));
    // the viewport's width and scroll, kept here so that a step never forces a layout to read them
    this.viewWidth = container.clientWidth;
    this.scrollX = 0;
    new ResizeObserver(() => {
      this.viewWidth = container.clientWidth;
      // a panel that changed width gets a drawing of its own size, in the next frame
      if (this.built && Math.abs(this.viewWidth - this.builtWidth) > 24) {
        this.built = false;
        requestAnimationFrame(() => this.draw());
      }
    }).observe(container);
    container.addEventListener(
      "scroll",
      () => {
        this.scrollX = container.scrollLeft;
        if (!this.rangeFrame) {
          this.rangeFrame = requestAnimationFrame(() => {
            this.rangeFrame = 0;
            if (this.built) this.showRange();
          });
        }
      },
      { passive: true },
    );
  }

  /**
   * Long sequences (a drawing more than twice the panel's width) keep only the columns within
   * one panel's width of the view displayed: what is not displayed costs no style, layout or
   * paint when a step changes the drawing (T = 200 is 200 columns of nodes and strands).
   */
  showRange() {
    const lay = this.layout;
    const view = this.viewWidth || lay.width;
    let first = 0;
    let last = lay.T;
    if (lay.width > 2 * view) {
      first = Math.max(0, Math.floor((this.scrollX - view - lay.left) / lay.colW));
      last = Math.min(lay.T, Math.ceil((this.scrollX + 2 * view - lay.left) / lay.colW));
    }
    const [was0, was1] = this.range || [0, lay.T];
    if (this.range && was0 === first && was1 === last) return;
    this.range = [first, last];
    for (const { col, t } of this.columns) {
      const shown = t >= first && t <= last;
      if (shown !== (t >= was0 && t <= was1) || !this.rangeSet)
        col.style.display = shown ? "" : "none";
    }
    this.rangeSet = true;
    for (const k of this.visibleErr) this.showErr(this.errGroups.get(k));
  }

  inRange(t) {
    return !this.range || (t >= this.range[0] && t <= this.range[1]);
  }

  showErr(g) {
    g.style.display = this.inRange(Number(g.dataset.t)) ? "" : "none";
  }

  setTrace(index) {
    this.index = index;
    this.built = false;
    delete this.container.dataset.empty;
  }

  /**
   * Nothing to draw (the first scenario failed): say so in the panel, never leave it blank;
   * `key` and `params` the catalogue's text of why.
   */
  showEmpty(key = "status.empty", params = null) {
    this.index = null;
    this.built = false;
    this.container.dataset.empty = "true";
    const p = document.createElement("p");
    p.className = "empty";
    if (!params) p.dataset.i18n = key;
    p.textContent = tr(key, params);
    this.container.replaceChildren(p);
  }

  /** The height the drawing may take: a share of the window that the page's CSS sets. */
  maxHeight() {
    const share =
      Number.parseFloat(getComputedStyle(this.container).getPropertyValue("--net-height")) ||
      SIZES.netHeight;
    return Math.max(SIZES.netHeightMin, window.innerHeight * share);
  }

  setNotation(notation) {
    if (notation !== this.notation) {
      // the strands' colours follow the notation's sign of the errors (Haykin's δ = −∂ℰ/∂v)
      if (errorSign("dh", notation) !== errorSign("dh", this.notation)) this.built = false;
      this.notation = notation;
      this.labelsDirty = true;
    }
  }

  setLanguage() {
    this.labelsDirty = true;
  }

  setEvent(i) {
    this.eventIndex = i;
  }

  draw() {
    if (!this.index) return;
    if (!this.built) this.build();
    else if (this.labelsDirty) this.relabel();
    this.labelsDirty = false;
    this.drawEvent();
  }

  // ---- building (once per trace) -------------------------------------------------------

  build() {
    const idx = this.index;
    const { T } = idx;
    const cell = idx.cell;
    this.spec = idx.trace.cell_spec;
    this.builtWidth = this.container.clientWidth;
    const lay = networkLayout({
      T,
      layers: idx.layers,
      spec: this.spec,
      available: this.builtWidth || 900,
      maxHeight: this.maxHeight(),
    });
    this.layout = lay;
    this.errGroups.clear();
    this.visibleErr.clear();
    this.lastWindow = -1;
    this.arriving = null;
    this.range = null;
    this.rangeSet = false;

    const svg = el("svg", {
      id: `${this.idPrefix}network-svg`,
      width: lay.width,
      height: lay.height,
      viewBox: `0 0 ${lay.width} ${lay.height}`,
      role: "group",
      "data-cell": cell,
      "data-t-count": T,
      style: `--net-scale: ${lay.scale.toFixed(3)}`,
    });
    if (lay.colW / lay.scale < DENSE_COLUMN) svg.dataset.dense = "true";
    this.svg = svg;
    const defs = el("defs", {}, svg);
    for (const cls of ["arrow-fwd", "arrow-err"]) {
      const marker = el(
        "marker",
        {
          id: `${this.idPrefix}${cls}`,
          viewBox: "0 0 8 8",
          refX: 7,
          refY: 4,
          // in the drawing's units: an arrowhead as large as the scale, however wide its stroke
          markerUnits: "userSpaceOnUse",
          markerWidth: (cls === "arrow-err" ? 11 : 8) * lay.scale,
          markerHeight: (cls === "arrow-err" ? 11 : 8) * lay.scale,
          orient: "auto-start-reverse",
        },
        defs,
      );
      el("path", { d: "M0,0L8,4L0,8z", class: cls }, marker);
    }
    // Layers, bottom to top: the windows' bands, one <svg> per column, then #network-svg (the
    // errors, the unit buttons, the cursor, the labels). A step repaints only the <svg>s it
    // changes: the columns whose state it moves, not the 30 others (one drawing of them all
    // was repainted whole, 2-3 ms, whatever changed in it).
    this.svgFrame = (attrs = {}) => {
      const frame = el("svg", {
        width: lay.width,
        height: lay.height,
        viewBox: `0 0 ${lay.width} ${lay.height}`,
        class: "net-layer",
        style: `--net-scale: ${lay.scale.toFixed(3)}`,
        ...attrs,
      });
      if (svg.dataset.dense) frame.dataset.dense = "true";
      this.stack.append(frame);
      return frame;
    };
    this.stack = document.createElement("div");
    this.stack.className = "net-stack";
    this.stack.style.width = `${lay.width}px`;
    this.stack.style.height = `${lay.height}px`;
    const bandSvg = this.svgFrame();
    this.bandLayer = el("g", { class: "bands" }, bandSvg);
    // the current event's frame under the errors: a strand's norm, written where two columns
    // meet, sits on its backdrop above the frame's edge (and above the bands and cuts, in
    // the <svg>s below), never crossed by it
    const cursorId = `${this.idPrefix}net-cursor`;
    this.cursor = el("rect", { id: cursorId, class: "cursor", rx: 8 }, svg);
    this.layerBand =
      idx.layers > 1
        ? el("rect", { id: `${this.idPrefix}net-layer-band`, class: "layer-band", rx: 6 }, svg)
        : null;
    this.errLayer = el("g", { class: "err-layer" }, svg);
    this.unitLayer = el("g", { class: "unit-layer" }, svg);
    this.buildBands();
    this.buildXi();
    this.columns = [];
    for (let t = 0; t <= T; t += 1) this.columns.push(this.buildColumn(t));
    this.buildRowLabels();
    svg.classList.add("net-layer", "net-top");
    this.stack.append(svg);
    this.container.replaceChildren(this.stack);
    this.container.setAttribute("tabindex", "0");
    this.built = true;
    this.relabel();
  }

  buildBands() {
    const lay = this.layout;
    this.bands = this.index.windows.map((w, k) => {
      const [x0, x1] = bandX(lay, w.first, w.last);
      const g = el(
        "g",
        { class: "band", "data-window": k, "data-first": w.first, "data-last": w.last },
        this.bandLayer,
      );
      const s = lay.scale;
      el("rect", { x: x0 + 1, y: 4, width: x1 - x0 - 2, height: lay.height - 8, rx: 6 * s }, g);
      const y = 3;
      el("path", { class: "bracket", d: `M${x0 + 3},${y + 4 * s}V${y}H${x1 - 3}V${y + 4 * s}` }, g);
      if (w.first > 1) {
        const xc = x0;
        const cut = el("g", { class: "cut", "data-t": w.first }, g);
        el("line", { x1: xc, x2: xc, y1: lay.rowY.L - 8 * s, y2: lay.height - 6 }, cut);
        // above the line's top, centred on it in the targets' row: between two columns'
        // targets, never over the loss nodes
        const label = el(
          "text",
          {
            x: xc,
            y: lay.rowY.L - lay.node - 9 * s,
            class: "cut-label",
            "text-anchor": "middle",
          },
          cut,
        );
        label.dataset.i18n = "net.cut";
      }
      return g;
    });
  }

  /**
   * Randomized truncation (the trace's xi, as the API drew it; never drawn here): between
   * columns t−1 and t, ξ_t, the weight of the error flowing from step t back to step t−1. A
   * zero cuts that flow as a window's cut does (the same dashed line, "ξ = 0"); a kept flow is
   * scaled by 1/p, written "ξ = 2" (for p = 0.5) with no line. ξ_1 weighs nothing (no step 0
   * to reach), so it is not drawn.
   */
  buildXi() {
    this.xiGroups = new Map(); // t -> its <g class="xi">
    this.xiShown = null;
    const xi = this.index.trace.xi;
    if (!Array.isArray(xi)) return;
    const lay = this.layout;
    const s = lay.scale;
    const layer = el("g", { class: "xi-layer" }, this.bandLayer);
    for (let t = 2; t <= xi.length; t += 1) {
      const value = xi[t - 1];
      const cut = value === 0;
      const [xc] = bandX(lay, t, t);
      const g = el(
        "g",
        { class: `xi ${cut ? "xi-cut" : "xi-kept"}`, "data-t": t, "data-xi": raw(value) },
        layer,
      );
      this.xiGroups.set(t, g);
      if (cut) el("line", { x1: xc, x2: xc, y1: lay.rowY.L - 8 * s, y2: lay.height - 6 }, g);
      const label = el(
        "text",
        { x: xc, y: lay.rowY.L - lay.node - 9 * s, class: "xi-label", "text-anchor": "middle" },
        g,
      );
      const args = { xi: num(value, 3), t, prev: t - 1 };
      label.dataset.i18n = "net.xi";
      label.dataset.i18nArgs = JSON.stringify(args);
      const title = el("title", {}, g);
      title.dataset.i18n = cut ? "net.xi.cut" : "net.xi.kept";
      title.dataset.i18nArgs = JSON.stringify(args);
    }
  }

  /**
   * A node; in a stack, a layer above the first has ids and row names with "_l<layer>" (as the
   * API names its parameters: node-h_l2-3, node-gate-f_l2-3) and data-layer.
   */
  nodeGroup(parent, { name, t, kind, x, y, r, gate = null, layer = 1 }) {
    const id =
      this.idPrefix + (gate ? `node-gate-${layerRow(gate, layer)}-${t}` : `node-${name}-${t}`);
    const g = el(
      "g",
      {
        class: `node node-${kind}`,
        id,
        "data-node": gate ? "gate" : name,
        "data-t": t,
        "data-kind": kind,
        tabindex: "-1",
        role: "img",
        transform: `translate(${x},${y})`,
      },
      parent,
    );
    if (gate) g.setAttribute("data-gate", gate);
    if (this.layout.layers > 1 && kind !== "input" && kind !== "output" && kind !== "loss") {
      g.dataset.layer = layer;
      if (!gate) g.dataset.node = name.replace(/_l\d+$/, "");
    }
    el("circle", { r }, g);
    const text = el("text", { class: "node-label", "text-anchor": "middle", dy: "0.35em" }, g);
    return { g, text };
  }

  buildColumn(t) {
    const idx = this.index;
    const lay = this.layout;
    const x = lay.colX(t);
    const y = lay.rowY;
    const colId = `${this.idPrefix}col-${t}`;
    const col = el("g", { class: "col", "data-t": t, id: colId }, this.svgFrame());
    const edges = el("g", { class: "fwd-edges" }, col);
    const nodes = {};
    // a stack: each layer's nodes and edges in a group of their own, whose data-state says
    // whether that layer's h(t) is computed yet (layer 1 runs every step before layer 2 does)
    const blocks = [];
    const R = lay.node;
    const makeAdd =
      (parent, layer = 1) =>
      (spec) => {
        const name = spec.gate ? null : spec.name;
        const row = name && layer > 1 ? layerRow(name, layer) : name;
        const n = this.nodeGroup(parent, { t, x, r: R, ...spec, name: row, layer });
        nodes[spec.gate ? layerRow(`gate-${spec.gate}`, layer) : row] = n;
        return n;
      };
    const makeEdge =
      (parent, layer = 1) =>
      (name, d) => {
        const path = el(
          "path",
          {
            class: "edge",
            d,
            "data-edge": name,
            "data-t": t,
            id: `${this.idPrefix}edge-${layerRow(name, layer)}-${t}`,
            "marker-end": `url(#${this.idPrefix}arrow-fwd)`,
          },
          parent,
        );
        if (layer > 1) path.dataset.layer = layer;
        this.hitPath(parent, name, d, t, layer);
        return path;
      };
    const layerParent = (layer) => {
      if (lay.layers === 1) return { nodesIn: col, edgesIn: edges };
      const block = el("g", { class: "layer-block", "data-layer": layer }, col);
      blocks[layer - 1] = block;
      return { nodesIn: block, edgesIn: el("g", { class: "fwd-edges" }, block) };
    };
    const px = t > 0 ? lay.colX(t - 1) : null;

    if (t === 0) {
      for (let layer = 1; layer <= lay.layers; layer += 1) {
        const add = makeAdd(layerParent(layer).nodesIn, layer);
        add({ name: "h", kind: "state", y: y[layerRow("h", layer)] });
        if ("c" in y) add({ name: "c", kind: "state", y: y[layerRow("c", layer)] });
      }
      return { col, nodes, t, blocks };
    }
    const add = makeAdd(col);
    const xNode = add({ name: "x", kind: "input", y: y.x });
    // a stack: the output and the loss read the top layer's h(t), and are drawn as computed
    // only once it is (every layer's forward event carries them: CONTRACT.md)
    const outBlock =
      lay.layers > 1 ? el("g", { class: "layer-block", "data-layer": "output" }, col) : null;
    const addOut = outBlock ? makeAdd(outBlock) : add;
    const edge = makeEdge(outBlock ? el("g", { class: "fwd-edges" }, outBlock) : edges);
    addOut({ name: "yhat", kind: "output", y: y.yhat });
    const lossNode = addOut({ name: "L", kind: "loss", y: y.L });
    const fwdTop = idx.forward(t);
    if (fwdTop && !fwdTop.loss_injected) lossNode.g.classList.add("no-loss");
    this.writeTokens(col, xNode, t);
    // the output reads the top layer's h(t)
    const hTop = y[layerRow("h", lay.layers)];
    edge("h-yhat", `M${x},${hTop - R}L${x},${y.yhat + R + 1}`);
    edge("yhat-L", `M${x},${y.yhat - R}L${x},${y.L + R + 1}`);
    for (let layer = 1; layer <= lay.layers; layer += 1) {
      const { nodesIn, edgesIn } = layerParent(layer);
      this.buildLayer({ col: nodesIn, edges: edgesIn, t, x, px, layer, nodes }, makeAdd, makeEdge);
    }
    return { col, nodes, t, blocks, outBlock };
  }

  /**
   * One layer's h(t) (and c(t), and gates) in column t, with what it reads: x(t) for layer 1,
   * the layer below's h(t) above it (a stack's input edge, the "x" of its parameters).
   */
  buildLayer({ col, edges, t, x, px, layer, nodes }, makeAdd, makeEdge) {
    const idx = this.index;
    const lay = this.layout;
    const y = lay.rowY;
    const R = lay.node;
    const s = lay.scale;
    const add = makeAdd(col, layer);
    const edge = makeEdge(edges, layer);
    const row = (name) => y[layerRow(name, layer)];
    const inputY = layer === 1 ? y.x : y[layerRow("h", layer - 1)];
    const fwd = idx.forward(t, layer);
    add({ name: "h", kind: "state", y: row("h") });
    if (!gatesOf(this.spec).length) {
      edge("h-h", `M${px + R},${row("h")}L${x - R - 1},${row("h")}`);
      edge("x-h", `M${x},${inputY - R}L${x},${row("h") + R + 1}`);
    } else {
      this.buildGates({ col, edges, nodes, t, x, px, add, edge, layer, inputY });
    }
    // value strips beside h (and c): one cell per hidden unit, coloured by the API's values
    if (fwd) {
      this.strip(col, x + R + 3 * s, row("h"), fwd.h, idx.scales.h);
      if ("c" in y && fwd.c) this.strip(col, x + R + 3 * s, row("c"), fwd.c, idx.scales.c);
    }
  }

  /** The input token (or series value) on x(t), and the target above L(t). */
  writeTokens(col, xNode, t) {
    const idx = this.index;
    const lay = this.layout;
    const x = lay.colX(t);
    const y = lay.rowY;
    const R = lay.node;
    const s = lay.scale;
    const tok = idx.tokens(t);
    if (idx.trace.vocab) {
      // a word longer than its column is cut short (the whole word is in the node's tooltip)
      xNode.text.textContent = fitText(TraceIndex.shown(tok.x), lay.colW - 4 * s, 13 * s);
      xNode.text.setAttribute("data-raw", "");
      xNode.g.classList.add("token");
    } else if (tok.scaled) {
      // a series: the input in the series' own units, as the student typed it
      xNode.text.textContent = num(inSeriesUnits(tok.x, idx.trace.scale), 3);
      xNode.text.setAttribute("data-raw", "");
      xNode.g.classList.add("value");
    }
    // the target above the loss node, clear of the current event's frame (drawCursor: 4·s
    // above the node, and its stroke) even with the descent of its type
    const target = el(
      "text",
      { class: "target", x, y: y.L - R - 9 * s, "text-anchor": "middle", "data-raw": "" },
      col,
    );
    const yShown = tok.scaled ? inSeriesUnits(tok.y, idx.trace.scale) : tok.y;
    target.textContent =
      yShown === null || yShown === undefined
        ? ""
        : typeof yShown === "number"
          ? num(yShown, 3)
          : fitText(TraceIndex.shown(yShown), lay.colW - 4 * s, 11 * s);
  }

  /** The gates of an LSTM or GRU column (of one layer), their edges, and the LSTM's cell state. */
  buildGates({ col, edges, nodes, t, x, px, add, edge, layer = 1, inputY }) {
    const lay = this.layout;
    const y = lay.rowY;
    const row = (name) => y[layerRow(name, layer)];
    const hY = row("h");
    const R = lay.node;
    const s = lay.scale;
    const gates = gatesOf(this.spec);
    const slots = gateSlots(lay, t, layer);
    const gr = lay.gate;
    const top = Math.min(...slots.map((p) => p.y)) - gr;
    const thin = (name, d) => {
      const path = el("path", { class: "edge thin", d, "data-edge": name, "data-t": t }, edges);
      if (layer > 1) path.dataset.layer = layer;
      return path;
    };
    edge("h-gates", curve(px + R * 0.7, hY + R * 0.7, slots[0].x - gr, top - 2 * s));
    const inputs = []; // one hit path for every gate's input connection
    gates.forEach((g, k) => {
      const d = `M${x},${inputY - R}L${slots[k].x},${slots[k].y + gr}`;
      thin("x-gate", d);
      inputs.push(d);
      nodes[layerRow(`gate-${g}`, layer)] = this.nodeGroup(col, {
        name: "gate",
        t,
        kind: "gate",
        x: slots[k].x,
        y: slots[k].y,
        r: gr,
        gate: g,
        layer,
      });
    });
    this.hitPath(edges, "x-gate", inputs.join(""), t, layer);
    if ("c" in y) {
      // the cell state: written by every gate but the last; the last gates what c gives h
      const cY = row("c");
      add({ name: "c", kind: "state", y: cY });
      edge("c-c", `M${px + R},${cY}L${x - R - 1},${cY}`);
      edge("c-h", `M${x},${cY - R}L${x},${hY + R + 1}`);
      for (const p of slots.slice(0, -1)) thin("gate-c", curve(p.x, p.y - gr, x, cY + R));
      const o = slots.at(-1);
      thin(
        "gate-h",
        `M${o.x},${o.y - gr}C${o.x + 14 * s},${cY} ${x + R + 6 * s},${hY + 6 * s} ` +
          `${x + R - 2 * s},${hY + 4 * s}`,
      );
    } else {
      edge("h-h", `M${px + R},${hY}L${x - R - 1},${hY}`);
      for (const p of slots) thin("gate-h", curve(p.x, p.y - gr, x, hY + R));
    }
  }

  /**
   * A value strip: one cell per hidden unit, coloured on the diverging scale, drawn as one
   * image (a 1×H canvas scaled up without smoothing): 200 columns of H = 64 units are 400
   * images, not 25,600 rectangles to style and paint.
   */
  strip(parent, x, yc, values, scale) {
    if (!Array.isArray(values) || !values.length) return;
    const s = this.layout.scale;
    const n = values.length;
    const total = Math.min(30, Math.max(8, n * 4)) * s;
    this.stripCanvas ??= document.createElement("canvas");
    const canvas = this.stripCanvas;
    canvas.width = 1;
    canvas.height = n;
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(1, n);
    values.forEach((v, j) => {
      const k = lutIndex(v === null ? null : v / scale);
      const rgb = k < 0 ? [204, 204, 204] : DIVERGING_LUT.subarray(k * 3, k * 3 + 3);
      image.data.set([...rgb, 255], j * 4);
    });
    ctx.putImageData(image, 0, 0);
    el(
      "image",
      {
        class: "strip",
        href: canvas.toDataURL(),
        x,
        y: yc - total / 2,
        width: 5 * s,
        height: total,
        preserveAspectRatio: "none",
      },
      parent,
    );
  }

  buildRowLabels() {
    const lay = this.layout;
    this.rowLabels = {};
    const g = el("g", { class: "row-labels" }, this.svg);
    for (const row of lay.rows) {
      if (row.startsWith("gates")) continue;
      const text = el(
        "text",
        { x: 6 * lay.scale, y: lay.rowY[row], dy: "0.35em", class: "row-label" },
        g,
      );
      this.rowLabels[row] = text;
    }
    // a stack: each layer named under its h row's label ("layer 2"), and a band that frames
    // the current event's layer across every column (drawCursor)
    this.layerLabels = [];
    if (lay.layers > 1) {
      for (let layer = 1; layer <= lay.layers; layer += 1) {
        const text = el(
          "text",
          {
            x: 3 * lay.scale,
            y: lay.rowY[layerRow("h", layer)] + lay.node + 2 * lay.scale,
            dy: "0.8em",
            class: "layer-label",
            "data-layer": layer,
          },
          g,
        );
        text.dataset.i18n = "net.layer";
        text.dataset.i18nArgs = JSON.stringify({ j: layer });
        this.layerLabels.push(text);
      }
    }
    this.stepLabels = [];
    const tg = el("g", { class: "step-labels", "data-raw": "" }, this.svg);
    for (let t = 0; t <= this.index.T; t += 1) {
      const text = el(
        "text",
        {
          x: lay.colX(t),
          y: lay.height - 5 * lay.scale,
          "text-anchor": "middle",
          class: "step-label",
        },
        tg,
      );
      text.textContent = String(t);
      this.stepLabels.push(text);
    }
  }

  relabel() {
    const n = this.notation;
    this.unitsKey = null; // the unit buttons' labels follow the language and the notation
    for (const [row, text] of Object.entries(this.rowLabels)) {
      svgLabel(text, varLabel(row.replace(/_l\d+$/, ""), n));
      text.setAttribute("data-raw", "");
    }
    for (const { nodes, t } of this.columns) {
      for (const [row, { g, text }] of Object.entries(nodes)) {
        const key = row.replace(/_l\d+$/, ""); // a stack's layer above the first: h_l2 is an h
        let label;
        if (key.startsWith("gate-")) label = gateLabel(key.slice(5), n);
        else label = varLabel(key, n);
        if (!(key === "x" && (this.index.trace.vocab || this.index.trace.scale))) {
          svgLabel(text, label);
          text.setAttribute("data-raw", "");
        }
        const layer = Number(g.dataset.layer || 0);
        g.setAttribute(
          "aria-label",
          layer
            ? tr("net.layerNode", { node: labelText(label, n, t), j: layer })
            : labelText(label, n, t),
        );
      }
    }
    this.svg.setAttribute("aria-label", tr("net.aria"));
    this.container.setAttribute("aria-label", tr("net.aria"));
    for (const label of this.stack.querySelectorAll("[data-i18n]")) {
      const args = label.dataset.i18nArgs ? JSON.parse(label.dataset.i18nArgs) : undefined;
      label.textContent = tr(label.dataset.i18n, args);
    }
  }

  // ---- per event ----------------------------------------------------------------------

  drawEvent() {
    const idx = this.index;
    const i = Math.min(this.eventIndex, idx.events.length - 1);
    const ev = idx.event(i);
    if (!ev) return;
    const svg = this.svg;
    setAttr(svg, "data-event-index", i);
    setAttr(svg, "data-event-kind", ev.kind);
    setAttr(svg, "data-event-t", ev.t);
    if (idx.layers > 1) setAttr(svg, "data-event-layer", ev.layer ?? "");
    this.drawColumns(i, ev);
    this.markXi(ev);
    this.drawErrors(i);
    this.markCurrent(ev);
    this.drawUnits(i, ev);
    const [x0, x1] = this.drawCursor(ev);
    // keep the current column in view
    const view = this.viewWidth;
    if (this.layout.width > view) {
      const left = scrollToShow(x0, x1, this.scrollX, view);
      if (left !== this.scrollX) {
        this.container.scrollLeft = left;
        this.scrollX = left;
      }
    }
    this.showRange();
    const active = this.active();
    if (this.container.contains(active) && active !== this.container) this.focusCurrent();
  }

  /** Columns future (not computed yet), done or current; the window band of the event. */
  drawColumns(i, ev) {
    const idx = this.index;
    for (const { col, t, blocks, outBlock } of this.columns) {
      // a column is under way once its first layer is computed; in a stack each layer's
      // block says whether its own h(t) is (layer 1 runs every step before layer 2 does)
      let state = idx.computed(t, i, 1) ? "done" : "future";
      if (t === ev.t) state = "current";
      if (col.dataset.state !== state) col.dataset.state = state;
      blocks?.forEach((block, k) => {
        let own = idx.computed(t, i, k + 1) ? "done" : "future";
        if (t === ev.t && k + 1 === (ev.layer ?? idx.layers)) own = "current";
        setAttr(block, "data-state", own);
      });
      if (outBlock) setAttr(outBlock, "data-state", idx.computed(t, i) ? "done" : "future");
    }
    const w = idx.windowOfEvent[i];
    if (w !== this.lastWindow) {
      this.bands.forEach((b, k) => {
        b.classList.toggle("is-current", k === w);
      });
      this.lastWindow = w;
    }
    setAttr(this.bandLayer, "data-phase", ev.kind);
  }

  /**
   * At a backward step t, the ξ of the flow arriving from step t + 1 is the current one: in
   * narrow columns it is the only ξ named (the CSS), the others keep their line and tooltip.
   */
  markXi(ev) {
    const g = ev.kind === "backward" ? (this.xiGroups?.get(ev.t + 1) ?? null) : null;
    if (g === this.xiShown) return;
    this.xiShown?.classList.remove("is-current");
    g?.classList.add("is-current");
    this.xiShown = g;
  }

  /** The error strands of the backward steps reached in this window (built when first shown). */
  drawErrors(i) {
    const want = new Set(this.index.backwardSoFar(i));
    for (const k of this.visibleErr) {
      if (!want.has(k)) this.errGroups.get(k).style.display = "none";
    }
    // only the bundles that appear, and the current one (toggle with a force writes nothing
    // when the class is already so): the others of the window stay untouched
    for (const k of want) {
      let g = this.errGroups.get(k);
      if (!g) {
        g = this.buildErr(k);
        this.errGroups.set(k, g);
      }
      if (!this.visibleErr.has(k)) this.showErr(g);
      g.classList.toggle("is-current", k === i);
    }
    this.visibleErr = want;
    // the error of a new backward event runs along its strands (CSS .is-arriving, skipped
    // under prefers-reduced-motion); the class stays until another event arrives
    const arriving = want.has(i) ? this.errGroups.get(i) : null;
    if (arriving !== this.arriving) {
      this.arriving?.classList.remove("is-arriving");
      arriving?.classList.add("is-arriving");
      this.arriving = arriving;
    }
  }

  /** The nodes the event computes: all of a forward step, the states and gates of a backward. */
  markCurrent(ev) {
    const nodes = this.columns[ev.t].nodes;
    const layers = this.layout.layers;
    const current = [];
    // in a stack, the event's own layer's nodes (and what it reads or feeds: x for layer 1,
    // the output and loss for the top's forward step); an update's: the top h
    const layer = ev.layer ?? layers;
    const own = (key) => {
      const m = /_l(\d+)$/.exec(key);
      return (m ? Number(m[1]) : 1) === layer;
    };
    const stateOrGate = (key) => /^(h|c|gate-)/.test(key);
    if (ev.kind === "forward") {
      for (const [key, n] of Object.entries(nodes)) {
        if (
          layers === 1 ||
          (stateOrGate(key) ? own(key) : key === "x" ? layer === 1 : layer === layers)
        ) {
          current.push(n.g);
        }
      }
    } else if (ev.kind === "backward") {
      for (const [key, n] of Object.entries(nodes)) {
        if (stateOrGate(key) && own(key)) current.push(n.g);
      }
    } else current.push(nodes[layerRow("h", layers)].g);
    // only the nodes whose state changes: the previous event's and this one's
    const now = new Set(current);
    for (const node of this.currentNodes || []) {
      if (!now.has(node)) node.removeAttribute("data-current");
    }
    for (const node of current) setAttr(node, "data-current", "true");
    this.currentNodes = current;
  }

  /** The cursor around the event's column (an update's: its whole window); its x range. */
  drawCursor(ev) {
    const lay = this.layout;
    const cur = this.cursor;
    setAttr(cur, "data-t", ev.t);
    setAttr(cur, "data-kind", ev.kind);
    setAttr(cur, "class", `cursor cursor-${ev.kind}`);
    const win = ev.kind === "update" ? this.index.trace.updates[ev.update]?.window : null;
    const [x0, x1] = bandX(lay, win ? win[0] : ev.t, win ? win[1] : ev.t);
    setAttr(cur, "x", x0 + 2);
    setAttr(cur, "width", x1 - x0 - 4);
    const top = lay.rowY.L - lay.node - 4 * lay.scale;
    setAttr(cur, "y", top);
    setAttr(cur, "height", lay.height - top - 16);
    this.drawLayerBand(ev);
    return [x0, x1];
  }

  /**
   * A stack: the band around the rows of the event's layer (its h, c and gates), across every
   * column, so the current step reads as "step t of layer j"; none at an update.
   */
  drawLayerBand(ev) {
    const band = this.layerBand;
    if (!band) return;
    const lay = this.layout;
    const layer = ev.kind === "update" ? null : (ev.layer ?? lay.layers);
    band.style.display = layer ? "" : "none";
    for (const label of this.layerLabels) {
      label.classList.toggle("is-current", Number(label.dataset.layer) === layer);
    }
    if (!layer) return;
    const s = lay.scale;
    const rows = lay.rows.filter((r) => r === layerRow(r.replace(/_l\d+$/, ""), layer));
    const own = rows.filter((r) => !["L", "yhat", "x"].includes(r));
    const y0 = lay.rowY[own[0]] - lay.node - 5 * s;
    const last = own.at(-1);
    const below = last.startsWith("gates") ? lay.gate * (lay.gateRows > 1 ? 2.2 : 1) : lay.node;
    const y1 = lay.rowY[last] + below + 5 * s;
    setAttr(band, "data-layer", layer);
    setAttr(band, "data-kind", ev.kind);
    setAttr(band, "x", 2 * s);
    setAttr(band, "width", lay.width - 4 * s);
    setAttr(band, "y", y0);
    setAttr(band, "height", y1 - y0);
  }

  /**
   * At a backward event, the hidden units of its step as buttons over h's value strip (one per
   * unit, in the strip's order): each opens that unit's neuron view. Only the current column's:
   * H elements, not T·H.
   */
  drawUnits(i, ev) {
    // a stack: the units of the event's own layer (POST /neuron takes its layer)
    const layer = ev.layer ?? this.index.layers;
    const fwd = this.index.forward(ev.t, layer);
    const wanted = ev.kind === "backward" && Array.isArray(fwd?.h);
    // the same event's buttons (a redraw that does not move it), or none before and none now
    const key = wanted ? `${i} ${this.notation}` : "";
    if (key === this.unitsKey) return;
    this.unitsKey = key;
    this.unitLayer.replaceChildren();
    if (!wanted) return;
    const lay = this.layout;
    const s = lay.scale;
    const H = fwd.h.length;
    const x = lay.colX(ev.t) + lay.node + 3 * s;
    const total = Math.min(30, Math.max(8, H * 4)) * s; // the strip's height (strip())
    const y0 = lay.rowY[layerRow("h", layer)] - total / 2;
    const n = this.notation;
    for (let j = 0; j < H; j += 1) {
      const r = el(
        "rect",
        {
          class: "unit",
          id: `${this.idPrefix}unit-${ev.t}-${j}`,
          "data-t": ev.t,
          "data-unit": j,
          "data-event": i,
          x: x - 2 * s,
          y: y0 + (j * total) / H,
          width: 9 * s,
          height: total / H,
          tabindex: "-1",
          role: "button",
        },
        this.unitLayer,
      );
      r.setAttribute(
        "aria-label",
        tr("neuron.unitAria", { j: j + 1, h: labelText(varLabel("h", n), n, ev.t) }),
      );
    }
  }

  /**
   * Ask for the neuron view of unit j at step t of the current window (main.js: the store);
   * type "unit-intent": the pointer or the keyboard is on it, not yet clicked.
   */
  openUnit(t, unit, type = "unit") {
    const ev = this.index?.event(this.eventIndex);
    if (!ev || ev.kind === "forward") return false;
    // (a stack: the step of the event's own layer)
    const layer = ev.layer ?? null;
    const k = this.index.find("backward", t, ev.update, layer);
    if (k < 0 || !this.index.backwardReached(t, Math.max(k, this.eventIndex), layer)) return false;
    this.dispatchEvent(new CustomEvent(type, { detail: { event: k, unit } }));
    return true;
  }

  /** The unit a click or key names: a unit button, or an h node (its first unit). */
  unitTarget(target) {
    const unit = target.closest?.(".unit");
    if (unit) return [Number(unit.dataset.t), Number(unit.dataset.unit)];
    const node = target.closest?.('.node[data-node="h"]');
    // a stack: an h of the event's own layer (the neuron view is of that layer's units)
    const ev = this.index?.event(this.eventIndex);
    if (node?.dataset.layer && Number(node.dataset.layer) !== (ev?.layer ?? this.index.layers)) {
      return null;
    }
    if (node && Number(node.dataset.t) > 0) return [Number(node.dataset.t), this.lastUnit ?? 0];
    return null;
  }

  onClick(e) {
    const hit = this.unitTarget(e.target);
    if (hit && this.openUnit(...hit)) this.lastUnit = hit[1];
  }

  buildErr(k) {
    const idx = this.index;
    const ev = idx.event(k);
    const lay = this.layout;
    const t = ev.t;
    const x = lay.colX(t);
    // a stack: the rows of the event's own layer (h_l2 ...); one layer's are h and c
    const layer = ev.layer ?? lay.layers;
    const y = { ...lay.rowY, h: lay.rowY[layerRow("h", layer)], c: lay.rowY[layerRow("c", layer)] };
    const R = lay.node;
    const s = lay.scale;
    const scale = idx.scales.err;
    const spread = SIZES.strandSpread * s;
    const g = el("g", { class: "err-step", "data-event": k, "data-t": t }, this.errLayer);
    if (lay.layers > 1) g.dataset.layer = layer;
    // one bundle: a strand per hidden unit, and the length of the error vector written beside it
    const bundle = (name, field, path, [lx, ly, anchor]) => {
      const values = ev[field];
      if (!Array.isArray(values) || values.every((v) => v === 0)) return;
      const b = el(
        "g",
        {
          class: "err",
          "data-edge": name,
          "data-t": t,
          "data-update": ev.update,
          id: `${this.idPrefix}${name}-${t}-u${ev.update}${lay.layers > 1 ? `-l${layer}` : ""}`,
        },
        g,
      );
      if (lay.layers > 1) b.dataset.layer = layer;
      // a thin line in the error's colour under the strands: a bundle whose values are small
      // beside the trace's largest (pale, thin strands) still reads as error flowing there
      el("path", { class: "spine", d: path(0), pathLength: 1 }, b);
      const offs = strandOffsets(values.length, spread, SIZES.strandStep * s);
      const sign = errorSign(field, this.notation); // Haykin's sign: colours flip with it
      values.forEach((v, j) => {
        const u = v === null ? 1 : (sign * v) / scale;
        const p = el(
          "path",
          {
            d: path(offs[j]),
            stroke: diverging(v === null ? null : u),
            "stroke-width": (strandWidth(u) * s).toFixed(2),
            pathLength: 1,
          },
          b,
        );
        if (j === Math.floor(values.length / 2)) {
          p.setAttribute("marker-end", `url(#${this.idPrefix}arrow-err)`);
        }
      });
      // a wide transparent path makes the bundle easy to hover
      el("path", { class: "hit", d: path(0) }, b);
      // the API's ‖vector‖; a norm the API does not send is not written (none is computed here)
      if (ev.norms?.[field] === undefined && field === "dh_above") return;
      const text = num(ev.norms?.[field] ?? null, 2);
      // its backdrop: the label's monospaced cells (0.6 em each) and a margin, from the size
      // the CSS gives it (10 px at scale 1; its line box, ascent and descent, 1.2 em tall), so
      // no layout is read to draw it
      const em = 10 * s;
      const w = text.length * 0.6 * em + 3 * s;
      el(
        "rect",
        {
          class: "err-norm-bg",
          x: anchor === "start" ? lx - 1.5 * s : lx - w + 1.5 * s,
          y: ly - 0.95 * em,
          width: w,
          height: 1.22 * em,
          rx: 2 * s,
        },
        b,
      );
      const norm = el(
        "text",
        { class: "err-norm", x: lx, y: ly, "text-anchor": anchor, "data-raw": "" },
        b,
      );
      norm.textContent = text;
    };
    const xo = x + lay.colW * 0.3;
    const pad = spread / 2 + 4 * s;
    bundle(
      "err-out",
      "dh_out",
      (o) => `M${xo + o},${y.L + R}L${xo + o},${y.h - R + 2}`,
      [xo + pad, (y.L + y.yhat) / 2, "start"], // beside the bundle (the margin has room)
    );
    if (layer < lay.layers) {
      // a lower layer of a stack: what reached h(t) from the layer above (dh_above), coming
      // down from that layer's gates (or its h) at step t, beside where err-out runs above
      const above = lay.rowY[layerRow(lay.gates ? "gates" : "h", layer + 1)];
      const from = above + (lay.gates ? lay.gate * (lay.gateRows > 1 ? 2.2 : 1) : R);
      // its number beside the strand's start, level with the upper layer's gates: clear of
      // dh_next's, written just above h(t) (the strand between them is short)
      const path = (o) => `M${xo + o},${from}L${xo + o},${y.h - R + 2}`;
      bundle("err-above", "dh_above", path, [xo + pad, from - 2 * s, "start"]);
    }
    const last = ev.window ? ev.window[1] : idx.T;
    if (t < last) {
      const nx = lay.colX(t + 1);
      // above the strand, starting where err-out's label starts: right of the err-out bundle
      // and its arrowhead (which end at the top of h), never over them
      const across = (row) => [xo + pad, row - R + 4 * s - pad + 2 * s, "start"];
      bundle(
        "err-next",
        "dh_next",
        (o) => `M${nx - R},${y.h - R + 4 * s + o}L${x + R + 8 * s},${y.h - R + 4 * s + o}`,
        across(y.h),
      );
      if (Array.isArray(ev.dc_next)) {
        bundle(
          "err-c",
          "dc_next",
          (o) => `M${nx - R},${y.c - R + 4 * s + o}L${x + R + 8 * s},${y.c - R + 4 * s + o}`,
          across(y.c),
        );
      }
    }
    return g;
  }

  // ---- interaction ----------------------------------------------------------------------

  /** The invisible, wide twin of a connection that applies weights: what a click lands on. */
  hitPath(parent, name, d, t, layer = 1) {
    // (a gated cell's h-h is a carry such as the GRU's z ⊙ h(t−1): no weights on it)
    if (!WEIGHT_EDGES.has(name) || (name === "h-h" && gatesOf(this.spec).length)) return;
    const hit = el("path", { class: "edge-hit", d, "data-hit": name, "data-t": t }, parent);
    if (layer > 1) hit.dataset.layer = layer;
  }

  /** A click on a connection: its weights (the studio's weight card opens them). */
  onPickWeights(e) {
    const hit = e.target.closest?.(".edge-hit");
    if (!hit) return;
    const { hit: edge, t } = hit.dataset;
    const layer = Number(hit.dataset.layer || 1);
    this.dispatchEvent(
      new CustomEvent("pick-weights", {
        detail: { edge, t: Number(t), layer, x: e.pageX, y: e.pageY },
      }),
    );
  }

  focusCurrent() {
    const node = this.currentNodes?.find((n) => n.dataset.node === "h") || this.currentNodes?.[0];
    if (node && this.active() !== node) node.focus({ preventScroll: true });
  }

  /**
   * The focused element where the drawing lives: the page's, or a notebook widget's shadow
   * root's (there document.activeElement is only the widget's host).
   */
  active() {
    return this.container.getRootNode().activeElement;
  }

  onKey(e) {
    if (e.key === "Enter" || e.key === " ") {
      const hit = this.unitTarget(e.target);
      if (hit && this.openUnit(...hit)) {
        this.lastUnit = hit[1];
        e.preventDefault();
      }
      return;
    }
    if (e.key !== "ArrowUp" && e.key !== "ArrowDown") return;
    const active = this.active();
    // the nodes of a column, or (from a unit) the units of its step
    const nodes = active?.classList?.contains("unit")
      ? [...this.unitLayer.querySelectorAll(".unit")]
      : [
          ...(
            active?.closest?.(".col") || this.columns[this.index.event(this.eventIndex).t].col
          ).querySelectorAll(".node"),
        ];
    nodes.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);
    let k = nodes.indexOf(active);
    if (k < 0) k = nodes.findIndex((n) => n.dataset.node === "h");
    k = Math.max(0, Math.min(nodes.length - 1, k + (e.key === "ArrowUp" ? -1 : 1)));
    nodes[k].focus();
    e.preventDefault();
    e.stopPropagation();
  }

  /** Hover or focus: the values of a node or an error bundle (inspect.js, loaded on first use). */
  onHover(e) {
    const unit = e.target.closest?.(".unit");
    if (unit) this.openUnit(Number(unit.dataset.t), Number(unit.dataset.unit), "unit-intent");
    const target = e.target.closest?.(".node, .err");
    this.hovered = target;
    if (!target) return;
    import("./inspect.js").then((m) => {
      if (this.hovered !== target) return; // the pointer has moved on meanwhile
      if (target.classList.contains("node")) m.showNode(this, target);
      else m.showErr(this, target);
    });
  }

  onLeave(e) {
    if (e.target.closest?.(".node, .err")) {
      this.hovered = null;
      this.tooltip.hide();
    }
  }
}
