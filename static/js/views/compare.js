// The compare view: two or three set-ups of one scenario side by side, a column each, on one
// timeline (compare-plan.js says which set-ups, and which event of each goes with the
// timeline's). Each column reuses the page's views, one instance per column with ids of its
// own (cmp-<set-up>-…): its network, its current equation and its accumulators; above them its
// name, the event it shows, and the API's numbers that point out the differences, and one
// sentence above the columns says the difference with those numbers. It draws the traces it
// is given at the leader's event index; the studio loads them and the store moves the index.
import {
  divisorOf,
  eventNumbers,
  leaderOf,
  matchEvent,
  ordinalOf,
  passNumbers,
  stripOf,
} from "./compare-plan.js";
import { COMPARE, sequential } from "../util/config.js";
import { EquationView } from "./equation.js";
import { num, raw } from "../text/format.js";
import { HeatmapsView } from "./heatmaps.js";
import { Highlighter } from "./highlight.js";
import { t as tr, tp } from "../text/i18n.js";
import { svgEl } from "../text/labels.js";
import { NetworkView } from "./network.js";
import { labelText, varLabel } from "../text/notation.js";
import { TraceIndex } from "../state/trace.js";
import { el } from "../util/dom.js";
import { SpreadView } from "./spread.js";

const h = el;

export class CompareView {
  /** onUnit({setup, unit}): a hidden unit clicked (or Enter) on a column's network. */
  constructor({ container, tooltip, onUnit = null }) {
    this.container = container;
    this.tooltip = tooltip;
    this.onUnit = onUnit;
    this.mode = null;
    this.setups = [];
    this.columns = [];
    this.leader = 0;
    this.eventIndex = 0;
    this.example = 0; // a mini-batch: the example every column draws (the store's, 0-based)
    this.notation = "goodfellow";
    // what differs, in words with the API's numbers: over the pass, and at the event shown
    this.point = h("div", "cmp-point", container);
    this.pointPass = h("p", "cmp-point-pass", this.point);
    this.pointNow = h("p", "cmp-point-now", this.point);
    this.pointNow.setAttribute("aria-live", "polite");
    // a randomized truncation's spread over seeds (the studio asks for it, spread.js draws it)
    this.spreadView = new SpreadView({ container: h("section", "cmp-spread", container) });
    this.grid = h("div", "cmp-grid", container);
    this.stale = new Set(); // views a step left alone while off screen: [column, view name]
    this.near = new Set(); // view containers near the view
    this.watcher = new IntersectionObserver(
      (entries) => {
        for (const e of entries) {
          if (e.isIntersecting) this.near.add(e.target);
          else this.near.delete(e.target);
        }
        for (const key of [...this.stale]) {
          const [col, name] = key;
          if (this.near.has(col.boxes[name])) {
            this.stale.delete(key);
            col.views[name].draw();
          }
        }
      },
      { rootMargin: "200px 0px" },
    );
  }

  /**
   * Show a comparison: its mode, its set-ups (compare-plan.js setupsOf) and one result
   * ({trace}) per set-up, in the same order. Columns are rebuilt only when the set-ups change.
   */
  setComparison(mode, setups, results, example = 0) {
    this.example = example;
    const same =
      mode === this.mode &&
      setups.length === this.columns.length &&
      setups.every((s, k) => s.id === this.columns[k].id);
    this.mode = mode;
    this.setups = setups;
    this.container.dataset.mode = mode;
    if (!same) this.build();
    setups.forEach((s, k) => {
      this.columns[k].setup = s;
    });
    this.setTraces(results);
  }

  build() {
    this.watcher.disconnect();
    this.near.clear();
    this.stale.clear();
    this.grid.replaceChildren();
    this.grid.style.setProperty("--cmp-columns", String(this.setups.length));
    this.grid.dataset.columns = String(this.setups.length);
    this.columns = this.setups.map((setup) => this.buildColumn(setup));
  }

  buildColumn(setup) {
    const id = setup.id;
    const prefix = `cmp-${id}-`;
    const el = h("section", "cmp-col", this.grid);
    el.dataset.setup = id;
    const head = h("header", "cmp-head", el);
    const name = h("h3", "cmp-name", head);
    name.id = `${prefix}name`;
    el.setAttribute("aria-labelledby", name.id);
    const event = h("p", "cmp-event", head);
    const note = h("p", "cmp-note", head);
    note.hidden = true;
    const dropped = h("p", "cmp-note cmp-dropped", head);
    dropped.hidden = true;
    const numbers = h("div", "cmp-numbers", head);
    const now = h("div", "cmp-now", numbers);
    const pass = h("div", "cmp-pass", numbers);
    const strip = h("figure", "cmp-strip", head);

    const netBox = h("div", "network cmp-network", el);
    // (not a live region: three equations at each step would talk at once; the sentence above
    // the columns says what differs)
    const eqBox = h("div", "equation cmp-equation", el);
    // the accumulators fold away (a column of a phone's page is long): open where there is room
    const accum = h("details", "cmp-accum", el);
    accum.open = !window.matchMedia("(max-width: 640px)").matches;
    const summary = h("summary", "", accum);
    const accumTitle = h("h4", "cmp-accum-title", summary);
    const hmBox = h("div", "heatmaps", accum);

    const col = {
      id,
      setup,
      el,
      head: { name, event, note, dropped, now, pass, strip, accumTitle },
      boxes: { network: netBox, equation: eqBox, heatmaps: hmBox },
      index: null,
      match: { i: 0, exact: true },
    };
    col.scope = {
      name: id,
      prefix,
      root: () => el,
      network: () => netBox,
      equation: () => eqBox,
    };
    // an equation's term marks the nodes it stands for in its own column's network
    col.marks = new Highlighter("is-hl", () => [col.scope]);
    col.views = {
      network: new NetworkView({ container: netBox, tooltip: this.tooltip, idPrefix: prefix }),
      equation: new EquationView({ container: eqBox, onTerm: (ids) => col.marks.set(ids) }),
      heatmaps: new HeatmapsView({
        container: hmBox,
        tooltip: this.tooltip,
        idPrefix: prefix,
        setupName: () => tr(col.setup.label.key, col.setup.label.args),
      }),
    };
    // a unit's neuron view belongs to one set-up: the column says which
    col.views.network.addEventListener("unit", (e) => {
      this.onUnit?.({ setup: col.setup, unit: e.detail.unit });
    });
    for (const box of Object.values(col.boxes)) this.watcher.observe(box);
    return col;
  }

  /** One result ({trace}) per set-up, in the set-ups' order. */
  setTraces(results) {
    results.forEach((r, k) => {
      const col = this.columns[k];
      this.indexColumn(col, r.trace);
    });
    this.leader = leaderOf(this.columns.map((c) => c.index));
    this.columns.forEach((c, k) => {
      if (k === this.leader) c.el.dataset.leader = "true";
      else delete c.el.dataset.leader;
    });
    this.scaleStrips();
    this.allDirty = true;
  }

  /** Index a column's trace (a mini-batch: the example shown) and hand it to its views. */
  indexColumn(col, trace) {
    col.index = new TraceIndex(trace, this.example);
    for (const v of Object.values(col.views)) {
      v.setTrace(col.index);
      v.setNotation?.(this.notation);
    }
  }

  /**
   * A mini-batch: every column draws another example of its batch (the same examples in each
   * set-up); the updates, the whole batch's, stay as they are.
   */
  setExample(example) {
    this.example = example;
    for (const col of this.columns) {
      if (col.index) this.indexColumn(col, col.index.batch ?? col.index.trace);
    }
    this.scaleStrips(); // the example's own step norms
    this.allDirty = true;
  }

  /** The leader's trace index: the events the timeline walks. */
  get index() {
    return this.columns[this.leader]?.index ?? null;
  }

  /** {set-up id: trace} of every column (lessons read the compared numbers from them). */
  traces() {
    return Object.fromEntries(
      this.columns.filter((c) => c.index).map((c) => [c.id, c.index.trace]),
    );
  }

  /** Highlight scopes, one per column (highlight.js). */
  scopes() {
    return this.columns.map((c) => c.scope);
  }

  setEvent(i) {
    this.eventIndex = i;
  }

  setNotation(n) {
    this.notation = n;
    for (const c of this.columns) for (const v of Object.values(c.views)) v.setNotation?.(n);
  }

  setLanguage() {
    for (const c of this.columns) for (const v of Object.values(c.views)) v.setLanguage?.();
    this.spreadView.setLanguage();
  }

  /** The spread over seeds of a randomized truncation (spread.js setSpread), or null. */
  setSpread(spread) {
    this.spreadView.setSpread(spread);
    this.spreadView.draw();
  }

  /** Draw every column at the leader's event (all views when `all`, else those near). */
  draw({ all = false } = {}) {
    const lead = this.index;
    if (!lead) return;
    const i = Math.max(0, Math.min(this.eventIndex, lead.events.length - 1));
    const ev = lead.events[i];
    const n = ordinalOf(lead, i);
    all = all || this.allDirty;
    this.allDirty = false;
    this.columns.forEach((col, k) => {
      col.match = k === this.leader ? { i, exact: true } : matchEvent(col.index, ev, n);
      const shown = col.index.events[col.match.i];
      col.el.dataset.kind = shown.kind;
      col.el.dataset.t = String(shown.t);
      col.el.dataset.exact = String(col.match.exact);
      col.el.dataset.eventIndex = String(col.match.i);
      this.drawHead(col, ev, shown);
      for (const [name, view] of Object.entries(col.views)) {
        view.setEvent(col.match.i);
        const key = this.staleKey(col, name);
        if (all || this.near.has(col.boxes[name])) {
          view.draw();
          this.stale.delete(key);
        } else this.stale.add(key);
      }
      col.marks.refresh();
    });
    this.drawPoint();
  }

  /** The same [column, view] pair each time, so that the stale set holds it once. */
  staleKey(col, name) {
    col.keys ??= {};
    col.keys[name] ??= [col, name];
    return col.keys[name];
  }

  /** Draw the views a step left alone (something is about to point at their elements). */
  drawStale() {
    for (const [col, name] of this.stale) col.views[name].draw();
    this.stale.clear();
  }

  // ---- the column's head: its name, its event, its numbers --------------------------------

  lab(name, t = null) {
    return labelText(varLabel(name, this.notation), this.notation, t);
  }

  drawHead(col, wanted, shown) {
    const { head, setup } = col;
    head.name.textContent = tr(setup.label.key, setup.label.args);
    head.accumTitle.textContent = tr("hm.title");
    const win = col.index.trace.updates?.[shown.update]?.window || shown.window || ["", ""];
    head.event.textContent = tr(`cmp.event.${shown.kind}`, {
      t: shown.t,
      u: (shown.update ?? 0) + 1,
      first: win[0],
      last: win[1],
    });
    head.event.dataset.kind = shown.kind;
    head.note.hidden = col.match.exact;
    if (!col.match.exact) {
      head.note.textContent = tr(`cmp.nearest.${wanted.kind}`, { t: wanted.t, shown: shown.t });
    }
    head.dropped.hidden = !setup.dropped;
    if (setup.dropped) head.dropped.textContent = tr("cmp.dropped");
    this.fillNumbers(head.now, tr("cmp.now"), eventNumbers(col.index, col.match.i));
    this.fillNumbers(head.pass, tr("cmp.pass"), passNumbers(col.index.trace, this.mode));
    this.drawStrip(col, shown.t);
  }

  /** A titled list of labelled numbers, each value with its exact float in data-value. */
  fillNumbers(box, title, rows) {
    const frag = document.createDocumentFragment();
    const caption = h("p", "cmp-numbers-title", frag);
    caption.textContent = title;
    const dl = h("dl", "", frag);
    for (const row of rows) {
      const line = h("div", "cmp-num", dl);
      if (row.id) line.dataset.num = row.id;
      const dt = h("dt", "", line);
      dt.textContent = tr(row.key, this.labelArgs(row.args));
      const dd = h("dd", "", line);
      dd.dataset.value = raw(row.value);
      dd.dataset.raw = "";
      dd.textContent = row.count ? String(row.value) : num(row.value, 3);
    }
    box.replaceChildren(frag);
  }

  /** A row's placeholders, with the symbols written in the notation in use. */
  labelArgs(args = {}) {
    const out = { ...args, Lsym: labelText(varLabel("L", this.notation), this.notation) };
    if (args.t !== undefined) {
      out.h = this.lab("h", args.t);
      out.L = this.lab("L", args.t);
    }
    if (args.T !== undefined) {
      out.LT = this.lab("L", args.T);
      out.h1 = this.lab("h", 1);
    }
    return out;
  }

  // ---- the strip: one cell per step, on one logarithmic scale for every column -------------

  scaleStrips() {
    let lo = Infinity;
    let hi = 0;
    for (const col of this.columns) {
      col.strip = stripOf(this.mode, col.index.trace);
      delete col.head.strip.dataset.drawn; // new traces: new colours
      for (const v of col.strip.values) {
        if (v > 0) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
    }
    this.stripScale = hi > 0 ? { lo: Math.log(lo), hi: Math.log(hi) } : null;
  }

  /** Where a value sits on the shared logarithmic scale, in (0, 1]; 0 for nothing at all. */
  stripLevel(v) {
    const s = this.stripScale;
    if (!s || !(v > 0)) return 0;
    if (s.hi === s.lo) return 1;
    return 0.12 + (0.88 * (Math.log(v) - s.lo)) / (s.hi - s.lo);
  }

  drawStrip(col, t) {
    const fig = col.head.strip;
    const { key, values, args } = col.strip || {};
    if (!key || !values.length) {
      fig.replaceChildren();
      return;
    }
    const T = values.length;
    const w = COMPARE.stripCell;
    const caption = tr(key, this.labelArgs(args));
    const ends = [
      [tr("cmp.strip.at", { t: 1 }), num(values[0], 2)],
      [tr("cmp.strip.at", { t: T }), num(values[T - 1], 2)],
    ];
    if (fig.dataset.drawn !== `${key}|${T}|${caption}`) {
      const svg = svgEl("svg", {
        class: "cmp-strip-svg",
        viewBox: `0 0 ${T * w} ${COMPARE.stripHeight}`,
        preserveAspectRatio: "none",
        role: "img",
      });
      values.forEach((v, k) => {
        const level = this.stripLevel(v);
        const cell = svgEl(
          "rect",
          {
            x: k * w,
            y: 0,
            width: w,
            height: COMPARE.stripHeight,
            fill: level > 0 ? sequential(level) : COMPARE.zero,
            "data-k": k + 1,
            "data-value": raw(v),
          },
          svg,
        );
        svgEl("title", {}, cell).textContent = `${tr("cmp.strip.at", { t: k + 1 })}: ${num(v, 3)}`;
      });
      col.stripMark = svgEl(
        "rect",
        { class: "cmp-strip-mark", y: 0.5, width: w, height: COMPARE.stripHeight - 1 },
        svg,
      );
      const cap = h("figcaption", "cmp-strip-cap");
      const row = h("div", "cmp-strip-ends");
      // each end: "t = 1" (a catalogue text) and its number
      const parts = [0, 1].map(() => {
        const end = h("span", "", row);
        const label = h("span", "", end);
        const value = h("span", "cmp-strip-value", end);
        value.dataset.raw = "";
        return [label, value];
      });
      fig.replaceChildren(cap, svg, row);
      col.stripParts = { svg, cap, parts };
      fig.dataset.drawn = `${key}|${T}|${caption}`;
    }
    const { svg, cap, parts } = col.stripParts;
    cap.textContent = caption;
    parts.forEach(([label, value], k) => {
      label.textContent = ends[k][0];
      value.textContent = ends[k][1];
    });
    svg.setAttribute("aria-label", `${caption}. ${ends.map((e) => e.join(": ")).join("; ")}`);
    col.stripMark.setAttribute("x", String((Math.min(T, Math.max(1, t)) - 1) * w));
  }

  /** The trace of the column `id` (a set-up's id), or null. */
  traceOf(id) {
    return this.columns.find((c) => c.id === id)?.index?.trace ?? null;
  }

  // ---- the sentence that says what differs, with the API's numbers ------------------------

  drawPoint() {
    const cols = Object.fromEntries(this.columns.map((c) => [c.id, c.index.trace]));
    const T = this.index.T;
    const args = this.labelArgs({ T });
    let text = [];
    if (this.mode === "cell") {
      const flow = (id) => num(cols[id]?.diagnostics?.error_flow?.at(-1)?.[0] ?? null, 3);
      // each cell's number under its own name ({rnn}, {lstm}, … in the catalogue's sentence)
      text = tr("cmp.point.cell", {
        ...args,
        ...Object.fromEntries(this.columns.map((c) => [c.id, flow(c.id)])),
      });
    } else if (this.mode === "loss_at") {
      const count = (id) => cols[id]?.loss_steps?.length ?? 0;
      text = [tp("cmp.point.lossEvery", count("every")), tp("cmp.point.lossLast", count("last"))];
    } else if (this.mode === "bug") {
      // the same forward pass and loss; the gradients part (the hunt says where)
      const norm = (id) => num(cols[id]?.updates?.[0]?.grad_norm ?? null, 3);
      text = tr("cmp.point.bug", {
        L: num(cols.true?.loss ?? null, 4),
        Lb: num(cols.bugged?.loss ?? null, 4),
        right: norm("true"),
        wrong: norm("bugged"),
      });
    } else if (this.mode === "reduction") {
      text = this.reductionPoint(cols);
    } else if (this.mode === "depth") {
      // the error of L(T) reaching step 1: through time alone, and in each layer of the stack
      const flow = (matrix) => num(matrix?.at(-1)?.[0] ?? null, 3);
      const layers = cols.deep?.diagnostics?.error_flow_layers;
      text = tr("cmp.point.depth", {
        ...args,
        one: flow(cols.one?.diagnostics?.error_flow),
        k: cols.deep?.sizes?.layers ?? 2,
        top: flow(layers?.at(-1)),
        bottom: flow(layers?.[0]),
      });
    } else if (this.mode === "truncation") {
      const fvt = cols.truncated?.diagnostics?.full_vs_truncated;
      const setup = this.setups[1];
      const key = setup?.randomized ? "cmp.point.randomized" : "cmp.point.truncation";
      text = tr(key, {
        ...setup?.label.args,
        cos: num(fvt?.cosine ?? null, 3),
        rel: num(fvt?.relative_error ?? null, 3),
      });
    }
    // one sentence per span (each a catalogue text of its own)
    const sentences = Array.isArray(text) ? text : [text];
    // a mini-batch: the columns' networks and equations show the example chosen under the
    // timeline; the updates are the whole batch's
    if (this.index.n) {
      sentences.push(tr("cmp.point.batch", { n: this.index.n, k: this.index.example + 1 }));
    }
    if (this.pointPass.textContent !== sentences.join(" ")) {
      this.pointPass.replaceChildren(
        ...sentences.flatMap((t, k) => {
          const span = h("span");
          span.textContent = t;
          return k ? [" ", span] : [span];
        }),
      );
    }
    this.drawPointNow();
  }

  /**
   * Sum against mean, in the API's numbers: what the mean divided the first update's loss by
   * (n from sizes, its loss steps from loss_steps and windows: divisorOf) and the gradient norm
   * of that update in each column, side by side; the engine's norms, never a ratio made here.
   * Later updates start from weights the first one moved by different amounts: said, if any.
   */
  reductionPoint(cols) {
    const { n, steps, by } = divisorOf(cols.mean, 0);
    const norm = (id) => num(cols[id]?.updates?.[0]?.grad_norm ?? null, 4);
    const text = [
      tr("cmp.point.reduction", { n, steps, by, sum: norm("sum"), mean: norm("mean") }),
      tr("cmp.point.reductionWhy"),
    ];
    if ((cols.mean?.updates?.length ?? 0) > 1) text.push(tr("cmp.point.reductionLater"));
    return text;
  }

  /** The number that differs at the event shown, column by column (eventNumbers' first). */
  drawPointNow() {
    const lead = this.index.events[this.columns[this.leader].match.i];
    const parts = this.columns.map((c) => {
      const first = eventNumbers(c.index, c.match.i)[0];
      return `${tr(c.setup.label.key, c.setup.label.args)} ${num(first?.value ?? null, 3)}`;
    });
    const text = tr(`cmp.point.now.${lead.kind}`, {
      ...this.labelArgs({ t: lead.t }),
      u: (lead.update ?? 0) + 1,
      values: parts.join(" · "),
    });
    if (this.pointNow.textContent !== text) this.pointNow.textContent = text;
  }
}
