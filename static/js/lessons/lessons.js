// Guided lessons: a menu, a panel and a runner. The runner drives the studio only through its
// public handle (loadScenario, goTo, highlight, clearHighlight, resolve, compare; events
// "trace" and "event") and the store (lang, notation, lesson). Lessons are data:
// /static/lessons/lessons.json holds the scenarios, events, highlights and questions (a step or
// a reveal that compares names its comparison, "compare": "cell" | "loss_at" | "truncation" |
// "reduction", and the page shows it side by side); <lang>.json the texts, aligned step by step.
// Both are fetched when a lesson opens; main.js imports this module (and attach() its CSS) only
// when the Lessons button is used or the URL names a lesson. Every number a text shows, and
// every answer a question checks, is read from the engine's result by a reader
// (lesson-readers.js); texts write formulas in a small language (lesson-formula.js); the panel
// draws the step (lesson-panel.js). This module is the runner: it opens, moves and leaves.
import { api } from "../state/api.js";
import { DEFAULT_CELL } from "../cells/index.js";
import { fill } from "../text/i18n.js";
import { LessonPanel } from "./lesson-panel.js";
import { format, read, warmFormats } from "./lesson-readers.js";
import { requestOf } from "../state/state.js";

export { read } from "./lesson-readers.js";
export { rich } from "./lesson-formula.js";

const BASE = "/static/lessons/";

/** Resolve after the next frame is painted (a message posted from its animation frame). */
const nextFrame = () =>
  new Promise((resolve) => {
    requestAnimationFrame(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => resolve();
      channel.port2.postMessage(0);
    });
  });

async function getJson(path) {
  const res = await fetch(BASE + path);
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

// ---- the runner ------------------------------------------------------------------------------

let instance = null;

/** The one runner of the page, created on first use with its stylesheet loaded. */
export async function attach(hooks) {
  if (!document.querySelector("link[data-lessons]")) {
    await new Promise((done) => {
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = "/static/css/lessons.css";
      link.dataset.lessons = "";
      link.addEventListener("load", done);
      link.addEventListener("error", done);
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
    this.early = null; // the reveal's traces asked for while the question is read (a promise)
    this.earlyNeuron = null; // the neuron view it opens, asked for then too ({key, view})
    // A class in session (classroom.js) may hold a reveal: gate(step, chosen) answers
    // "hold" (a student's answer is sent; the teacher's reveal shows it), "reveal" (the
    // teacher reveals to the class, chosen or not) or null (no class: as alone).
    this.gate = null;
    this.revealLabel = null; // the reveal button's label in a class, when it is not "Reveal"
    this.view = new LessonPanel(this, panel);
    menu.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.toggleMenu(false, true);
    });
    document.addEventListener("click", (e) => {
      const outside = !this.menu.contains(e.target) && !this.button.contains(e.target);
      if (!this.menu.hidden && outside) this.toggleMenu(false);
    });
    store.addEventListener("change", (e) => this.onStore(e.detail.changed));
    studio.addEventListener("event", (e) => this.onEvent(e.detail.index));
    // Once the student acts (scrolls, clicks, types), the page no longer scrolls by itself: a
    // step's second look (applyHighlight) came after they had scrolled away, or between the
    // press and the release of a click, moving the button from under the pointer (the click
    // was lost, and Finish left the lesson open).
    for (const type of ["pointerdown", "keydown", "wheel", "touchstart"])
      document.addEventListener(type, () => clearTimeout(this.scrollTimer), {
        capture: true,
        passive: true,
      });
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
    if (!this.texts[lang])
      this.texts[lang] = await getJson(`${lang}.json`).catch(() => getJson("en.json"));
    return this.texts[lang];
  }

  ui(key, params = {}) {
    return fill(this.texts[this.lang()]?.ui[key] ?? this.texts.en?.ui[key] ?? key, params);
  }

  ctx(step) {
    // formulaCell: the cell whose parameter names a step's formulas use, when not the scenario's
    return {
      cell: step?.formulaCell || step?.scenario?.cell || DEFAULT_CELL,
      notation: this.store.get().notation,
    };
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
      this.view.renderMenu();
    }
    this.menu.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
    if (open) this.menu.querySelector("a")?.focus();
    else if (refocus) this.button.focus();
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
    this.early = null;
    this.earlyNeuron = null;
    this.unconceal();
    this.studio.clearHighlight();
    this.current = null;
    this.panel.hidden = true;
    this.view.clear();
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
    this.view.said = null; // a new step says nothing yet
    this.reveal = null;
    this.values = {};
    this.target = null;
    this.early = null;
    this.earlyNeuron = null;
    this.store.update({ lesson: { id: lesson.id, step: index + 1 } });
    this.panel.dataset.state = "loading";
    this.view.render({ focus });
    this.unconceal();
    this.studio.clearHighlight();
    const ok = await this.show(step.scenario, step.event, step.compare);
    if (seq !== this.seq) return;
    if (!ok) {
      this.panel.dataset.state = "failed";
      this.view.say("failed");
      return;
    }
    // a step that names a unit opens its neuron view (neuron.js), the others close it
    this.store.update({ neuron: step.neuron || null });
    this.conceal(step.conceal || []);
    this.target = { event: step.event, highlight: step.highlight || [] };
    this.applyHighlight(true);
    this.values = this.readValues(step.values, step);
    this.prefetchReveal(step);
    this.panel.dataset.state = "ready";
    this.view.render({ focus: false });
    const text = this.view.content.querySelector(".lesson-text")?.textContent || "";
    this.view.announce(`${this.ui("stepOf", { i: index + 1, n: lesson.steps.length })}. ${text}`);
  }

  /**
   * Load a scenario (if it differs), side by side when compare names a comparison (else in the
   * single view), and move the timeline to an event; false on an API error.
   */
  async show(scenario, event, compare = null) {
    let failed = false;
    const onError = () => {
      failed = true;
    };
    this.studio.addEventListener("error", onError);
    try {
      await this.studio.loadScenario(scenario, { event: 0, compare: compare ?? null });
    } finally {
      this.studio.removeEventListener("error", onError);
    }
    if (failed || !this.studio.trace) return false;
    return this.studio.goTo(event);
  }

  context(step) {
    // (a reveal answered from its prefetched traces reads them instead: revealContext)
    return {
      trace: this.studio.trace,
      training: this.studio.training,
      scenario: this.store.get().scenario,
      step,
      compare: this.studio.compare?.traces || {},
      neuron: this.neuron || null,
    };
  }

  readValues(spec, step, ctx = this.context(step)) {
    const out = {};
    for (const [name, reader] of Object.entries(spec || {}))
      out[name] = format(read(reader, ctx), reader.format, this.lang());
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
    const behavior = window.matchMedia("(prefers-reduced-motion: reduce)").matches
      ? "auto"
      : "smooth";
    const elements = targets.map((t) => this.studio.resolve(t)[0] ?? null);
    const inPanel = elements.find((el) => el && this.panel.contains(el));
    if (inPanel) this.panel.scrollTo({ top: inPanel.offsetTop - 80, behavior });
    const onPage =
      elements.find((el) => el && !this.panel.contains(el)) ||
      [...document.querySelectorAll(".is-hl")].find((el) => !this.panel.contains(el));
    if (!onPage) return;
    const reveal = (how) => {
      const r = onPage.getBoundingClientRect();
      if (r.top < 0 || r.bottom > window.innerHeight)
        onPage.scrollIntoView({ block: "center", behavior: how });
    };
    reveal(behavior);
    // the page's views may still change height (charts drawn a little later): look again
    const seq = this.seq;
    clearTimeout(this.scrollTimer);
    this.scrollTimer = setTimeout(
      () => seq === this.seq && onPage.isConnected && reveal("auto"),
      700,
    );
  }

  conceal(selectors) {
    for (const sel of selectors) {
      for (const el of this.studio.resolve(sel)) {
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

  /** Reveal the answer; byTeacher: the class's teacher revealed it (no gate, no choice needed). */
  async doReveal({ byTeacher = false } = {}) {
    const { lesson, index } = this.current;
    const step = lesson.steps[index];
    const gated = byTeacher || !this.gate ? null : await this.gate(step, this.chosen);
    if (gated === "hold" || this.current?.index !== index) return;
    if (this.chosen === null && !byTeacher && gated !== "reveal") {
      this.view.say("chooseFirst");
      return;
    }
    const seq = this.seq;
    const rv = step.reveal;
    const scenario = rv.scenario || step.scenario;
    const compare = rv.compare ?? step.compare;
    const early = await this.earlyAnswer(rv, scenario, compare);
    if (seq !== this.seq) return;
    if (early) {
      // what the reveal reads was asked for while the question was read (traces, or a neuron
      // view): the answer first, read from it (the engine's numbers, as the page will show
      // them); the page loads it (a comparison builds its columns, a neuron view opens) after
      // the answer is painted
      if (early.neuron) this.neuron = early.neuron;
      this.answerReveal(step, rv, { ...this.context(step), ...early });
      this.panel.dataset.state = "loading"; // ready again once the page shows the reveal
      await nextFrame();
      if (seq !== this.seq) return;
      const ok = await this.show(scenario, rv.event, compare);
      if (seq !== this.seq) return;
      if (ok && rv.neuron) this.store.update({ neuron: rv.neuron });
      this.panel.dataset.state = ok ? "ready" : "failed";
      if (!ok) {
        this.view.say("failed");
        return;
      }
      this.applyHighlight(true);
      return;
    }
    if (!rv.neuron && this.onScreen(scenario, compare)) {
      // what the answer is read from is on the page already: the answer first, in this frame;
      // the page moves to the reveal's event and marks after it is painted
      this.answerReveal(step, rv);
      await nextFrame();
      if (seq !== this.seq) return;
      const ok = await this.show(scenario, rv.event, compare);
      if (seq !== this.seq) return;
      if (!ok) {
        this.view.say("failed");
        return;
      }
      this.applyHighlight(true);
      return;
    }
    this.panel.dataset.state = "loading";
    // a reveal that compares shows its set-ups side by side (and its readers read them)
    const ok = await this.show(scenario, rv.event, compare);
    if (seq !== this.seq) return;
    this.neuron = null;
    if (ok && rv.neuron) {
      this.store.update({ neuron: rv.neuron });
      this.neuron = await this.neuronView(scenario, rv.neuron.unit);
      if (seq !== this.seq) return;
    }
    if (!ok || (rv.neuron && !this.neuron)) {
      this.panel.dataset.state = "failed";
      this.view.say("failed");
      return;
    }
    this.answerReveal(step, rv);
    this.applyHighlight(true);
  }

  /**
   * What the reveal reads, asked for while the question is read: its traces when they are not
   * on the page (this.early resolves to them as the readers read them, {trace, training,
   * compare}, or null), or the neuron view it opens (this.earlyNeuron: {key, view}).
   */
  prefetchReveal(step) {
    this.early = null;
    this.earlyNeuron = null;
    const rv = step.reveal;
    if (!step.question || !rv) return;
    warmFormats(rv.values, this.lang());
    const scenario = rv.scenario || step.scenario;
    const compare = rv.compare ?? step.compare ?? null;
    if (!this.onScreen(scenario, compare)) {
      if (!rv.neuron) this.early = this.studio.prefetch(scenario, { compare });
      return;
    }
    const body = rv.neuron && this.neuronBody(scenario, rv.event, rv.neuron.unit);
    if (body) {
      const key = JSON.stringify(body);
      this.earlyNeuron = { key, view: api.neuron(body).catch(() => null) };
    }
  }

  /**
   * What a reveal reads that was asked for while its question was read (prefetchReveal), once
   * it is in: {trace, training, compare} or {neuron}; null when there is none (or it failed).
   */
  async earlyAnswer(rv, scenario, compare) {
    if (!rv.neuron) return this.onScreen(scenario, compare) ? null : this.early;
    const body = this.onScreen(scenario, compare)
      ? this.neuronBody(scenario, rv.event, rv.neuron.unit)
      : null;
    // (the notation may have changed the convention since: then it is asked for again)
    if (!body || this.earlyNeuron?.key !== JSON.stringify(body)) return null;
    const view = await this.earlyNeuron.view;
    return view ? { neuron: view } : null;
  }

  /** Whether the page shows this scenario (and comparison) already, its trace drawn. */
  onScreen(scenario, compare) {
    const state = this.store.get();
    return (
      Boolean(this.studio.trace) &&
      !document.body.dataset.loading &&
      JSON.stringify(state.scenario) === JSON.stringify(scenario) &&
      (state.compare ?? null) === (compare ?? null)
    );
  }

  /**
   * Read the answer from the engine's result (on the page, or `ctx`: the reveal's prefetched
   * traces) and show the verdict.
   */
  answerReveal(step, rv, ctx = this.context(step)) {
    this.unconceal();
    this.answer = read(step.question.reader, ctx);
    const correct = step.question.options.findIndex((o) =>
      "value" in o
        ? String(o.value) === String(this.answer)
        : this.answer >= o.min && this.answer <= o.max,
    );
    this.reveal = { correct, values: this.readValues(rv.values, step, ctx) };
    this.target = { event: rv.event, highlight: rv.highlight || [] };
    this.panel.dataset.state = "ready";
    this.view.renderReveal();
    this.panel.querySelector(".lesson-result")?.focus({ preventScroll: true });
  }

  /**
   * The neuron view of a unit at the current backward event, as the page's panel shows it (in
   * the sign of the notation's convention), or null on an API error.
   */
  async neuronView(scenario, unit) {
    return api.neuron(this.neuronRequest(scenario, this.studio.event, unit)).catch(() => null);
  }

  /** The neuron view's request of a unit at an event of the trace on the page. */
  neuronRequest(scenario, ev, unit) {
    const convention = this.store.get().notation === "haykin" ? "haykin" : "gradient";
    // a stack's unit is its layer's (the event's): the view asks for that layer
    const layer = ev.layer === undefined ? {} : { layer: ev.layer };
    return { ...requestOf(scenario), t: ev.t, unit, update: ev.update, convention, ...layer };
  }

  /** neuronRequest at a target event ({kind, t, update}) of the page's trace; null if none. */
  neuronBody(scenario, target, unit) {
    const index = this.studio.index;
    const i =
      index?.find(target.kind, target.t ?? null, target.update ?? null, target.layer ?? null) ?? -1;
    return i >= 0 ? this.neuronRequest(scenario, index.event(i), unit) : null;
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
      if (!this.menu.hidden) this.view.renderMenu();
    }
    if (this.current && changed.has("notation") && this.reveal && this.neuron) {
      // the revealed numbers of a neuron view follow the notation's sign, as its panel does
      const step = this.current.lesson.steps[this.current.index];
      const rv = step.reveal;
      const view = await this.neuronView(rv.scenario || step.scenario, rv.neuron.unit);
      if (view && this.reveal) {
        this.neuron = view;
        this.reveal.values = this.readValues(rv.values, step);
      }
    }
    if (this.current && (changed.has("lang") || changed.has("notation"))) {
      this.view.render({ focus: false });
      this.applyHighlight();
    }
  }

  onEvent(index) {
    if (!this.current || !this.target) return;
    // The page redraws its equation (and may rebuild views) on each event: restore our marks.
    if (
      this.studio.index?.find(
        this.target.event.kind,
        this.target.event.t ?? null,
        this.target.event.update ?? null,
      ) === index
    )
      this.applyHighlight();
  }
}
