// The spread over seeds of a randomized truncation, in the compare view (compare=truncation):
// one dot per seed, each at the cosine and the relative error the API measured between that
// draw's gradient and full BPTT's (diagnostics.full_vs_truncated), on the same weights; full
// BPTT itself marked where it would sit (cosine 1, relative error 0); and one sentence saying
// what the student sees. Only the API's numbers are drawn: no mean, no estimate is computed
// here (the words say what the average does).
//
// Hooks for tests: the section #cmp-spread carries data-state (loading, ready, failed, large);
// each dot is a <circle class="spread-point"> with data-seed, data-cosine and
// data-relative-error (the API's floats, exact), the column's own seed also .is-own.
import { num, raw } from "../text/format.js";
import { t as tr } from "../text/i18n.js";
import { svgEl } from "../text/labels.js";
import { el } from "../util/dom.js";
import { spreadFrame } from "../util/geometry.js";

// The drawing's box, in its own units (the CSS scales it to the column's width).
const BOX = { width: 420, height: 230, left: 44, right: 16, top: 30, bottom: 42 };
const DOT = 5;

export class SpreadView {
  constructor({ container }) {
    this.container = container;
    container.id = "cmp-spread";
    this.title = el("h3", "cmp-spread-title", container);
    const body = el("div", "cmp-spread-body", container);
    this.figure = el("figure", "cmp-spread-fig", body);
    this.say = el("p", "cmp-spread-say", body);
    this.spread = null;
    container.hidden = true;
  }

  /**
   * What to show: null (no randomized truncation: nothing), or {state, p, seed, seeds, points,
   * limits}: state "loading", "ready" (points: [{seed, cosine, relative_error}] as the API sent
   * them), "failed" or "large" (the network is past limits {H, T}); seed the column's own.
   */
  setSpread(spread) {
    this.spread = spread;
  }

  setLanguage() {
    this.draw();
  }

  draw() {
    const s = this.spread;
    const c = this.container;
    c.hidden = !s;
    if (!s) return;
    c.dataset.state = s.state;
    const first = s.seeds[0];
    const last = s.seeds.at(-1);
    this.title.textContent = tr("spread.title", { n: s.seeds.length, p: num(s.p, 3) });
    if (s.state !== "ready") {
      this.figure.replaceChildren();
      this.figure.hidden = true;
      const key = { loading: "spread.loading", failed: "spread.failed", large: "spread.large" };
      this.say.textContent = tr(key[s.state], { n: s.seeds.length, ...s.limits });
      return;
    }
    this.figure.hidden = false;
    this.drawFigure(s);
    // p = 1 keeps every flow unscaled: each seed gives full BPTT's gradient, and says so
    const sentence = s.p === 1 ? "spread.sayWhole" : "spread.say";
    this.say.textContent = tr(sentence, { first, last, seed: s.seed, p: num(s.p, 3) });
  }

  drawFigure(s) {
    const frame = spreadFrame(s.points, BOX);
    const { x0, x1, y0, y1 } = frame.plot;
    const svg = svgEl("svg", {
      class: "cmp-spread-svg",
      viewBox: `0 0 ${BOX.width} ${BOX.height}`,
      role: "img",
      "aria-label": tr("spread.aria", { n: s.points.length }),
    });
    // the axes, their ticks and names
    svgEl("path", { class: "spread-axis", d: `M${x0},${y1}V${y0}H${x1}` }, svg);
    for (const v of frame.xTicks) {
      const x = frame.x(v);
      svgEl("line", { class: "spread-grid", x1: x, x2: x, y1, y2: y0 }, svg);
      const t = svgEl(
        "text",
        { class: "spread-tick", x, y: y0 + 13, "text-anchor": "middle", "data-raw": "" },
        svg,
      );
      t.textContent = num(v, 2);
    }
    for (const v of frame.yTicks) {
      const y = frame.y(v);
      svgEl("line", { class: "spread-grid", x1: x0, x2: x1, y1: y, y2: y }, svg);
      const t = svgEl(
        "text",
        { class: "spread-tick", x: x0 - 9, y: y + 3.5, "text-anchor": "end", "data-raw": "" },
        svg,
      );
      t.textContent = num(v, 2);
    }
    const xName = svgEl(
      "text",
      { class: "spread-name", x: x1, y: y0 + 30, "text-anchor": "end" },
      svg,
    );
    xName.textContent = tr("spread.x");
    const yName = svgEl("text", { class: "spread-name", x: x0 - 38, y: y1 - 14 }, svg);
    yName.textContent = tr("spread.y");
    // where full BPTT sits: cosine 1, relative error 0 (by definition, not by measure)
    const fx = frame.x(0);
    const fy = frame.y(1);
    const full = svgEl("g", { class: "spread-full" }, svg);
    svgEl("path", { d: `M${fx},${fy - 7}L${fx + 7},${fy}L${fx},${fy + 7}L${fx - 7},${fy}Z` }, full);
    const fullName = svgEl("text", { class: "spread-full-name", x: fx + 10, y: fy + 14 }, full);
    fullName.textContent = tr("cmp.setup.full");
    // one dot per seed, the column's own ringed, drawn last (on top)
    const order = [...s.points].sort((a, b) => (a.seed === s.seed) - (b.seed === s.seed));
    for (const p of order) {
      if (!Number.isFinite(p.cosine) || !Number.isFinite(p.relative_error)) continue;
      const dot = svgEl(
        "circle",
        {
          class: `spread-point${p.seed === s.seed ? " is-own" : ""}`,
          cx: frame.x(p.relative_error),
          cy: frame.y(p.cosine),
          r: DOT,
          "data-seed": p.seed,
          "data-cosine": raw(p.cosine),
          "data-relative-error": raw(p.relative_error),
        },
        svg,
      );
      svgEl("title", {}, dot).textContent = tr("spread.point", {
        seed: p.seed,
        cos: num(p.cosine, 3),
        rel: num(p.relative_error, 3),
      });
    }
    const caption = el("figcaption", "cmp-spread-cap");
    caption.textContent = tr("spread.own", { seed: s.seed });
    this.figure.replaceChildren(svg, caption);
  }
}
