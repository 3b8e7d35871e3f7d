// The neuron view: one hidden unit j at one backward step t, its error δ_j(t) as the sum it is
// (Haykin's δ_j(n) = φ′(v_j(n)) [e_j(n) + Σ_k w_kj δ_k(n+1)]: the MLP rule "a unit's error is
// the sum of the next layer's errors times the weights", the next layer being step t+1), term
// by term with the numbers of POST /api/v1/neuron (docs/neuron.md). Nothing is computed here:
// every number is the API's, in the sign of the notation's convention (Haykin's asks for
// "convention": "haykin"); this module only lays the API's tree of sum, product, dot and value
// nodes out as text and tables, and marks the units that contribute on the network (through
// highlight.js).
//
// It follows the store: `neuron` ({unit}, 0-based, or null when closed) and the current event
// (a backward event gives t and the window). Hooks for tests: #neuron[data-state] ("loading",
// "ready", "idle": not a backward event, "failed", "none": a cell the page has no module for),
// data-t, data-unit, data-convention; every node is an element [data-node] with data-op and
// data-value (the API's exact number); each row of a dot table is a .nv-row with data-k,
// data-weight, data-signal and data-product.
import { api } from "../state/api.js";
import { cellModule } from "../cells/index.js";
import { num, raw } from "../text/format.js";
import { Highlighter } from "./highlight.js";
import { t as tr } from "../text/i18n.js";
import { htmlLabel } from "../text/labels.js";
import { deltaLabel, gateLabel, labelText, paramLabel, varLabel } from "../text/notation.js";
import { isRandomized, requestOf } from "../state/state.js";
import { el } from "../util/dom.js";

const UNIT_BUTTONS_MAX = 24; // more units than this: a number field instead of buttons
const CACHE_SIZE = 32;

const h = (tag, cls = "", text = null) => el(tag, cls, null, text);

// Words for the terms every cell has; a cell module's `neuron.words` adds its own.
const WORDS = {
  dh: "neuron.w.dh",
  dh_out: "neuron.w.out",
  delta: "neuron.w.delta",
  deltas: "neuron.w.gateDelta",
};

/**
 * Whether a symbol's text is a sum or a difference at its top level ("1 − tanh² c", not
 * "(1 − tanh² c)" nor "f(1 − f)"): a factor of a product written so is put in brackets.
 */
export function isCompound(text) {
  let depth = 0;
  for (let k = 0; k < text.length; k += 1) {
    const ch = text[k];
    if (ch === "(" || ch === "[") depth += 1;
    else if (ch === ")" || ch === "]") depth -= 1;
    else if (
      depth === 0 &&
      (ch === "−" || ch === "+") &&
      text[k - 1] === " " &&
      text[k + 1] === " "
    )
      return true;
  }
  return false;
}

/** A label with the unit index (1-based, as the page shows it) added to its subscript. */
const ofUnit = (label, j) => ({ ...label, s: label.s ? `${label.s},${j}` : String(j) });

export class NeuronView {
  constructor({ container, store }) {
    this.container = container;
    this.store = store;
    this.index = null;
    this.eventIndex = 0;
    this.notation = "goodfellow";
    this.scenario = null;
    this.cache = new Map(); // request key -> the API's view (or a failure)
    this.key = null;
    this.marks = new Highlighter("is-neuron");
    this.inflight = new Set(); // request keys asked for and not answered yet
    store.addEventListener("change", (e) => {
      const changed = e.detail.changed;
      // with the event or the scenario, the studio draws every view (this one included)
      if (changed.has("neuron") && !changed.has("event") && !changed.has("scenario")) this.draw();
    });
    container.addEventListener("click", (e) => this.onClick(e));
    container.addEventListener("change", (e) => this.onChange(e));
  }

  setTrace(index) {
    this.index = index;
    // the scenario the shown trace was made from (the studio has just accepted it)
    this.scenario = structuredClone(this.store.get().scenario);
    this.cache.clear();
  }

  setEvent(i) {
    this.eventIndex = i;
  }

  setNotation(n) {
    this.notation = n;
  }

  setLanguage() {}

  get convention() {
    return this.notation === "haykin" ? "haykin" : "gradient";
  }

  close() {
    this.store.update({ neuron: null });
  }

  onClick(e) {
    const button = e.target.closest("button");
    if (!button) return;
    if (button.dataset.action === "close") this.close();
    else if (button.dataset.unit !== undefined) {
      this.store.update({ neuron: { unit: Number(button.dataset.unit) } });
    }
  }

  onChange(e) {
    if (e.target.name !== "unit") return;
    const j = Number.parseInt(e.target.value, 10);
    if (Number.isInteger(j)) this.store.update({ neuron: { unit: j - 1 } });
  }

  // ---- what to show --------------------------------------------------------------------

  /** {ev, unit, H} of the current backward event, or null. */
  target() {
    const state = this.store.get().neuron;
    if (!state || !this.index) return null;
    const ev = this.index.event(Math.min(this.eventIndex, this.index.events.length - 1));
    const H = this.index.sizes.H;
    const unit = Math.max(0, Math.min(H - 1, Number(state.unit) || 0));
    return { ev, unit, H };
  }

  /** The API request for unit j at the event's step and window, or null when it cannot be. */
  request(ev, unit) {
    const body = {
      ...requestOf(this.scenario || {}),
      t: ev.t,
      unit,
      update: ev.update,
      convention: this.convention,
    };
    // a mini-batch: the unit of the example the studio shows (0-based, as the API numbers it)
    if (this.index.n) body.example = this.index.example;
    // a stack: the unit of the event's own layer (1-based, as the API numbers layers)
    if (this.index.layers > 1) body.layer = ev.layer ?? this.index.layers;
    if (this.scenario?.train) {
      // a trained network: the trace starts from the trained weights, which it carries
      const params = this.index.trace.params;
      if (this.index.detail !== "full" || !params) return null;
      body.params = params;
    }
    return body;
  }

  draw() {
    const target = this.target();
    const c = this.container;
    if (!target) {
      c.hidden = true;
      delete c.dataset.state;
      this.marks.clear();
      this.key = null;
      return;
    }
    c.hidden = false;
    const { ev, unit, H } = target;
    c.dataset.unit = String(unit);
    c.dataset.convention = this.convention;
    if (ev.kind !== "backward") {
      c.dataset.state = "idle";
      delete c.dataset.t;
      this.marks.clear();
      this.render(unit, H, null, h("p", "nv-hint", tr("neuron.idle")));
      return;
    }
    c.dataset.t = String(ev.t);
    if (!cellModule(this.index.cell)) {
      // a cell the page has no module for: its terms could not be named, so none are shown
      c.dataset.state = "none";
      this.marks.clear();
      this.render(unit, H, ev, h("p", "nv-hint", tr("cell.noModule", { cell: this.index.cell })));
      return;
    }
    if (isRandomized(this.index.trace.config?.truncation)) {
      // the API writes a unit's error as the recursion's own sum, which a randomized
      // truncation weights by ξ: it refuses the view (loc truncation.mode), so none is asked for
      c.dataset.state = "refused";
      this.marks.clear();
      this.render(unit, H, ev, h("p", "nv-hint", tr("neuron.randomized")));
      return;
    }
    const body = this.request(ev, unit);
    if (!body) {
      c.dataset.state = "failed";
      this.render(unit, H, ev, h("p", "nv-hint", tr("neuron.trainedLarge")));
      return;
    }
    const key = JSON.stringify(body);
    this.key = key;
    const known = this.cache.get(key);
    if (known) {
      this.show(known, unit, H, ev);
      return;
    }
    c.dataset.state = "loading";
    this.render(unit, H, ev, h("p", "nv-hint", tr("neuron.loading")));
    this.ask(key, body);
  }

  /** Ask the API for a view once (the answer, or the failure, is kept); draw it if shown. */
  ask(key, body) {
    if (this.inflight.has(key) || this.cache.has(key)) return;
    this.inflight.add(key);
    api
      .neuron(body)
      .then((view) => ({ view }))
      .catch((error) => ({ error }))
      .then((answer) => {
        this.inflight.delete(key);
        if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value);
        this.cache.set(key, answer);
        if (this.key === key) this.draw();
      });
  }

  /**
   * A unit the pointer (or the keyboard) is on, not yet clicked: ask for its view now, so that
   * the click finds it here (the API's round trip is most of the time a view takes).
   */
  prefetch({ event, unit }) {
    if (!this.index) return;
    const ev = this.index.event(event);
    if (ev?.kind !== "backward" || isRandomized(this.index.trace.config?.truncation)) return;
    const body = this.request(ev, unit);
    if (body) this.ask(JSON.stringify(body), body);
  }

  show(answer, unit, H, ev) {
    const c = this.container;
    if (answer.error) {
      c.dataset.state = "failed";
      const msg = answer.error.fields?.[0]?.msg || "";
      this.render(unit, H, ev, h("p", "nv-hint", `${tr("neuron.failed")} ${msg}`.trim()));
      this.marks.clear();
      return;
    }
    const view = answer.view;
    this.render(unit, H, ev, this.body(view));
    c.dataset.state = "ready";
    this.markNetwork(view);
  }

  // ---- drawing ---------------------------------------------------------------------------

  /** The panel: heading, close button, unit picker, then `content`. */
  render(unit, H, ev, content) {
    const c = this.container;
    const n = this.notation;
    const head = h("div", "nv-head");
    const title = h("h2", "nv-title");
    title.id = "neuron-title";
    const j = unit + 1;
    // the catalogue's text with the symbol δ_j(t) written as a label in its place
    // (a gated cell's view is of the error reaching h, which its gates turn into their δ's)
    const what = varLabel(this.index?.trace.cell_spec?.gates?.length ? "dh" : "delta", n);
    const [before, after = ""] = tr("neuron.title", { delta: "\u0000", j }).split("\u0000");
    title.append(before, htmlLabel(ofUnit(what, j), n, ev ? ev.t : null), after);
    if (ev?.layer) title.append(` · ${tr("net.layer", { j: ev.layer })}`);
    const close = h("button", "btn nv-close", "×");
    close.type = "button";
    close.dataset.action = "close";
    close.setAttribute("aria-label", tr("neuron.close"));
    head.append(title, close);
    c.setAttribute("aria-labelledby", "neuron-title");
    c.replaceChildren(head, this.picker(unit, H), content);
  }

  /** Buttons j = 1..H (a number field past UNIT_BUTTONS_MAX units). */
  picker(unit, H) {
    const wrap = h("div", "nv-units");
    wrap.setAttribute("role", "group");
    const label = h("span", "nv-units-label", tr("neuron.unit"));
    label.id = "neuron-units-label";
    wrap.setAttribute("aria-labelledby", label.id);
    wrap.append(label);
    if (H > UNIT_BUTTONS_MAX) {
      const input = h("input", "nv-unit-input");
      Object.assign(input, { type: "number", min: 1, max: H, step: 1, name: "unit" });
      input.value = String(unit + 1);
      input.setAttribute("aria-labelledby", label.id);
      wrap.append(input, h("span", "nv-units-of", `/ ${H}`));
      return wrap;
    }
    for (let k = 0; k < H; k += 1) {
      const b = h("button", "btn nv-unit", String(k + 1));
      b.type = "button";
      b.dataset.unit = String(k);
      b.setAttribute("aria-pressed", String(k === unit));
      wrap.append(b);
    }
    return wrap;
  }

  /** The API's view laid out: the rule in words, then the tree of the error, block by block. */
  body(view) {
    const frag = h("div", "nv-body");
    this.view = view;
    const next = view.next ? view.next.t : null;
    // a gated cell's error reaches h(t) from t+1 through its gates (and more)
    const gated = (this.index?.trace.cell_spec?.gates || []).length > 0;
    // a stack's lower layer: the "next layer" of the MLP rule is also, literally, the layer above
    const below = view.layer && view.layer < (this.index?.layers ?? 1);
    const args = { t: view.t, next, j: view.layer, above: (view.layer ?? 0) + 1 };
    const rule = below
      ? tr(next ? "neuron.ruleStack" : "neuron.ruleStackLast", args)
      : next
        ? tr(gated ? "neuron.ruleGated" : "neuron.rule", args)
        : tr("neuron.ruleLast", args);
    frag.append(h("p", "nv-rule", rule));
    frag.append(
      h(
        "p",
        "nv-sign",
        tr(view.convention === "haykin" ? "neuron.signHaykin" : "neuron.signGradient"),
      ),
    );
    if (this.own?.formula) frag.append(this.formula(view));
    // the RNN: δ first (Haykin's line), then its bracket term by term; gated cells build up
    // from the error reaching h, through their other states' (the LSTM's dc), to each gate's δ
    const blocks = view.delta ? [view.delta, view.dh] : [view.dh];
    for (const s of this.otherStates()) if (view[`d${s}`]) blocks.push(view[`d${s}`]);
    blocks.push(...Object.values(view.deltas || {}));
    for (const node of blocks) frag.append(this.block(node, 0));
    if (view.non_finite) frag.append(h("p", "nv-hint", tr("neuron.overflow")));
    return frag;
  }

  /** One node as a block: its equation line, then what its terms or factors are made of. */
  block(node, depth) {
    const div = h("div", `nv-node nv-${node.op}`);
    this.hook(div, node);
    div.dataset.depth = String(depth);
    if (node.op === "dot") {
      div.append(this.dotTable(node));
      return div;
    }
    const line = h("p", "nv-line");
    line.append(this.symbol(node), " = ");
    const parts = node.op === "sum" ? node.terms : node.op === "product" ? node.factors : [];
    if (parts.length) {
      const joiner = node.op === "sum" ? " + " : " × ";
      parts.forEach((p, k) => {
        if (k) line.append(joiner);
        const part = h("span", "nv-part");
        this.hook(part, p, true);
        const sym = this.symbol(p);
        // ε × o × (1 − tanh² c): a difference among factors keeps its brackets
        const bracket = node.op === "product" && parts.length > 1 && isCompound(sym.textContent);
        if (bracket) part.append("(", sym, ")");
        else part.append(sym);
        line.append(part);
      });
      line.append(" = ");
      parts.forEach((p, k) => {
        if (k) line.append(joiner);
        line.append(this.number(p.value));
      });
      line.append(" = ");
    }
    const total = this.number(node.value, "nv-total");
    line.append(total);
    const words = this.words(node);
    div.append(line);
    if (words) div.prepend(h("p", "nv-words", words));
    // the terms and factors that are sums themselves are laid out below, one level in, side
    // by side where there is room
    const kids = parts.filter((p) => p.op !== "value");
    if (kids.length) {
      const box = h("div", "nv-kids");
      for (const p of kids) box.append(this.block(p, depth + 1));
      div.append(box);
    }
    return div;
  }

  /** The cell's own rule in the notation, with symbols only (the RNN's: its module's). */
  formula(view) {
    const n = this.notation;
    const p = h("p", "nv-line nv-formula");
    const j = "j";
    p.append(
      ...this.own.formula(view, {
        at: (label, time) => htmlLabel(ofUnit(label, j), n, time),
        weight: (name) => {
          const label = paramLabel(name, view.cell, n);
          return htmlLabel({ ...label, s: label.s ? `${label.s},kj` : "kj" }, n);
        },
        unitLabel: (label, k, time) => htmlLabel(ofUnit(label, k), n, time),
        v: (name) => varLabel(name, n),
        sub: (text) => h("sub", "", text),
      }),
    );
    p.dataset.formula = view.cell;
    return p;
  }

  /** The page module of the view's cell (its own terms), or null. */
  get own() {
    return this.view ? (cellModule(this.view.cell)?.neuron ?? null) : null;
  }

  /** The cell's state vectors besides h (the LSTM's c), from the trace's cell_spec. */
  otherStates() {
    return (this.index?.trace.cell_spec?.state || []).slice(1);
  }

  /** data-node, data-op, data-value on an element standing for a node (a part: data-part). */
  hook(el, node, part = false) {
    el.dataset[part ? "part" : "node"] = node.name;
    el.dataset.op = node.op;
    el.dataset.t = String(node.t);
    el.dataset.value = raw(node.value);
  }

  number(value, cls = "") {
    const span = h("span", `num ${cls} ${value === null ? "exploded" : value < 0 ? "neg" : "pos"}`);
    span.textContent = num(value, 4);
    span.dataset.value = raw(value);
    return span;
  }

  /** A dot node as a table: k, weight w_kj, signal s_k, and their product; the sum below. */
  dotTable(node) {
    const n = this.notation;
    const cell = this.view.cell;
    const fig = h("figure", "nv-dot-fig");
    const cap = h("figcaption", "nv-words");
    cap.append(`${this.words(node) || ""} `);
    const line = h("span", "nv-line");
    line.append(this.symbol(node), " = Σ");
    line.append(h("sub", "", "k"), " ", this.weightSym(node, "k"), " ", this.signalSym(node, "k"));
    line.append(" = ", this.number(node.value, "nv-total"));
    cap.append(line);
    fig.append(cap);
    const wrap = h("div", "nv-table-wrap");
    wrap.tabIndex = 0;
    wrap.setAttribute("role", "region");
    wrap.setAttribute(
      "aria-label",
      tr("neuron.tableAria", { name: labelText(paramLabel(node.weight.name, cell, n), n) }),
    );
    const table = h("table", "nv-table");
    const head = h("tr");
    const th = (content) => {
      const cellEl = h("th");
      cellEl.scope = "col";
      cellEl.append(content);
      head.append(cellEl);
    };
    th("k");
    th(this.weightSym(node, "k"));
    th(this.signalSym(node, "k"));
    th(tr("neuron.product"));
    table.append(h("thead"));
    table.tHead.append(head);
    const body = h("tbody");
    // the largest contributions stand out (the unit that sends the most)
    const top = node.products.reduce(
      (best, p, k) => (Math.abs(p ?? 0) > Math.abs(node.products[best] ?? 0) ? k : best),
      0,
    );
    node.products.forEach((p, k) => {
      const tr_ = h("tr", `nv-row${k === top ? " nv-top" : ""}`);
      tr_.dataset.k = String(k);
      tr_.dataset.weight = raw(node.weights[k]);
      tr_.dataset.signal = raw(node.signals[k]);
      tr_.dataset.product = raw(p);
      const td = (child) => {
        const cellEl = h("td");
        cellEl.append(child);
        tr_.append(cellEl);
      };
      td(String(k + 1));
      td(this.number(node.weights[k]));
      td(this.number(node.signals[k]));
      td(this.number(p));
      body.append(tr_);
    });
    table.append(body);
    const foot = h("tfoot");
    const sum = h("tr");
    const label = h("th", "", tr("neuron.sum"));
    label.scope = "row";
    label.colSpan = 3;
    const total = h("td");
    total.append(this.number(node.value));
    sum.append(label, total);
    foot.append(sum);
    table.append(foot);
    wrap.append(table);
    fig.append(wrap);
    return fig;
  }

  // ---- symbols, per notation -------------------------------------------------------------

  /** w_kj of a dot's weight (a column j of the matrix named by the API). */
  weightSym(node, k) {
    const n = this.notation;
    const label = paramLabel(node.weight.name, this.view.cell, n); // the trace's own name
    return htmlLabel({ ...label, s: label.s ? `${label.s},${k}j` : `${k}j` }, n);
  }

  /** s_k(t) of a dot's signal: g_o (the output errors) or a delta of step t+1. */
  signalSym(node, k) {
    const n = this.notation;
    const name = node.signal.name;
    const label = name === "g_o" ? varLabel("g_o", n) : this.deltaOf(name);
    return htmlLabel(ofUnit(label, k), n, node.signal.t);
  }

  deltaOf(name) {
    return deltaLabel(name.startsWith("deltas.") ? name.slice(7) : null, this.notation);
  }

  /** The symbol of a node: x_j(t) forms, with the unit's index j (1-based). */
  symbol(node) {
    const n = this.notation;
    const j = this.view.unit + 1;
    const t = node.t;
    const lab = (label, time = t) => htmlLabel(ofUnit(label, j), n, time);
    const span = h("span", "nv-sym");
    const [base, rest] = node.name.split(/\.(.*)/s);
    const gate = (g) => gateLabel(g, n);
    const gateText = (g) => labelText(gate(g), n);
    // the cell's own terms first (the LSTM's dc, the GRU's reset path), then every cell's
    const own = this.own?.symbol?.(base, rest, {
      t,
      lab,
      v: (name) => varLabel(name, n),
      gate,
      delta: (g) => deltaLabel(g, n),
      product: (param, signal, time) => this.product(param, signal, time, j),
    });
    if (own) {
      span.append(...own);
      return span;
    }
    switch (base) {
      case "dh":
        span.append(lab(varLabel("dh", n)));
        break;
      case "dh_out":
        span.append(this.product("V", "g_o", t, j));
        break;
      case "dh_above":
        // a stack's lower layer: what the layer above's deltas of step t send down through its
        // input matrices (one matrix's dot, or their sum)
        if (node.weight) span.append(this.product(node.weight.name, node.signal.name, t, j));
        else span.append(this.product(null, "deltas.k", t, j, "U"));
        break;
      case "dh_next":
        // through every gate at once, or through one gate's weights
        if (!rest) span.append(this.product(null, "deltas.k", t + 1, j));
        else
          span.append(this.product(node.weight?.name ?? `W_${rest}`, `deltas.${rest}`, t + 1, j));
        break;
      case "delta":
      case "deltas":
        span.append(lab(this.deltaOf(node.name)));
        break;
      case "phi_prime":
        span.append("φ′(", lab(varLabel("a", n)), ")");
        break;
      case "dgate": {
        // the gate's own slope: s(1 − s) for a sigmoid gate, 1 − s² for a tanh one (g, n)
        const g = gateText(rest);
        const tanh = cellModule(this.view.cell)?.tanhGates?.includes(rest);
        const slope = tanh ? `1 − ${g}²` : `${g}(1 − ${g})`;
        span.append(lab({ b: slope }));
        break;
      }
      case "gates":
        span.append(lab(gate(rest)));
        break;
      case "h_prev":
        span.append(lab(varLabel("h", n), t - 1));
        break;
      default:
        span.append(lab(varLabel(base, n)));
    }
    return span;
  }

  /**
   * A parameter the page names itself (the sentence's W of the unit's own layer) as the trace
   * names it in a stack (W_l2); the API's weights come named so already.
   */
  layerName(name) {
    const layer = this.view?.layer ?? 1;
    if (layer < 2 || /_l\d+$/.test(name) || name === "V" || name === "b_y") return name;
    return `${name}_l${layer}`;
  }

  /** (Pᵀ s(time))_j: what a weight matrix carries back to unit j. */
  product(param, signal, time, j, kind = "W") {
    const n = this.notation;
    const span = h("span", "nv-prod");
    span.append("(");
    if (param) {
      const label = paramLabel(this.layerName(param), this.view.cell, n);
      span.append(htmlLabel(label, n), h("sup", "", "T"), " ");
    } else {
      span.append("Σ", h("sub", "", "gates"), ` ${kind}`, h("sup", "", "T"), " ");
    }
    const label = signal === "g_o" ? varLabel("g_o", n) : this.deltaOf(signal);
    span.append(htmlLabel(label, n, time), ")", h("sub", "", String(j)));
    return span;
  }

  /** What a node is, in words (only for the nodes a learner needs them for). */
  words(node) {
    const [base, rest] = node.name.split(/\.(.*)/s);
    const t = node.t;
    const n = this.notation;
    const gate = rest ? labelText(gateLabel(rest, n), n) : "";
    // the cell's own words (the LSTM's dc, the GRU's reset path), then every cell's
    const own = this.own?.words || {};
    const K = own[base] ?? WORDS[base];
    if (base === "dh_above") {
      const above = (this.view.layer ?? 1) + 1;
      return rest
        ? tr("neuron.w.aboveGate", { t, gate, above })
        : tr("neuron.w.above", { t, above });
    }
    if (base === "dh_next") {
      if (!rest) return tr("neuron.w.next", { next: t + 1 });
      if (own[node.name]) return tr(own[node.name], { next: t + 1 });
      return tr("neuron.w.nextGate", { next: t + 1, gate });
    }
    return K ? tr(K, { t, gate }) : "";
  }

  // ---- the network -----------------------------------------------------------------------

  /** Mark the units that send error to this one: outputs of t, step t+1, the unit itself. */
  markNetwork(view) {
    const t = view.t;
    // a stack: the unit's own layer's nodes (node-h_l2-3), and the layer above's at step t
    const layers = this.index.layers ?? 1;
    const layer = view.layer ?? layers;
    const at = (name, l = layer) => (l > 1 ? `${name}_l${l}` : name);
    const gates = this.index.trace.cell_spec?.gates || [];
    const targets = [`unit-${t}-${view.unit}`, `node-${at("h")}-${t}`];
    if (layer === layers) targets.push(`node-yhat-${t}`, `err-out@${t}`);
    else {
      targets.push(`node-${at("h", layer + 1)}-${t}`, `err-above@${t}`);
      for (const g of gates) targets.push(`node-gate-${at(g, layer + 1)}-${t}`);
    }
    if (view.next) {
      targets.push(`node-${at("h")}-${t + 1}`, `err-next@${t}`);
      for (const g of gates) targets.push(`node-gate-${at(g)}-${t + 1}`);
      for (const s of this.otherStates()) {
        if (view[`d${s}`]) targets.push(`err-${s}@${t}`, `node-${at(s)}-${t + 1}`);
      }
    }
    this.marks.set(targets);
  }
}
