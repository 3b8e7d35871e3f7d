// The equation of the current event in MathML (no library), with the API's numbers plugged in.
// Every number is an <mn data-field data-index data-value> taken from the event; every term
// that stands for a node is an <mrow class="term" data-nodes="node-h-2 ..."> that highlights
// the node when hovered or focused. Symbols follow the notation switch everywhere (Coursera's
// W_k·[a, x], Γ gates and ⟨t⟩ included); the contribution line is read from the cell_spec.
import { cellModule, gatedPrevOf } from "../cells/index.js";
import { SIZES } from "../util/config.js";
import { num, raw, subscript } from "../text/format.js";
import { t as tr } from "../text/i18n.js";
import { HTML, html, m, mi, mo, mtext, oneMinus, row, SPACE } from "../text/mathml.js";
import {
  deltaLabel,
  gateLabel,
  gradLabel,
  groupLabel,
  labelParts,
  labelText,
  layerSpec,
  leftLabel,
  paramGroups,
  paramLabel,
  shownError,
  splitSign,
  varLabel,
} from "../text/notation.js";
import { inSeriesUnits } from "../state/units.js";

// The equation is written as descriptions of elements (text/mathml.js), and patched into the
// page (patchChildren): a step changes numbers and superscripts, rarely the shape of a line, so
// the elements already there stay and the browser restyles and lays out only what changed (a
// rebuild cost as much layout as the rest of the page's step together). The lines of a cell's
// own state (its gates, c, δ's) are its module's (static/js/cells/); the rest is every cell's.

/** A new element (or text node) for a description. */
function create(d) {
  if (typeof d === "string") return document.createTextNode(d);
  const node = document.createElementNS(d.ns, d.tag);
  for (const k in d.attrs) node.setAttribute(k, d.attrs[k]);
  for (const kid of d.kids) node.appendChild(create(kid));
  return node;
}

/** Make `parent`'s children what `kids` describe, keeping every element of the same kind. */
function patchChildren(parent, kids) {
  let node = parent.firstChild;
  for (const d of kids) {
    if (!node) {
      parent.appendChild(create(d));
      continue;
    }
    if (typeof d === "string" ? node.nodeType === Node.TEXT_NODE : same(node, d)) {
      if (typeof d === "string") {
        if (node.nodeValue !== d) node.nodeValue = d;
      } else {
        patchAttributes(node, d.attrs);
        patchChildren(node, d.kids);
      }
      node = node.nextSibling;
    } else {
      const fresh = create(d);
      parent.replaceChild(fresh, node);
      node = fresh.nextSibling;
    }
  }
  while (node) {
    const next = node.nextSibling;
    node.remove();
    node = next;
  }
}

function same(node, d) {
  return node.localName === d.tag && node.namespaceURI === d.ns;
}

function patchAttributes(node, attrs) {
  let n = 0;
  for (const k in attrs) {
    const v = String(attrs[k]);
    if (node.getAttribute(k) !== v) node.setAttribute(k, v);
    n += 1;
  }
  if (node.attributes.length !== n) {
    // marks written by others (a lesson's is-hl is in class, already rewritten) and old ones
    for (const { name } of [...node.attributes]) {
      if (!Object.hasOwn(attrs, name)) node.removeAttribute(name);
    }
  }
}

const ACC = { hat: "^", tilde: "~" };
const BREAK_AFTER = new Set(["=", "+", ",", "+="]);

/** The note of an update's loss: the window and the step losses that really count in it. */
function windowLossNote(trace, u, notation) {
  const [first, last] = u.window;
  const steps = (trace.loss_steps || []).filter((t) => t >= first && t <= last);
  const terms = steps.map((t) => labelText(varLabel("L", notation), notation, t)).join(" + ");
  const n = trace.sizes?.n;
  if (n) {
    // a mini-batch: the window's loss holds every example's terms (their shares)
    const mean = trace.config?.reduction === "mean";
    const note = mean ? "eq.windowLossBatchMean" : "eq.windowLossBatch";
    return { note, noteParams: { first, last, terms, n } };
  }
  const mean = trace.config?.reduction === "mean" && steps.length > 1;
  return { note: mean ? "eq.windowLossMean" : "eq.windowLoss", noteParams: { first, last, terms } };
}
const FN = { tanh: "tanh", relu: "ReLU", sigmoid: "σ" };

export class EquationView {
  constructor({ container, onTerm }) {
    this.container = container;
    this.onTerm = onTerm;
    this.index = null;
    this.notation = "goodfellow";
    this.eventIndex = 0;
    container.addEventListener("pointerover", (e) => this.hover(e));
    container.addEventListener("focusin", (e) => this.hover(e));
    container.addEventListener("pointerout", (e) => this.leave(e));
    container.addEventListener("focusout", (e) => this.leave(e));
  }

  setTrace(index) {
    this.index = index;
  }

  setNotation(n) {
    this.notation = n;
  }

  setEvent(i) {
    this.eventIndex = i;
  }

  hover(e) {
    const term = e.target.closest?.(".term");
    if (term) this.onTerm((term.getAttribute("data-nodes") || "").split(" ").filter(Boolean));
  }

  leave(e) {
    if (e.target.closest?.(".term")) this.onTerm([]);
  }

  // ---- label helpers (notation-aware) ---------------------------------------------------

  label(lab, t = null) {
    const [sign, core] = splitSign(lab);
    // "dW", "dΓ", "dc̃": an upright d before the symbol, as row(mi("d"), …) writes it elsewhere
    const dPrefix = core.length > 1 && core[0] === "d" ? core.slice(1) : null;
    let base = dPrefix ? row(m("mi", { mathvariant: "normal" }, "d"), mi(dPrefix)) : mi(core);
    if (lab.acc) base = m("mover", { accent: "true" }, base, mo(ACC[lab.acc]));
    const { sub, sup } = labelParts(lab, this.notation, t);
    let node = base;
    if (sub && sup) node = m("msubsup", {}, base, mi(sub), m("mrow", {}, mtext(sup)));
    else if (sub) node = m("msub", {}, base, mi(sub));
    else if (sup) node = m("msup", {}, base, m("mrow", {}, mtext(sup)));
    const parts = [];
    if (sign) parts.push(sign === "1−" ? m("mn", {}, "1") : null, mo("−"));
    parts.push(node);
    if (lab.post) parts.push(mtext(lab.post));
    const kept = parts.filter(Boolean);
    return kept.length === 1 ? kept[0] : row(...kept);
  }

  v(name, t = null) {
    // a stack's layer j >= 2 reads the layer below's h(t) where layer 1 reads x(t)
    if (name === "x" && this.layer > 1) {
      return row(
        this.label(varLabel("h", this.notation), t),
        mtext(tr("eq.ofLayer", { j: this.layer - 1 })),
      );
    }
    return this.label(varLabel(name, this.notation), t);
  }

  /**
   * A node a cell's lines name (node-h-3, node-gate-f-3, node-x-3) as the event's layer has it
   * in a stack: node-h_l2-3, node-gate-f_l2-3, and for x the layer below's h (network.js).
   */
  layered(id) {
    if (!(this.layer > 1)) return id;
    const state = /^node-(h|c)-(\d+)$/.exec(id);
    if (state) return this.nodeId(state[1], state[2]);
    const gate = /^node-gate-([a-z]+)-(\d+)$/.exec(id);
    if (gate) return `node-gate-${gate[1]}_l${this.layer}-${gate[2]}`;
    const input = /^node-x-(\d+)$/.exec(id);
    if (input) return this.nodeId("h", input[1], this.layer - 1);
    return id;
  }

  /** A node's id in a stack: a layer above the first is named "h_l2" (network.js). */
  nodeId(name, t, layer = this.layer) {
    return `node-${layer > 1 ? `${name}_l${layer}` : name}-${t}`;
  }

  /**
   * The API's ξ_k of a randomized truncation (the weight of the error flowing from step k back
   * to k − 1), or null for any other truncation.
   */
  xiAt(k) {
    const xi = this.index.trace.xi;
    return Array.isArray(xi) && k >= 1 && k <= xi.length ? xi[k - 1] : null;
  }

  /**
   * The factor ξ_k written before what flows back from step k (randomized truncation: the
   * numbers after "=" already carry it, as the engine weighted them); none otherwise.
   */
  xiFactor(k) {
    return this.xiAt(k) === null ? [] : [m("msub", {}, mi("ξ"), m("mn", {}, String(k)))];
  }

  p(name) {
    // a stack's layer j >= 2 has its own parameters, named "_l<j>" (the output's are one)
    const own = this.layer > 1 && name !== "V" && name !== "b_y" ? `${name}_l${this.layer}` : name;
    return this.label(paramLabel(own, this.index.cell, this.notation));
  }

  /** The generic gate-k parameter of a kind ("W", "U", "b") in the current notation. */
  pk(kind) {
    const n = this.notation;
    const l = this.layer > 1 ? `_l${this.layer}` : ""; // a stack's layer: its own parameters
    if (kind === "b" || n === "goodfellow") return this.label({ b: kind, s: `k${l}` });
    if (n === "d2l") return this.label({ b: "W", s: kind === "W" ? `hk${l}` : `xk${l}` });
    if (n === "haykin") return this.label({ b: "W", s: kind === "W" ? `a,k${l}` : `b,k${l}` });
    return this.label({ b: "W", s: `k${l}`, post: kind === "W" ? "[:,a]" : "[:,x]" });
  }

  pT(name) {
    return m("msup", {}, this.p(name), mi("T"));
  }

  /** Σ_k W_kᵀ δ_k(t): the error a gated cell's h(t−1) receives through every gate of step t. */
  throughGates(t) {
    return [
      m("munder", {}, mo("∑"), mi("k")),
      m("msup", {}, this.pk("W"), mi("T")),
      this.delta("k", t),
    ];
  }

  gate(g, t = null) {
    return this.label(gateLabel(g, this.notation), t);
  }

  delta(gate, t) {
    return this.label(deltaLabel(gate, this.notation), t);
  }

  get coursera() {
    return this.notation === "coursera";
  }

  /**
   * W_g h(t−1) + U_g x(t) + b_g, written as Coursera writes it, W_g[a(t−1), x(t)] + b_g, in
   * its notation (a sign in front of W or b, as for the GRU's z = 1 − Γ_u, stays in front).
   */
  affine(g, hTerm, xTerm, param = g) {
    const b = paramLabel(`b_${param}`, this.index.cell, this.notation);
    const [bSign] = splitSign(b);
    const bias = [bSign ? mo("−") : mo("+"), this.label({ ...b, b: splitSign(b)[1] })];
    if (this.coursera) {
      const w = groupLabel({ names: [`W_${param}`, `U_${param}`] }, this.notation, this.index.cell);
      return [this.label(w), mo("["), hTerm, mo(","), xTerm, mo("]"), ...bias];
    }
    return [this.p(`W_${param}`), hTerm, mo("+"), this.p(`U_${param}`), xTerm, ...bias];
  }

  /** g_o = ŷ − onehot(y) (or ŷ − y); Haykin's output error e = d − y, the opposite sign. */
  outputError(ce, t) {
    const target = ce ? [mi("onehot"), mo("("), this.v("y", t), mo(")")] : [this.v("y", t)];
    const output = [this.v("yhat", t)];
    return this.notation === "haykin"
      ? [...target, mo("−"), ...output]
      : [...output, mo("−"), ...target];
  }

  /** The gate's pre-activations when some overflowed (null): where the "—" of the banner is. */
  overflowed(g, f, ev) {
    const a = ev.a?.[g];
    if (!Array.isArray(a) || !a.some((v) => v === null)) return [];
    return [mo("="), mi(f), mo("("), this.vec(a, `a.${g}`), mo(")")];
  }

  /** A term that points at nodes of the network (HTML when it holds a vector of numbers). */
  term(ids, ...children) {
    const nodes = ids.map((id) => this.layered(id));
    if (children.some((c) => c.ns === HTML)) {
      return html(
        "span",
        { class: "term", "data-nodes": nodes.join(" "), tabindex: "0" },
        children,
      );
    }
    return m("mrow", { class: "term", "data-nodes": nodes.join(" "), tabindex: "0" }, ...children);
  }

  /**
   * A vector of API numbers written as a row vector [v1 v2 …]ᵀ. The numbers are HTML beside
   * the MathML of the symbols: the same look, a fraction of MathML's layout time per step.
   */
  vec(apiValues, field) {
    // error quantities in the notation's sign (Haykin's δ = −∂ℰ/∂v: a relabelling)
    const values = shownError(apiValues, field, this.notation);
    if (!Array.isArray(values)) {
      return m("mn", { "data-field": field, "data-value": raw(values), class: "num" }, num(values));
    }
    // between the numbers a ", " of no width: copied and read aloud ("[0.142, 0.122]"), never
    // seen (the look is the spacing of .vec .num)
    const nums = values.slice(0, SIZES.maxVectorShown).flatMap((value, j) => [
      ...(j ? [html("span", { class: "sep" }, ", ")] : []),
      html(
        "span",
        {
          class: value === null ? "num exploded" : value < 0 ? "num neg" : "num pos",
          "data-field": field,
          "data-index": j,
          "data-value": raw(value),
        },
        num(value),
      ),
    ]);
    const close = values.length > SIZES.maxVectorShown ? "…]" : "]";
    return html(
      "span",
      { class: "vec" },
      html("span", { class: "br" }, "["),
      nums,
      html("span", { class: "br" }, close),
      html("sup", {}, "T"),
    );
  }

  scalar(value, field) {
    return m("mn", { "data-field": field, "data-value": raw(value), class: "num" }, num(value, 4));
  }

  fn(name, ...arg) {
    return row(mi(name), mo("("), ...arg, mo(")"));
  }

  // ---- drawing --------------------------------------------------------------------------

  draw() {
    const c = this.container;
    if (!this.index) {
      c.replaceChildren();
      return;
    }
    const i = Math.min(this.eventIndex, this.index.events.length - 1);
    const ev = this.index.event(i);
    // a stack: the event's own layer (its parameters, what it reads); 1 for one layer's events
    this.layers = this.index.layers ?? 1;
    this.layer = ev.layer ?? 1;
    const lines = !this.ownLines(ev)
      ? [{ id: "no-cell", math: [], note: "cell.noModule", noteParams: { cell: this.index.cell } }]
      : ev.kind === "forward"
        ? this.forward(ev)
        : ev.kind === "backward"
          ? this.backward(ev)
          : this.update(ev);
    let head = tr(`eq.head.${ev.kind}`, { t: ev.t, u: (ev.update ?? 0) + 1 });
    if (ev.layer) head = tr("eq.head.layer", { head, j: ev.layer, n: this.layers });
    const shown = [html("h3", { class: "eq-head" }, head)];
    for (const line of lines) {
      // runs of MathML become one <math> each; vectors of numbers sit between them as HTML
      const body = [];
      let run = [];
      const flush = () => {
        if (run.length) body.push(m("math", {}, row(...run)));
        run = [];
      };
      for (const item of line.math) {
        if (item.ns === HTML) {
          flush();
          body.push(item);
        } else {
          run.push(item);
          // a long line may wrap after a top-level =, + or comma: each piece its own <math>
          if (item.tag === "mo" && BREAK_AFTER.has(item.kids[0])) flush();
        }
      }
      flush();
      shown.push(
        html(
          "div",
          line.id ? { class: "eq-line", "data-eq": line.id } : { class: "eq-line" },
          html("span", { class: "eq-body", "data-raw": "" }, body),
          line.note ? html("span", { class: "eq-note" }, tr(line.note, line.noteParams)) : null,
        ),
      );
    }
    patchChildren(c, shown);
    c.dataset.eventIndex = i;
    c.dataset.kind = ev.kind;
    c.dataset.t = ev.t;
  }

  /** Whether the event's lines can be written: a step's need the page module of its cell. */
  ownLines(ev) {
    return ev.kind === "update" || cellModule(this.index.cell) !== null;
  }

  // Forward: pre-activations, gates, state, output, loss.
  forward(ev) {
    const { t } = ev;
    const act = this.index.trace.config?.activation || "tanh";
    const idx = this.index;
    const scale = idx.trace.scale;
    const hPrev = [`node-h-${t - 1}`];
    const xNode = [`node-x-${t}`];
    const xTerm = () => this.term(xNode, this.v("x", t));
    const hTerm = () => this.term(hPrev, this.v("h", t - 1));
    const lines = [];
    // (a stack's layer j >= 2 reads the layer below's h(t), a vector: no token, no units)
    const first = this.layer === 1;
    const tok = idx.trace.vocab && first ? idx.tokens(t).x : null;
    // the inputs of this step
    const inputs = [hTerm(), mo("="), this.vec(ev.h_prev, "h_prev")];
    if (tok !== null) {
      inputs.push(
        mo(","),
        SPACE(),
        xTerm(),
        mo("="),
        mi("onehot"),
        mo("("),
        m("ms", { "data-raw": "" }, tok),
        mo(")"),
      );
      lines.push({ id: "inputs", math: inputs });
    } else if (scale && first) {
      // a series: the network reads z-scores, x(t) = (s(t) − μ) / σ; said once, here
      inputs.push(mo(","), SPACE(), xTerm(), mo("="), ...this.standardised(ev.x?.[0], "x"));
      lines.push({
        id: "inputs",
        math: inputs,
        note: "eq.standardised",
        noteParams: { mean: num(scale.mean, 4), std: num(scale.std, 4) },
      });
    } else {
      inputs.push(mo(","), SPACE(), xTerm(), mo("="), this.vec(ev.x, "x"));
      lines.push({ id: "inputs", math: inputs });
    }
    const state = { hTerm, xTerm, hPrev, act: FN[act] };
    lines.push(...cellModule(this.index.cell).equation.forward(this, ev, t, state));
    // a stack: the output and the loss read the top layer's h(t); a lower layer's step ends here
    if (this.layer < this.layers) return lines;
    const ce = idx.trace.config?.loss !== "mse";
    const yhat = () => this.term([`node-yhat-${t}`], this.v("yhat", t));
    if (ce) {
      lines.push({
        id: "yhat",
        math: [
          yhat(),
          mo("="),
          this.fn("softmax", this.p("V"), this.v("h", t), mo("+"), this.p("b_y")),
          mo("="),
          this.vec(ev.yhat, "yhat"),
        ],
      });
      lines.push({
        id: "loss",
        math: [
          this.term([`node-L-${t}`], this.v("L", t)),
          mo("="),
          mo("−"),
          mi("log"),
          yhat(),
          mo("["),
          this.v("y", t),
          mo("]"),
          mo("="),
          this.scalar(ev.loss, "loss"),
        ],
        note: ev.loss_injected ? null : "eq.notInjected",
      });
    } else {
      lines.push({
        id: "yhat",
        math: [
          yhat(),
          mo("="),
          this.v("o", t),
          mo("="),
          this.p("V"),
          this.v("h", t),
          mo("+"),
          this.p("b_y"),
          mo("="),
          this.vec(ev.yhat, "yhat"),
        ],
      });
      if (scale) {
        // the prediction and the target back in the series' units: s = μ + σ·z
        lines.push({
          id: "units",
          math: [
            yhat(),
            mo("↦"),
            mi("μ"),
            mo("+"),
            mi("σ"),
            yhat(),
            mo("="),
            this.inUnits(ev.yhat?.[0]),
            mo(","),
            SPACE(),
            this.v("y", t),
            mo("↦"),
            this.inUnits(ev.target?.[0]),
          ],
          note: "eq.units",
        });
      }
      lines.push({
        id: "loss",
        math: [
          this.term([`node-L-${t}`], this.v("L", t)),
          mo("="),
          m("mfrac", {}, m("mn", {}, "1"), m("mn", {}, "2")),
          mo("‖"),
          this.v("yhat", t),
          mo("−"),
          this.v("y", t),
          m("msup", {}, mo("‖"), m("mn", {}, "2")),
          mo("="),
          this.scalar(ev.loss, "loss"),
        ],
        note: ev.loss_injected ? null : "eq.notInjected",
      });
    }
    return lines;
  }

  /** A value of a series in its own units (display: μ + σ·z), without a data-field. */
  inUnits(z) {
    const value = inSeriesUnits(z, this.index.trace.scale);
    return m("mn", { class: "num units", "data-units": raw(value) }, num(value, 4));
  }

  /** (s − μ) / σ = z for an input of a series: the standardisation with its numbers. */
  standardised(z, field) {
    const scale = this.index.trace.scale;
    return [
      m(
        "mfrac",
        {},
        row(this.inUnits(z), mo("−"), m("mn", { class: "num units" }, num(scale.mean, 4))),
        m("mn", { class: "num units" }, num(scale.std, 4)),
      ),
      mo("="),
      this.vec([z], field),
    ];
  }

  // Backward: where the error of h(t) comes from, then the local gradients.
  backward(ev) {
    const { t } = ev;
    const act = this.index.trace.config?.activation || "tanh";
    const ce = this.index.trace.config?.loss !== "mse";
    const last = ev.window ? ev.window[1] : this.index.T;
    const first = ev.window ? ev.window[0] : 1;
    const lines = [];
    // no error from this step's own output: no loss here, or its loss went in an earlier window
    const injected = !(Array.isArray(ev.g_o) && ev.g_o.every((v) => v === 0));
    const outTerm = this.term([`node-yhat-${t}`, `err-out@${t}`], this.pT("V"), this.v("g_o", t));
    // g_o(t): the output's error, which only the top layer of a stack reads
    if (this.layer === this.layers) {
      lines.push({
        id: "g_o",
        math: [
          this.term([`node-yhat-${t}`], this.v("g_o", t)),
          mo("="),
          ...this.outputError(ce, t),
          mo("="),
          this.vec(ev.g_o, "g_o"),
        ],
        note: injected ? null : "eq.noLossHere",
      });
    }
    // dh(t) = V^T g_o(t) + (error from t+1); a lower layer of a stack has no output of its own:
    // dh(t) = (error from the layer above at step t) + (error from t+1)
    const below = this.layer < this.layers;
    const nextIds = [this.nodeId("h", t + 1), `err-next@${t}`];
    const own = cellModule(this.index.cell).equation;
    // randomized truncation: what comes from t+1 is weighted by ξ(t+1), the API's draw; a gated
    // cell's sum of terms in parentheses
    const xiNext = this.xiFactor(t + 1);
    const gated = Boolean(this.index.trace.cell_spec?.gates?.length);
    const fromNext = xiNext.length
      ? row(
          ...xiNext,
          ...(gated
            ? [mo("("), own.fromNext(this, t, nextIds), mo(")")]
            : [own.fromNext(this, t, nextIds)]),
        )
      : own.fromNext(this, t, nextIds);
    const aboveIds = [this.nodeId("h", t, this.layer + 1), `err-above@${t}`];
    const fromAbove = this.term(aboveIds, mtext(tr("eq.fromAbove", { j: this.layer + 1 })));
    const dhLine = [
      this.term([this.nodeId("h", t)], this.v("dh", t)),
      mo("="),
      below ? fromAbove : outTerm,
      mo("+"),
      fromNext,
      mo("="),
      below
        ? this.term(aboveIds, this.vec(ev.dh_above, "dh_above"))
        : this.term([`node-yhat-${t}`, `err-out@${t}`], this.vec(ev.dh_out, "dh_out")),
      mo("+"),
      this.term(nextIds, this.vec(ev.dh_next, "dh_next")),
      mo("="),
      this.vec(ev.dh, "dh"),
    ];
    const xi = t < last ? this.xiAt(t + 1) : null;
    let dhNote = null;
    if (t === last) dhNote = last === this.index.T && first === 1 ? "eq.lastStep" : "eq.windowEnd";
    else if (xi !== null) dhNote = xi === 0 ? "eq.xiCut" : "eq.xiKept";
    lines.push({
      id: "dh",
      math: dhLine,
      note: dhNote,
      noteParams: { t, next: t + 1, xi: num(xi, 3), sub: subscript(t + 1) },
    });
    if (below) {
      lines.push({
        id: "dh-above",
        math: [],
        note: "eq.dhAbove",
        noteParams: { t, next: t + 1, j: this.layer, above: this.layer + 1 },
      });
    }
    // a gate on the network (hover lights its node), and a sigmoid gate's slope σ(1 − σ)
    const g = (name) => this.term([`node-gate-${name}-${t}`], this.gate(name, t));
    const sig = (name) => [g(name), ...oneMinus(this.gate(name, t))];
    // δ_name(t) = its factors = the engine's numbers
    const deltaLine = (name, ...factors) => ({
      id: `delta-${name}`,
      math: [
        this.delta(name, t),
        mo("="),
        ...factors,
        mo("="),
        this.vec(ev.deltas?.[name], `deltas.${name}`),
      ],
    });
    lines.push(...own.backward(this, ev, t, { g, sig, deltaLine, act: FN[act] }));
    lines.push({ id: "contrib", math: this.contribLine(t) });
    return lines;
  }

  /** A right factor of the cell_spec at step t: h(t−1), x(t), a gate ⊙ h(t−1) (the GRU's r), h(t). */
  rightFactor(path, t) {
    if (path === "h_prev") return this.term([`node-h-${t - 1}`], this.v("h", t - 1));
    if (path === "x") return this.term([`node-x-${t}`], this.v("x", t));
    if (path === "h") return this.v("h", t);
    const gated = gatedPrevOf(path);
    if (gated) {
      return row(
        mo("("),
        this.gate(gated.gate, t),
        mo("⊙"),
        this.term([`node-h-${t - 1}`], this.v("h", t - 1)),
        mo(")"),
      );
    }
    return mi(path);
  }

  /**
   * The contributions of step t, read from the cell_spec: every card's left factor times its
   * right factors (stacked, [a; x], in Coursera's W_k·[a, x]); gates that share a form are
   * written once with k ("dU_k += δ_k x(t)ᵀ"), the others one by one (the GRU's dW_h).
   */
  contribLine(t) {
    // a stack: the event's own layer's parameters (and the output's at the top)
    const spec = layerSpec(this.index.trace.cell_spec, this.layer, this.layers);
    const cell = this.index.cell;
    const groups = paramGroups(spec, this.notation);
    const gates = spec.gates || [];
    const rightOf = (gr) => {
      const rights = gr.rights.filter((r) => r !== null);
      if (!rights.length) return [];
      if (rights.length === 1) return [m("msup", {}, this.rightFactor(rights[0], t), mi("T"))];
      const stack = rights.flatMap((r, k) => [...(k ? [mo(";")] : []), this.rightFactor(r, t)]);
      return [m("msup", {}, row(mo("["), ...stack, mo("]")), mi("T"))];
    };
    const kind = (gr) => `${gr.names.map((n) => n.split("_")[0]).join("+")}|${gr.rights.join(",")}`;
    const families = new Map();
    for (const gr of groups) {
      if (!gr.left.startsWith("deltas.")) continue;
      const key = kind(gr);
      if (!families.has(key)) families.set(key, []);
      families.get(key).push(gr);
    }
    const items = []; // [order, math]: the W's, then U's, then biases, then the output layer
    const order = (gr) =>
      gr.left === "g_o" ? 3 : ({ W: 0, U: 1, b: 2 }[gr.names[0].split("_")[0]] ?? 3);
    const done = new Set();
    for (const gr of groups) {
      if (done.has(gr)) continue;
      const family = gr.left.startsWith("deltas.") ? families.get(kind(gr)) : [gr];
      if (family.length === gates.length && gates.length > 1) {
        // every gate alike: once, with the generic gate k
        for (const member of family) done.add(member);
        const w = gr.names[0].split("_")[0];
        const generic =
          this.coursera && gr.names.length > 1 ? this.label({ b: "W", s: "k" }) : this.pk(w);
        items.push([
          order(gr),
          [
            row(mi("d"), generic),
            mo("+="),
            this.label(leftLabel("deltas.k", this.notation), t),
            ...rightOf(gr),
          ],
        ]);
        continue;
      }
      done.add(gr);
      const label = gradLabel(groupLabel(gr, this.notation, cell));
      // the gradient's left factor, in Haykin's notation −δ and −e (his δ = −∂ℰ/∂v)
      const left = this.label(leftLabel(gr.left, this.notation), t);
      items.push([order(gr), [this.label(label), mo("+="), left, ...rightOf(gr)]]);
    }
    items.sort((a, b) => a[0] - b[0]);
    return items.flatMap(([, math], k) => (k ? [mo(","), SPACE(), ...math] : math));
  }

  /**
   * Clipping: by norm, every entry scaled by one coefficient c; by value, each entry clamped
   * to [−max, max] on its own (no single c), with how many entries that changed (the
   * update's clipped_entries) out of all the parameters' entries.
   */
  clipLine(u, grad) {
    const clip = this.index.trace.config?.clip;
    if (clip?.mode !== "value") {
      return {
        id: "clip",
        math: [
          grad(),
          mo("←"),
          mi("c"),
          mo("·"),
          grad(),
          mo(","),
          SPACE(),
          mi("c"),
          mo("="),
          this.scalar(u.clip_coef, "clip_coef"),
        ],
        note: u.clipped ? "eq.clipped" : "eq.notClipped",
      };
    }
    const shapes = Object.values(this.index.trace.cell_spec?.params ?? {}).map((p) => p.shape);
    const total = shapes.reduce((n, shape) => n + shape.reduce((a, b) => a * b, 1), 0);
    return {
      id: "clip",
      math: [
        grad(),
        mo("←"),
        this.fn(
          "clip",
          grad(),
          mo(","),
          this.scalar(-clip.max, "clip_min"),
          mo(","),
          this.scalar(clip.max, "clip_max"),
        ),
      ],
      note: u.clipped_entries ? "eq.clampedSome" : "eq.clampedNone",
      noteParams: { n: u.clipped_entries, total, max: num(clip.max, 4) },
    };
  }

  update(ev) {
    const u = this.index.trace.updates?.[ev.update];
    if (!u) return [];
    const opt = this.index.trace.config?.optimizer || { name: "sgd", lr: 0.1 };
    const lines = [];
    const grad = () => m("mi", {}, "∇");
    lines.push({
      id: "window-loss",
      math: [mi("L"), mo("="), this.scalar(u.loss, "loss")],
      ...windowLossNote(this.index.trace, u, this.notation),
    });
    lines.push({
      id: "grad-norm",
      math: [mo("‖"), grad(), mo("‖"), mo("="), this.scalar(u.grad_norm, "grad_norm")],
    });
    lines.push(this.clipLine(u, grad));
    const theta = () => mi("θ");
    const eta = () => this.scalar(opt.lr, "lr");
    let rule;
    if (opt.name === "momentum") {
      rule = [
        mi("v"),
        mo("←"),
        this.scalar(opt.momentum ?? 0.9, "momentum"),
        mi("v"),
        mo("+"),
        grad(),
        mo(";"),
        SPACE(),
        theta(),
        mo("←"),
        theta(),
        mo("−"),
        eta(),
        mi("v"),
      ];
    } else if (opt.name === "adagrad") {
      rule = [
        mi("G"),
        mo("←"),
        mi("G"),
        mo("+"),
        m("msup", {}, grad(), m("mn", {}, "2")),
        mo(";"),
        SPACE(),
        theta(),
        mo("←"),
        theta(),
        mo("−"),
        eta(),
        m("mfrac", {}, grad(), m("msqrt", {}, mi("G"), mo("+"), mi("ε"))),
      ];
    } else if (opt.name === "adam") {
      rule = [
        theta(),
        mo("←"),
        theta(),
        mo("−"),
        eta(),
        m(
          "mfrac",
          {},
          m("mover", { accent: "true" }, mi("m"), mo("^")),
          row(m("msqrt", {}, m("mover", { accent: "true" }, mi("v"), mo("^"))), mo("+"), mi("ε")),
        ),
      ];
    } else {
      rule = [theta(), mo("←"), theta(), mo("−"), eta(), grad()];
    }
    lines.push({ id: "rule", math: rule, note: `eq.opt.${opt.name}` });
    return lines;
  }
}
