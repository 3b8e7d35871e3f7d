// A mini-batch on the page (data.batch, docs/CONTRACT.md): which example the other views show,
// and at an update event the whole batch: each example's share of the chosen parameter's
// gradient as a small heatmap, and the update's gradient, their sum (both from the trace: the
// engine's `shares` and `grads`; nothing is added up here). Shown only for a batch. The
// example is the store's (state.example, 0-based as the API numbers examples; the page says
// "Example 1 of 3", 1-based as it numbers units and steps); the studio builds the views'
// index of that example (trace.js), so this view only writes the store.
import { DIVERGING_LUT, lutIndex } from "../util/config.js";
import { el } from "../util/dom.js";
import { num } from "../text/format.js";
import { t as tr } from "../text/i18n.js";
import { gradText } from "../text/notation.js";
import { lossStepsOf, maxAbs } from "../state/trace.js";

// Matrices up to this many columns show their numbers; wider ones only their colours.
const NUMBERS_UP_TO = 4;

/** The default parameter of the picture: the first whose right factor is h(t−1) (W, or a gate's). */
function recurrentOf(spec) {
  const names = Object.keys(spec?.params || {});
  return names.find((p) => spec.params[p].factors?.[1] === "h_prev") ?? names[0] ?? null;
}

/** The colour of a value on the diverging scale at a shared scale, as CSS. */
function colourOf(value, scale) {
  const k = lutIndex(typeof value === "number" ? value / (scale || 1) : null);
  if (k < 0) return "#cccccc";
  const [r, g, b] = DIVERGING_LUT.slice(k * 3, k * 3 + 3);
  return `rgb(${r},${g},${b})`;
}

export class BatchView {
  constructor({ container, shares, store }) {
    this.container = container; // the example selector, under the timeline
    this.sharesBox = shares; // the whole batch's picture, at an update event
    this.store = store;
    this.index = null;
    this.eventIndex = 0;
    this.notation = "goodfellow";
    this.param = null;
    this.comparing = false; // set-ups side by side: the columns show the example
    this.build();
  }

  build() {
    const c = this.container;
    c.replaceChildren();
    const row = el("div", "batch-row", c);
    this.label = el("label", "batch-label", row);
    this.label.htmlFor = "batch-example";
    this.select = el("select", "batch-select", row);
    this.select.id = "batch-example";
    this.select.addEventListener("change", () => {
      this.store.update({ example: Number(this.select.value) });
    });
    this.note = el("p", "hint batch-note", row);
    this.note.id = "batch-note";
    this.select.setAttribute("aria-describedby", "batch-note");
  }

  setTrace(index) {
    this.index = index;
    const spec = index?.trace?.cell_spec;
    if (!this.param || !spec?.params?.[this.param]) this.param = recurrentOf(spec);
  }

  setEvent(i) {
    this.eventIndex = i;
  }

  /** Whether set-ups are compared side by side (the note then says the columns follow). */
  setComparing(comparing) {
    this.comparing = Boolean(comparing);
  }

  setNotation(n) {
    this.notation = n;
  }

  setLanguage() {
    this.draw();
  }

  draw() {
    const idx = this.index;
    const n = idx?.n ?? 0;
    this.container.hidden = !n;
    document.body.dataset.batch = String(n);
    if (!n) {
      this.sharesBox.hidden = true;
      this.sharesBox.replaceChildren();
      return;
    }
    this.label.textContent = tr("batch.example");
    const options = [];
    for (let k = 0; k < n; k += 1) {
      const o = document.createElement("option");
      o.value = String(k);
      o.textContent = tr("batch.of", { k: k + 1, n });
      options.push(o);
    }
    this.select.replaceChildren(...options);
    this.select.value = String(idx.example);
    this.note.textContent = tr(this.comparing ? "batch.noteCompare" : "batch.note", { n });
    this.drawShares();
  }

  /** At an update event: each example's share of the chosen parameter's gradient, and the sum. */
  drawShares() {
    const box = this.sharesBox;
    const idx = this.index;
    const ev = idx.event(this.eventIndex);
    const update = ev?.kind === "update" ? idx.trace.updates?.[ev.update] : null;
    box.hidden = !update?.shares;
    box.replaceChildren();
    if (box.hidden) return;
    const spec = idx.trace.cell_spec;
    const names = Object.keys(spec?.params || {});
    const param = this.param;
    const head = el("div", "batch-head", box);
    el("h2", "batch-title", head, tr("batch.title", { n: idx.n })).id = "batch-title";
    const pick = el("label", "batch-param", head);
    el("span", "", pick, tr("batch.param"));
    const sel = el("select", "", pick);
    sel.id = "batch-param";
    for (const name of names) {
      const o = el("option", "", sel, gradText(name, idx.cell, this.notation));
      o.value = name;
    }
    sel.value = param;
    sel.addEventListener("change", () => {
      this.param = sel.value;
      this.drawShares();
    });
    el("p", "hint batch-explain", box, tr("batch.explain", { n: idx.n }));
    if (idx.trace.config?.reduction === "mean") {
      // the steps whose loss this update injects (not every step its window looks back over)
      const steps = lossStepsOf(idx.trace, ev.update).length;
      el("p", "hint batch-mean", box, tr("batch.mean", { n: idx.n, steps }));
    }
    if (idx.detail === "norms") {
      // the trace holds only norms: those of the shares do not add up to the gradient's
      this.drawNorms(box, update, param);
      return;
    }
    const values = [...update.shares.map((s) => s.grads?.[param]), update.grads?.[param]];
    const scale = maxAbs(values) || 1;
    // one colour scale for every map, so that a share's pale colours say it is small
    el("p", "hint batch-scale", box, tr("batch.scale", { max: num(scale, 3) }));
    const row = el("div", "batch-maps", box);
    const symbol = gradText(param, idx.cell, this.notation);
    update.shares.forEach((share, k) => {
      if (k > 0) el("span", "batch-op", row, "+").setAttribute("aria-hidden", "true");
      const caption = tr("batch.share", { k: share.example + 1, loss: num(share.loss, 4) });
      const fig = this.map(
        row,
        share.grads?.[param],
        scale,
        caption,
        share.example === idx.example,
      );
      fig.dataset.example = String(share.example);
      fig.classList.add("batch-share");
    });
    el("span", "batch-op", row, "=").setAttribute("aria-hidden", "true");
    const sum = this.map(row, update.grads?.[param], scale, tr("batch.sum", { g: symbol }), false);
    sum.classList.add("batch-sum");
  }

  /** A large model's trace (norms only): each share's norm and the gradient's, listed. */
  drawNorms(box, update, param) {
    const symbol = gradText(param, this.index.cell, this.notation);
    el("p", "hint batch-norms", box, tr("batch.norms", { g: symbol }));
    const list = el("ul", "batch-norm-list", box);
    for (const share of update.shares) {
      const li = el("li", "batch-share", list);
      li.dataset.example = String(share.example);
      li.textContent = tr("batch.shareNorm", {
        k: share.example + 1,
        loss: num(share.loss, 4),
        norm: num(share.grads?.[param], 4),
      });
    }
    const sum = el("li", "batch-sum", list);
    sum.textContent = tr("batch.sumNorm", { g: symbol, norm: num(update.grads?.[param], 4) });
  }

  /**
   * One matrix as a small table of coloured entries, with their numbers while it is narrow
   * (a wider one keeps each number in its entry's tooltip).
   */
  map(parent, values, scale, caption, current) {
    const fig = el("figure", "batch-map", parent);
    if (current) fig.classList.add("is-current");
    const table = el("table", "batch-table", fig);
    let rows;
    if (!Array.isArray(values)) rows = [[values]];
    else if (Array.isArray(values[0])) rows = values;
    else rows = values.map((v) => [v]);
    const narrow = (rows[0]?.length ?? 1) <= NUMBERS_UP_TO;
    if (!narrow) table.classList.add("wide");
    for (const line of rows) {
      const tr_ = el("tr", "", table);
      for (const v of line) {
        const td = el("td", "", tr_, narrow ? num(v, 3) : "");
        if (!narrow) td.title = num(v, 4);
        td.style.background = colourOf(v, scale);
        if (typeof v === "number" && Math.abs(v / scale) > 0.55) td.classList.add("dark");
        td.dataset.value = String(v);
      }
    }
    el("figcaption", "", fig, caption);
    return fig;
  }
}
