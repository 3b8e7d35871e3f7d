// "Find the bug": a mistake of the catalogue (GET /api/v1/bugs) planted in the backward pass of
// the scenario's `bug`, the true pass beside it in the compare view (compare=bug), and a guided
// hunt. The student chooses the parameter whose gradient is wrong (the gradient check's badges
// say which fail), then the step, then the line of the backward equations where the numbers
// first part; the engine's trace says where they do (bug.parting), so the page only compares
// the choice with it. The bug's name stays hidden until it is found or revealed; a link holds
// it opaquely (bugtoken.js), so a teacher's link sets the bug without naming it.
import { api, ApiError } from "../state/api.js";
import { el } from "../util/dom.js";
import { num } from "../text/format.js";
import { language, t as tr } from "../text/i18n.js";
import { requestOf } from "../state/state.js";

const STAGES = ["param", "step", "line"];

export class BugHunt {
  /** studio: the Studio (its traces and events); container: the hunt's section. */
  constructor({ studio, store, container }) {
    this.studio = studio;
    this.store = store;
    this.box = container;
    this.catalogue = null; // {lang, lines, bugs} in the page's language
    this.parting = null; // where the bugged pass parts from the true one (the engine's)
    this.trace = null; // the bugged trace
    this.stage = "param";
    this.revealed = false;
    this.checkSeq = 0;
    this.build();
    store.addEventListener("change", (e) => this.onChange(e.detail.changed));
    studio.addEventListener("trace", () => this.onTrace());
  }

  build() {
    const box = this.box;
    box.replaceChildren();
    const head = el("div", "hunt-head", box);
    this.title = el("h2", "hunt-title", head);
    this.title.id = "hunt-title";
    box.setAttribute("aria-labelledby", "hunt-title");
    this.intro = el("p", "hunt-intro", box);
    this.badgeTitle = el("p", "hunt-badges-title", box);
    this.badges = el("ul", "hunt-badges", box);
    this.badges.id = "hunt-badges";
    const steps = el("ol", "hunt-steps", box);
    this.steps = {};
    for (const stage of STAGES) {
      const li = el("li", "hunt-step", steps);
      li.dataset.stage = stage;
      const question = el("p", "hunt-question", li);
      const choices = el("div", "hunt-choices", li);
      choices.setAttribute("role", "group");
      const feedback = el("p", "hunt-feedback", li);
      feedback.setAttribute("role", "status");
      this.steps[stage] = { li, question, choices, feedback };
    }
    this.found = el("div", "hunt-found", box);
    this.found.id = "hunt-found";
    this.found.hidden = true;
    const actions = el("div", "hunt-actions", box);
    this.revealBtn = el("button", "btn", actions);
    this.revealBtn.id = "hunt-reveal";
    this.anotherBtn = el("button", "btn", actions);
    this.anotherBtn.id = "hunt-another";
    this.linkBtn = el("button", "btn", actions);
    this.linkBtn.id = "hunt-link";
    this.leaveBtn = el("button", "btn", actions);
    this.leaveBtn.id = "hunt-leave";
    for (const b of [this.revealBtn, this.anotherBtn, this.linkBtn, this.leaveBtn]) {
      b.type = "button";
    }
    this.linkStatus = el("p", "hint hunt-link-status", box);
    this.linkStatus.setAttribute("role", "status");
    this.linkField = el("input", "share-url hunt-link-url", box);
    this.linkField.readOnly = true;
    this.linkField.hidden = true;
    const teacher = el("details", "hunt-teacher", box);
    this.teacherSummary = el("summary", "", teacher);
    const label = el("label", "field", teacher);
    this.teacherLabel = el("span", "", label);
    this.teacherSelect = el("select", "", label);
    this.teacherSelect.id = "hunt-choose";
    this.revealBtn.addEventListener("click", () => this.reveal());
    this.anotherBtn.addEventListener("click", () => this.start());
    this.linkBtn.addEventListener("click", () => this.copyLink());
    this.leaveBtn.addEventListener("click", () => this.leave());
    this.teacherSelect.addEventListener("change", () => {
      if (this.teacherSelect.value) this.start(this.teacherSelect.value);
    });
  }

  /** The catalogue in the page's language (asked again when the language changes). */
  async loadCatalogue() {
    const lang = language();
    if (this.catalogue?.lang !== lang) this.catalogue = await api.bugs(lang);
    return this.catalogue;
  }

  async onChange(changed) {
    const { scenario, compare } = this.store.get();
    if (changed.has("lang") && !this.box.hidden) {
      await this.loadCatalogue();
      this.draw();
    }
    if (changed.has("compare") && compare === "bug" && !scenario.bug) this.start();
  }

  /** Plant a bug (the given id, or one chosen at random) on its own scenario, side by side. */
  async start(id = null) {
    const { bugs } = await this.loadCatalogue();
    const current = this.store.get().scenario.bug;
    const others = bugs.filter((b) => b.id !== current);
    const bug = bugs.find((b) => b.id === id) ?? others[Math.floor(Math.random() * others.length)];
    this.store.update({ scenario: { ...bug.scenario, bug: bug.id }, compare: "bug", event: 0 });
  }

  leave() {
    const { bug, ...scenario } = this.store.get().scenario;
    this.store.update({ scenario, compare: null });
  }

  /** A new trace on screen: with a bug planted, a new hunt on its numbers. */
  async onTrace() {
    const { scenario, compare } = this.store.get();
    if (compare === "bug" && !scenario.bug) {
      this.start(); // a link or the chooser asked for the comparison without a bug: plant one
      return;
    }
    const trace = this.studio.comparing ? this.studio.compare.traceOf("bugged") : this.studio.trace;
    if (!scenario.bug || !trace?.bug) {
      this.box.hidden = true;
      delete document.body.dataset.hunt;
      return;
    }
    const fresh = trace !== this.trace;
    this.trace = trace;
    this.parting = trace.bug.parting;
    this.box.hidden = false;
    document.body.dataset.hunt = "on";
    await this.loadCatalogue();
    if (fresh) {
      this.stage = "param";
      this.revealed = false;
      this.checks = null;
      this.answers = {};
      this.runCheck(scenario);
    }
    this.draw();
  }

  /** The gradient check of the bugged pass: the badges. */
  async runCheck(scenario) {
    const seq = ++this.checkSeq;
    this.checks = "running";
    this.drawBadges();
    try {
      const result = await api.gradcheck(requestOf(scenario));
      if (seq !== this.checkSeq) return;
      this.checks = result;
    } catch (err) {
      if (seq !== this.checkSeq) return;
      if (!(err instanceof ApiError)) console.warn(err);
      this.checks = "failed";
    }
    this.drawBadges();
  }

  bug() {
    return this.catalogue?.bugs.find((b) => b.id === this.trace?.bug?.id) ?? null;
  }

  cell() {
    return this.trace.config.cell;
  }

  draw() {
    if (!this.trace || !this.catalogue) return;
    this.title.textContent = tr("hunt.title");
    // a bug that changes no number of this scenario (one loss per window, say) cannot be hunted
    const parts = this.parting.line !== null;
    this.intro.textContent = tr(parts ? "hunt.intro" : "hunt.never");
    for (const s of Object.values(this.steps)) s.li.hidden = !parts;
    this.badgeTitle.textContent = tr("hunt.badges");
    this.revealBtn.textContent = tr("hunt.reveal");
    this.anotherBtn.textContent = tr("hunt.another");
    this.linkBtn.textContent = tr("hunt.link");
    this.leaveBtn.textContent = tr("hunt.leave");
    this.teacherSummary.textContent = tr("hunt.teacher");
    this.teacherLabel.textContent = tr("hunt.teacher.choose");
    this.teacherSelect.replaceChildren(el("option", "", null, tr("hunt.teacher.placeholder")));
    this.teacherSelect.firstChild.value = "";
    for (const b of this.catalogue.bugs) {
      const o = el("option", "", this.teacherSelect, `${b.title} (${b.cells.join(", ")})`);
      o.value = b.id;
    }
    this.drawBadges();
    this.drawStages();
    this.drawFound();
  }

  drawBadges() {
    this.badges.replaceChildren();
    const names = Object.keys(this.trace?.cell_spec?.params ?? {});
    const result = this.checks && typeof this.checks === "object" ? this.checks : null;
    this.badges.dataset.state = result ? (result.ok ? "ok" : "bad") : String(this.checks);
    for (const name of names) {
      const err = result?.max_rel_error?.[name];
      const bad = result ? err === null || err >= result.tolerance : null;
      const li = el("li", "hunt-badge", this.badges);
      li.dataset.param = name;
      li.dataset.state = bad === null ? "pending" : bad ? "bad" : "ok";
      el("span", "hunt-badge-mark", li, bad === null ? "…" : bad ? "✗" : "✓");
      el("span", "hunt-badge-name", li, name);
      if (result) el("span", "hunt-badge-err", li, err === null ? "—" : num(err, 2));
    }
    if (this.checks === "running") {
      el("li", "hunt-badge-note hint", this.badges, tr("check.running"));
    }
  }

  /** Each stage's question and choices; a stage opens once the one before is answered. */
  drawStages() {
    const open = STAGES.indexOf(this.stage);
    STAGES.forEach((stage, k) => {
      const s = this.steps[stage];
      s.li.dataset.state = this.revealed || k < open ? "done" : k === open ? "open" : "locked";
      s.question.textContent = tr(`hunt.q.${stage}`);
      s.choices.setAttribute("aria-label", tr(`hunt.q.${stage}`));
      s.choices.replaceChildren();
      for (const choice of this.choices(stage)) {
        const b = el("button", "btn hunt-choice", s.choices, choice.label);
        b.type = "button";
        b.dataset.value = String(choice.value);
        if (choice.title) b.title = choice.title;
        b.disabled = k > open || this.revealed || (k < open && !choice.right);
        if (k < open && choice.right) b.classList.add("right");
        b.addEventListener("click", () => this.choose(stage, choice));
      }
      if (k > open && !this.revealed) s.feedback.textContent = "";
    });
  }

  /** The choices of a stage: [{value, label, right}]; right as the engine's parting says. */
  choices(stage) {
    const p = this.parting;
    if (stage === "param") {
      return Object.keys(this.trace.cell_spec.params).map((name) => ({
        value: name,
        label: name,
        right: p.params.includes(name),
      }));
    }
    if (stage === "step") {
      const w = this.trace.windows[p.update ?? 0];
      const steps = [];
      for (let t = w.last; t >= w.first; t -= 1) {
        steps.push({ value: t, label: tr("hunt.step", { t }), right: t === p.t });
      }
      return steps;
    }
    const lines = this.catalogue.lines[this.cell()] ?? {};
    return Object.entries(lines).map(([line, equation]) => ({
      value: line,
      label: equation,
      right: line === p.line,
    }));
  }

  choose(stage, choice) {
    const s = this.steps[stage];
    const p = this.parting;
    s.li.querySelectorAll(".hunt-choice").forEach((b) => {
      b.classList.toggle("wrong", b.dataset.value === String(choice.value) && !choice.right);
    });
    if (stage === "step") this.showStep(choice.value);
    if (!choice.right) {
      s.feedback.dataset.state = "wrong";
      s.feedback.textContent = this.hint(stage, choice.value);
      return;
    }
    s.feedback.dataset.state = "right";
    s.feedback.textContent = tr(`hunt.right.${stage}`, { name: choice.value, t: p.t });
    this.answers[stage] = choice.value;
    const next = STAGES[STAGES.indexOf(stage) + 1];
    if (next) this.stage = next;
    else {
      this.stage = "found";
      document.body.dataset.hunt = "found";
    }
    this.drawStages();
    this.drawFound();
  }

  /** What a wrong choice tells the student, from where the numbers part. */
  hint(stage, value) {
    const p = this.parting;
    if (stage === "param") return tr("hunt.wrong.param", { name: value });
    if (stage === "step") {
      // the backward pass runs from the window's last step down: a larger t comes earlier
      return tr(value > p.t ? "hunt.wrong.stepLater" : "hunt.wrong.stepEarlier", { t: value });
    }
    const order = Object.keys(this.catalogue.lines[this.cell()]);
    return tr(
      order.indexOf(value) < order.indexOf(p.line)
        ? "hunt.wrong.lineBefore"
        : "hunt.wrong.lineAfter",
      { t: p.t },
    );
  }

  /** Move the timeline to the backward event of step t in the window where they part. */
  showStep(t) {
    const idx = this.studio.index;
    const update = this.parting.update ?? 0;
    const i = idx?.events.findIndex(
      (e) => e.kind === "backward" && e.t === t && (e.update ?? 0) === update,
    );
    if (i !== undefined && i >= 0) this.store.update({ event: i });
  }

  reveal() {
    this.revealed = true;
    document.body.dataset.hunt = "revealed";
    this.drawStages();
    this.drawFound();
  }

  drawFound() {
    const bug = this.bug();
    const done = this.stage === "found" || this.revealed;
    this.found.hidden = !done || !bug;
    this.revealBtn.hidden = done;
    if (this.found.hidden) return;
    this.found.replaceChildren();
    this.found.dataset.state = this.stage === "found" ? "found" : "revealed";
    el(
      "p",
      "hunt-verdict",
      this.found,
      tr(this.stage === "found" ? "hunt.found" : "hunt.revealed"),
    );
    el("h3", "hunt-bug-title", this.found, bug.title);
    el("p", "hunt-bug-summary", this.found, bug.summary);
    const line = bug.lines[this.cell()];
    const table = el("dl", "hunt-lines", this.found);
    el("dt", "", table, tr("hunt.correct"));
    el("dd", "hunt-line-correct", table, line.correct);
    el("dt", "", table, tr("hunt.bugged"));
    el("dd", "hunt-line-bugged", table, line.bugged);
    el("p", "hint hunt-source", this.found, tr("hunt.source", { source: bug.source_text }));
    const p = this.parting;
    el("p", "hint", this.found, tr("hunt.where", { t: p.t, line: p.line }));
  }

  async copyLink() {
    await this.store.settled();
    this.store.writeUrl();
    const url = this.store.url();
    try {
      await navigator.clipboard.writeText(url);
      this.linkStatus.textContent = tr("hunt.linkCopied");
      this.linkField.hidden = true;
    } catch {
      this.linkField.hidden = false;
      this.linkField.value = url;
      this.linkField.select();
      this.linkStatus.textContent = tr("share.select");
    }
  }
}

export function attach(options) {
  return new BugHunt(options);
}
