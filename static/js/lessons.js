// Guided lessons: a menu, a panel and a runner. The runner drives the studio only through its
// public handle (loadScenario, goTo, highlight, clearHighlight; events "trace" and "event") and
// the store (lang, notation, lesson). Lessons are data: /static/lessons/lessons.json holds the
// scenarios, events, highlights and questions; <lang>.json the texts, aligned step by step.
// Both are fetched when a lesson opens; main.js imports this module (and attach() its CSS) only
// when the Lessons button is used or the URL names a lesson. Every number a text shows, and
// every answer a question checks, is read from the engine's result by a reader below.
import { api } from "./api.js";
import { loadPlotly } from "./charts.js";
import { gateLabel, paramLabel, timeStyle, varLabel } from "./notation.js";

const BASE = "/static/lessons/";
const ACCENT = { hat: "\u0302", tilde: "\u0303" };
const SUP = { "-": "⁻", "+": "⁺", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };
const COMPARE_COLOURS = { rnn: "#d55e00", lstm: "#0072b2", gru: "#009e73" };

const h = (tag, cls = "", text = null) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== null) node.textContent = text;
  return node;
};

async function getJson(path) {
  const res = await fetch(BASE + path);
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

// ---- readers: pick numbers out of the engine's result --------------------------------------

const flat = (v) => (Array.isArray(v) ? v.flat(Infinity) : [v]);
const pick = (obj, path) => path.split(".").reduce((o, k) => (o == null ? o : o[k]), obj);
const lastRow = (trace) => trace.diagnostics.error_flow.at(-1);
const stepOf = (trace, t) => (t === "T" ? trace.sizes.T : t);
const eventOf = (trace, target) => trace.events.find((e) => e.kind === target.kind
  && (target.t === undefined || e.t === target.t)
  && (target.update === undefined || e.update === target.update));

const READERS = {
  updates: ({ trace }) => trace.updates.length,
  updateTimes: ({ trace }) => trace.updates.map((u) => u.t).join(", "),
  loss: ({ trace }) => trace.loss,
  gradNorm: ({ trace }, r) => trace.updates[r.update].grad_norm,
  clipCoef: ({ trace }, r) => trace.updates[r.update].clip_coef,
  fvt: ({ trace }, r) => trace.diagnostics.full_vs_truncated[r.key],
  flow: ({ trace }, r) => trace.diagnostics.error_flow[stepOf(trace, r.t) - 1][stepOf(trace, r.k) - 1],
  nonzero: ({ trace }, r) => flat(pick(eventOf(trace, r.event), r.field)).some((x) => x !== 0),
  contribCount: ({ trace }, r) => trace.events.filter((e) => e.kind === "backward"
    && flat(e.contrib[r.param]).some((x) => x !== 0)).length,
  // the later loss t >= from whose error reaching h(k) the engine reports as largest
  flowArgmax: ({ trace }, r) => {
    const rows = trace.diagnostics.error_flow;
    let best = r.from;
    for (let t = r.from; t <= rows.length; t += 1) if (rows[t - 1][r.k - 1] > rows[best - 1][r.k - 1]) best = t;
    return best;
  },
  flowTrend: ({ trace }) => (lastRow(trace)[0] < lastRow(trace).at(-1) ? "fades" : "grows"),
  truncation: ({ trace }) => {
    const d = trace.diagnostics.full_vs_truncated;
    if (d.relative_error < 1e-9) return "same";
    return d.cosine >= 0.5 ? "close" : "far";
  },
  passes: ({ scenario }) => scenario.train,
  setting: ({ step }, r) => (r.of === "reveal" ? step.reveal?.scenario : step.scenario)?.[r.field],
  predictions: ({ training }) => training.predictions.join(""),
  trainLoss: ({ training }) => training.losses.at(-1),
  continuation: ({ training }) => training.continuation,
  hits: ({ trace, training }) => training.predictions
    .filter((p, i) => p === trace.vocab[trace.targets[i]]).length,
  compareFlow: ({ compare }, r) => lastRow(compare[r.value])[r.k - 1],
  compareArgmax: ({ compare }, r) => Object.keys(compare)
    .reduce((a, b) => (lastRow(compare[b])[r.k - 1] > lastRow(compare[a])[r.k - 1] ? b : a)),
};

export function read(reader, context) {
  const fn = READERS[reader.fn];
  if (!fn) throw new Error(`lessons: unknown reader ${reader.fn}`);
  return fn(context, reader);
}

function format(value, how, lang) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (typeof value !== "number") return String(value);
  const digits = /^fixed(\d)$/.exec(how || "");
  if (digits) {
    const d = Number(digits[1]);
    return new Intl.NumberFormat(lang, { minimumFractionDigits: d, maximumFractionDigits: d }).format(value);
  }
  if (how === "percent") return new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 1 }).format(value);
  if (how === "sci") {
    const [m, e] = new Intl.NumberFormat(lang, { notation: "scientific", maximumFractionDigits: 1 })
      .format(value).split("E");
    return e === "0" ? m : `${m}·10${[...e].map((c) => SUP[c] || c).join("")}`;
  }
  return new Intl.NumberFormat(lang, { maximumSignificantDigits: 4 }).format(value);
}

// ---- formulas: {{…}} segments built from the notation's symbols -----------------------------
// Inside {{…}}: @W, @U_o, @W_k (parameters, engine names), %h(t-1), %delta.o(t), %gate.f(t+1)
// (signals, with a time index written in the notation's style), ^T, ^{…}, _{…}; the rest as is.

const TOKEN = /@([A-Za-z]\w*)|%([A-Za-z][\w.]*)(?:\(([^()]*)\))?|\^T(?!\w)|\^\{([^}]*)\}|_\{([^}]*)\}/g;

function signalLabel(name, notation) {
  const [base, gate] = name.split(".");
  if (base === "gate") return gateLabel(gate, notation);
  if (base === "delta" && gate) {
    const g = gateLabel(gate, notation);
    return { b: varLabel("delta", notation).b, s: g.s ? `${g.b}${g.s}` : g.b + (ACCENT[g.acc] || ""), acc: null };
  }
  return varLabel(base, notation);
}

function labelNode(label, time, notation) {
  const span = h("span", "lx-var");
  span.append(h("i", "", label.b + (ACCENT[label.acc] || "")));
  const when = time === undefined ? null : time.replace(/-/g, "−");
  const style = timeStyle(notation);
  const sub = [label.s, when !== null && style === "sub" ? when : ""].filter(Boolean).join(",");
  if (sub) span.append(h("sub", "", sub));
  if (when !== null && style !== "sub") span.append(h("sup", "", style === "paren" ? `(${when})` : `⟨${when}⟩`));
  return span;
}

function formula(src, ctx) {
  const span = h("span", "lx-math");
  let at = 0;
  for (const m of src.matchAll(TOKEN)) {
    if (m.index > at) span.append(src.slice(at, m.index).replace(/ - /g, " − "));
    if (m[1]) span.append(labelNode(paramLabel(m[1], ctx.cell, ctx.notation), undefined, ctx.notation));
    else if (m[2]) span.append(labelNode(signalLabel(m[2], ctx.notation), m[3], ctx.notation));
    else if (m[0] === "^T") span.append(h("sup", "", "T"));
    else if (m[4] !== undefined) span.append(h("sup", "", m[4]));
    else span.append(h("sub", "", m[5]));
    at = m.index + m[0].length;
  }
  if (at < src.length) span.append(src.slice(at));
  return span;
}

/** Text with {name} values filled in and {{…}} formulas rendered, as DOM nodes (never HTML). */
export function rich(text, values, ctx) {
  const filled = text.split(/(\{\{.*?\}\})/).map((part) => (part.startsWith("{{") ? part
    : part.replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m)))).join("");
  const frag = document.createDocumentFragment();
  filled.split(/\{\{(.*?)\}\}/).forEach((part, i) => {
    if (i % 2) frag.append(formula(part, ctx));
    else if (part) frag.append(part);
  });
  return frag;
}

// ---- the runner ------------------------------------------------------------------------------

let instance = null;

/** The one runner of the page, created on first use with its stylesheet loaded. */
export async function attach(hooks) {
  if (!document.querySelector("link[data-lessons]")) {
    await new Promise((resolve) => {
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = "/static/css/lessons.css";
      link.dataset.lessons = "";
      link.addEventListener("load", resolve);
      link.addEventListener("error", resolve);
      document.head.append(link);
    });
  }
  instance ??= new Lessons(hooks);
  return instance;
}

export class Lessons {
  constructor({ studio, store, button, menu, panel }) {
    this.studio = studio;
    this.store = store;
    this.button = button;
    this.menu = menu;
    this.panel = panel;
    this.defs = null;
    this.texts = {};
    this.current = null; // {lesson, index}
    this.seq = 0;
    this.concealed = [];
    // the panel holds the step (redrawn) and a live region (kept) that announces each new step
    this.content = h("div", "lesson-content");
    this.live = h("p", "visually-hidden");
    this.live.setAttribute("aria-live", "polite");
    panel.replaceChildren(this.content, this.live);
    menu.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.toggleMenu(false, true);
    });
    document.addEventListener("click", (e) => {
      if (!this.menu.hidden && !this.menu.contains(e.target) && !this.button.contains(e.target)) this.toggleMenu(false);
    });
    store.addEventListener("change", (e) => this.onStore(e.detail.changed));
    studio.addEventListener("event", (e) => this.onEvent(e.detail.index));
  }

  /** Open the lesson the URL names, once the studio shows its first trace. */
  async start() {
    const s = this.store.get().lesson;
    if (s?.id) await this.open(s.id, s.step || 1);
  }

  lang() {
    return this.store.get().lang;
  }

  async load() {
    if (!this.defs) this.defs = await getJson("lessons.json");
    const lang = this.lang();
    if (!this.texts[lang]) this.texts[lang] = await getJson(`${lang}.json`).catch(() => getJson("en.json"));
    return this.texts[lang];
  }

  ui(key, params = {}) {
    const text = this.texts[this.lang()]?.ui[key] ?? this.texts.en?.ui[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (m, k) => (k in params ? params[k] : m));
  }

  ctx(step) {
    // formulaCell: the cell whose parameter names a step's formulas use, when not the scenario's
    return { cell: step?.formulaCell || step?.scenario?.cell || "rnn", notation: this.store.get().notation };
  }

  // ---- menu ----

  async toggleMenu(force = null, refocus = false) {
    const open = force === null ? this.menu.hidden : force;
    if (open) {
      try {
        await this.load();
      } catch {
        return;
      }
      this.renderMenu();
    }
    this.menu.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
    if (open) this.menu.querySelector("a")?.focus();
    else if (refocus) this.button.focus();
  }

  renderMenu() {
    const texts = this.texts[this.lang()];
    const list = h("ol", "lesson-list");
    for (const lesson of this.defs.lessons) {
      const a = h("a");
      a.append(rich(texts.lessons[lesson.id].title, {}, this.ctx(lesson.steps[0])));
      a.href = `?lesson=${encodeURIComponent(lesson.id)}&step=1${this.lang() === "en" ? "" : `&lang=${this.lang()}`}`;
      a.dataset.lesson = lesson.id;
      a.addEventListener("click", (e) => {
        e.preventDefault();
        this.toggleMenu(false);
        this.open(lesson.id, 1, { focus: true });
      });
      const li = h("li");
      li.append(a);
      list.append(li);
    }
    this.menu.replaceChildren(h("h2", "lesson-menu-title", this.ui("menu")), list);
    this.menu.setAttribute("aria-label", this.ui("menu"));
  }

  // ---- opening, moving, leaving ----

  async open(id, stepNumber = 1, { focus = false } = {}) {
    try {
      await this.load();
    } catch {
      return;
    }
    const lesson = this.defs.lessons.find((l) => l.id === id);
    if (!lesson) {
      this.store.update({ lesson: null });
      return;
    }
    const n = lesson.steps.length;
    const index = Math.max(0, Math.min(n - 1, (Number(stepNumber) || 1) - 1));
    this.current = { lesson, index };
    this.panel.hidden = false;
    document.body.classList.add("lesson-open");
    await this.go(index, { focus });
  }

  leave() {
    this.seq += 1;
    this.reveal = null;
    this.unconceal();
    this.studio.clearHighlight();
    this.current = null;
    this.panel.hidden = true;
    this.content.replaceChildren();
    this.live.textContent = "";
    delete this.panel.dataset.state;
    document.body.classList.remove("lesson-open");
    this.store.update({ lesson: null });
    this.button.focus();
  }

  async go(index, { focus = false } = {}) {
    const seq = ++this.seq;
    const { lesson } = this.current;
    const step = lesson.steps[index];
    this.current.index = index;
    this.answer = null;
    this.chosen = null;
    this.reveal = null;
    this.values = {};
    this.target = null;
    this.store.update({ lesson: { id: lesson.id, step: index + 1 } });
    this.panel.dataset.state = "loading";
    this.render({ focus });
    this.unconceal();
    this.studio.clearHighlight();
    const ok = await this.show(step.scenario, step.event);
    if (seq !== this.seq) return;
    if (!ok) {
      this.panel.dataset.state = "failed";
      this.renderStatus(this.ui("failed"));
      return;
    }
    this.conceal(step.conceal || []);
    this.target = { event: step.event, highlight: step.highlight || [] };
    this.applyHighlight(true);
    this.values = this.readValues(step.values, step);
    this.panel.dataset.state = "ready";
    this.render({ focus: false });
    const text = this.content.querySelector(".lesson-text")?.textContent || "";
    this.live.textContent = `${this.ui("stepOf", { i: index + 1, n: lesson.steps.length })}. ${text}`;
  }

  /** Load a scenario (if it differs) and move the timeline to an event; false on an API error. */
  async show(scenario, event) {
    let failed = false;
    const onError = () => {
      failed = true;
    };
    this.studio.addEventListener("error", onError);
    try {
      await this.studio.loadScenario(scenario, { event: 0 });
    } finally {
      this.studio.removeEventListener("error", onError);
    }
    if (failed || !this.studio.trace) return false;
    return this.studio.goTo(event);
  }

  context(step) {
    return { trace: this.studio.trace, training: this.studio.training, scenario: this.store.get().scenario,
      step, compare: this.compare || {} };
  }

  readValues(spec, step) {
    const out = {};
    const ctx = this.context(step);
    for (const [name, reader] of Object.entries(spec || {})) out[name] = format(read(reader, ctx), reader.format, this.lang());
    return out;
  }

  /** Highlight the step's targets; scroll the first one (the one the text is about) into view. */
  applyHighlight(scroll = false) {
    if (!this.target) return;
    const targets = this.target.highlight;
    this.studio.highlight(targets);
    if (!scroll || !targets.length) return;
    // the first target inside the panel is scrolled to within the panel; the first one outside
    // it (the one the text is about) into the page's view
    const behavior = window.matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth";
    const elements = targets.map((t) => (t.includes("@") || t.startsWith("eq-") ? null
      : document.querySelector(/^[#.[]/.test(t) ? t : `#${CSS.escape(t)}`)));
    const inPanel = elements.find((el) => el && this.panel.contains(el));
    if (inPanel) this.panel.scrollTo({ top: inPanel.offsetTop - 80, behavior });
    const onPage = elements.find((el) => el && !this.panel.contains(el))
      || [...document.querySelectorAll(".is-hl")].find((el) => !this.panel.contains(el));
    if (!onPage) return;
    const reveal = (how) => {
      const r = onPage.getBoundingClientRect();
      if (r.top < 0 || r.bottom > window.innerHeight) onPage.scrollIntoView({ block: "center", behavior: how });
    };
    reveal(behavior);
    // the page's views may still change height (charts drawn a little later): look again
    const seq = this.seq;
    clearTimeout(this.scrollTimer);
    this.scrollTimer = setTimeout(() => seq === this.seq && onPage.isConnected && reveal("auto"), 700);
  }

  conceal(selectors) {
    for (const sel of selectors) {
      for (const el of document.querySelectorAll(sel)) {
        el.classList.add("lesson-concealed");
        this.concealed.push(el);
      }
    }
  }

  unconceal() {
    for (const el of this.concealed) el.classList.remove("lesson-concealed");
    this.concealed = [];
  }

  // ---- predict, then reveal ----

  async doReveal() {
    const { lesson, index } = this.current;
    const step = lesson.steps[index];
    if (this.chosen === null) {
      this.renderStatus(this.ui("chooseFirst"));
      return;
    }
    const seq = this.seq;
    const rv = step.reveal;
    this.panel.dataset.state = "loading";
    this.compare = null;
    if (rv.compare) {
      const base = rv.scenario || step.scenario;
      const traces = await Promise.all(rv.compare.values.map((v) => api.trace(
        { ...base, [rv.compare.vary]: v, detail: "norms" }).catch(() => null)));
      if (seq !== this.seq) return;
      if (traces.some((tr) => !tr)) {
        this.panel.dataset.state = "failed";
        this.renderStatus(this.ui("failed"));
        return;
      }
      this.compare = Object.fromEntries(rv.compare.values.map((v, k) => [v, traces[k]]));
    }
    const ok = await this.show(rv.scenario || step.scenario, rv.event);
    if (seq !== this.seq) return;
    if (!ok) {
      this.panel.dataset.state = "failed";
      this.renderStatus(this.ui("failed"));
      return;
    }
    this.unconceal();
    this.answer = read(step.question.reader, this.context(step));
    const correct = step.question.options.findIndex((o) => ("value" in o ? String(o.value) === String(this.answer)
      : this.answer >= o.min && this.answer <= o.max));
    this.reveal = { correct, values: this.readValues(rv.values, step) };
    this.target = { event: rv.event, highlight: rv.highlight || [] };
    this.panel.dataset.state = "ready";
    this.render({ focus: false });
    this.applyHighlight(true);
    this.panel.querySelector(".lesson-result")?.focus({ preventScroll: true });
  }

  // ---- drawing the panel ----

  render({ focus }) {
    if (!this.current) return;
    const texts = this.texts[this.lang()] || this.texts.en;
    const { lesson, index } = this.current;
    const step = lesson.steps[index];
    const text = texts.lessons[lesson.id];
    const stepText = text.steps[index];
    const n = lesson.steps.length;
    const ctx = this.ctx(step);
    const p = this.panel;
    p.dataset.lesson = lesson.id;
    p.dataset.step = String(index + 1);
    p.dataset.lang = this.lang();
    p.setAttribute("aria-label", this.ui("panel"));

    const head = h("header", "lesson-head");
    const number = this.defs.lessons.indexOf(lesson) + 1;
    head.append(h("p", "lesson-kicker", `${this.ui("lesson", { n: number })} · ${this.ui("stepOf", { i: index + 1, n })}`));
    const title = h("h2", "lesson-title");
    title.append(rich(text.title, {}, this.ctx(lesson.steps[0])));
    title.tabIndex = -1;
    head.append(title);
    const dots = h("ol", "lesson-dots");
    dots.setAttribute("aria-hidden", "true");
    for (let k = 0; k < n; k += 1) dots.append(h("li", k === index ? "is-current" : k < index ? "is-done" : ""));
    head.append(dots);

    const body = h("div", "lesson-body");
    const para = h("p", "lesson-text");
    para.append(rich(stepText.text, this.values, ctx));
    body.append(para);
    if (step.question) body.append(this.renderQuestion(step, stepText, ctx));
    const status = h("p", "lesson-status");
    status.setAttribute("role", "status");
    if (this.panel.dataset.state === "loading") status.textContent = this.ui("loading");
    body.append(status);
    if (index === n - 1 && (!step.question || this.reveal)) body.append(h("p", "lesson-done", this.ui("done")));

    const nav = h("nav", "lesson-nav");
    nav.setAttribute("aria-label", this.ui("panel"));
    const back = this.navButton("lesson-back", this.ui("back"), () => this.go(index - 1));
    back.disabled = index === 0;
    const next = this.navButton("lesson-next", index === n - 1 ? this.ui("finish") : this.ui("next"),
      () => (index === n - 1 ? this.leave() : this.go(index + 1)));
    next.classList.add("primary");
    nav.append(back, next);
    const tools = h("div", "lesson-tools");
    tools.append(this.navButton("lesson-leave", this.ui("leave"), () => this.leave(), "link"),
      this.navButton("lesson-link", this.ui("link"), () => this.copyLink(), "link"));
    const linkBox = h("input", "lesson-link-box");
    linkBox.type = "text";
    linkBox.readOnly = true;
    linkBox.hidden = true;
    linkBox.setAttribute("aria-label", this.ui("link"));
    tools.append(linkBox);

    // keep the keyboard where it was across redraws (Next stays focused while stepping)
    const active = document.activeElement;
    let keep = null;
    if (active && this.content.contains(active)) {
      if (active.id) keep = `#${active.id}`;
      else if (active.matches(".lesson-option input")) keep = `.lesson-option input[value="${active.value}"]`;
      else if (active.matches(".lesson-title, .lesson-result")) keep = `.${active.classList[0]}`;
    }
    this.content.replaceChildren(head, body, nav, tools);
    if (this.reveal && this.compare) this.drawCompare();
    const target = focus ? title : keep && this.content.querySelector(keep);
    if (target && !target.disabled) target.focus({ preventScroll: true });
    else if (keep) next.focus({ preventScroll: true });
  }

  navButton(id, label, onClick, cls = "") {
    const b = h("button", `btn ${cls}`.trim(), label);
    b.type = "button";
    b.id = id;
    b.addEventListener("click", onClick);
    return b;
  }

  renderQuestion(step, stepText, ctx) {
    const q = step.question;
    const box = h("fieldset", "lesson-question");
    box.dataset.revealed = String(Boolean(this.reveal));
    const legend = h("legend");
    legend.append(h("span", "lesson-predict", this.ui("predict")), " ");
    legend.append(rich(stepText.question, this.values, ctx));
    box.append(legend);
    const name = `lq-${this.current.lesson.id}-${this.current.index}`;
    q.options.forEach((o, k) => {
      const label = h("label", "lesson-option");
      const input = h("input");
      input.type = "radio";
      input.name = name;
      input.value = String(k);
      input.checked = this.chosen === k;
      input.disabled = Boolean(this.reveal);
      input.addEventListener("change", () => {
        this.chosen = k;
        this.renderStatus("");
      });
      label.append(input, " ", rich(stepText.options[k], this.values, ctx));
      if (this.reveal) {
        if (k === this.reveal.correct) label.classList.add("is-correct");
        else if (k === this.chosen) label.classList.add("is-wrong");
      }
      box.append(label);
    });
    if (!this.reveal) {
      const btn = this.navButton("lesson-reveal", this.ui("reveal"), () => this.doReveal());
      box.append(btn);
      return box;
    }
    const answerText = stepText.options[this.reveal.correct] ?? String(this.answer);
    const result = h("div", "lesson-result");
    result.tabIndex = -1;
    result.dataset.answer = String(this.answer);
    result.dataset.correct = String(this.reveal.correct);
    result.dataset.right = String(this.chosen === this.reveal.correct);
    const verdict = h("p", `lesson-verdict ${this.chosen === this.reveal.correct ? "right" : "wrong"}`);
    verdict.append(rich(this.chosen === this.reveal.correct ? this.ui("right")
      : this.ui("wrong", { answer: answerText }), {}, ctx));
    const explain = h("p", "lesson-reveal-text");
    explain.append(rich(stepText.reveal, { ...this.reveal.values, answer: answerText }, ctx));
    result.append(verdict, explain);
    if (this.compare) {
      result.append(h("p", "lesson-compare-title", this.ui("compareTitle")));
      const chart = h("div", "lesson-compare");
      chart.id = "lesson-compare";
      chart.setAttribute("role", "img");
      chart.setAttribute("aria-label", this.ui("compareAria"));
      result.append(chart);
    }
    box.append(result);
    return box;
  }

  renderStatus(text) {
    const status = this.panel.querySelector(".lesson-status");
    if (status) status.textContent = text;
  }

  async drawCompare() {
    const el = this.panel.querySelector("#lesson-compare");
    if (!el) return;
    let Plotly;
    try {
      Plotly = await loadPlotly();
    } catch {
      return;
    }
    const data = Object.entries(this.compare).map(([cell, trace]) => ({
      x: lastRow(trace).map((_, k) => k + 1), y: lastRow(trace), type: "scatter", mode: "lines+markers",
      name: this.ui(`cell.${cell}`), line: { color: COMPARE_COLOURS[cell], width: 2 }, marker: { size: 4 },
    }));
    const layout = {
      font: { family: "system-ui, sans-serif", size: 10 }, margin: { l: 50, r: 8, t: 26, b: 34 },
      xaxis: { title: { text: this.ui("compareX") }, dtick: 2 },
      yaxis: { type: "log", title: { text: this.ui("compareY") }, exponentformat: "power" },
      legend: { orientation: "h", x: 0, y: 1.0, yanchor: "bottom" }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#fff",
      shapes: this.compareMarker(),
    };
    await Plotly.react(el, data, { ...layout, height: 240 }, { displayModeBar: false, responsive: true });
    el.dataset.ready = "true";
  }

  /** The dashed line that keeps the comparison in step with the timeline. */
  compareMarker() {
    const ev = this.studio.event;
    if (!ev) return [];
    return [{ type: "line", x0: ev.t, x1: ev.t, yref: "paper", y0: 0, y1: 1,
      line: { color: "#e69f00", width: 2, dash: "dash" } }];
  }

  async copyLink() {
    this.store.writeUrl();
    const url = this.store.url();
    const box = this.panel.querySelector(".lesson-link-box");
    box.value = url;
    box.hidden = false;
    try {
      await navigator.clipboard.writeText(url);
      this.renderStatus(this.ui("linkCopied"));
    } catch {
      box.select();
      this.renderStatus(this.ui("linkSelect"));
    }
  }

  // ---- following the page ----

  async onStore(changed) {
    if (!this.current && this.menu.hidden) return;
    if (changed.has("lang")) {
      try {
        await this.load();
      } catch {
        return;
      }
      if (!this.menu.hidden) this.renderMenu();
    }
    if (this.current && (changed.has("lang") || changed.has("notation"))) {
      this.render({ focus: false });
      this.applyHighlight();
    }
  }

  onEvent(index) {
    if (!this.current || !this.target) return;
    // The page redraws its equation (and may rebuild views) on each event: restore our marks.
    if (this.studio.index?.find(this.target.event.kind, this.target.event.t ?? null,
      this.target.event.update ?? null) === index) this.applyHighlight();
    const el = this.panel.querySelector("#lesson-compare");
    if (el?.dataset.ready && window.Plotly) window.Plotly.relayout(el, { shapes: this.compareMarker() });
  }
}
