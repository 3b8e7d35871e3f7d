// The lesson panel: draws the current step of the runner (lessons.js) — its text, the
// predict-then-reveal question, the navigation. (A step that compares shows its set-ups side by
// side in the page's compare view, not here.) It reads the runner's state (this.r) and calls
// back its moves (go, leave, doReveal).
import { rich } from "./lesson-formula.js";

export const h = (tag, cls = "", text = null) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== null) node.textContent = text;
  return node;
};

export class LessonPanel {
  constructor(runner, panel) {
    this.r = runner;
    this.panel = panel;
    this.said = null; // the step's status, by its catalogue key ({key, args}), or null
    // the panel holds the step (redrawn) and a live region (kept) that announces each new step
    this.content = h("div", "lesson-content");
    this.live = h("p", "visually-hidden");
    this.live.setAttribute("aria-live", "polite");
    panel.replaceChildren(this.content, this.live);
  }

  /** Announce a new step to screen readers. */
  announce(text) {
    this.live.textContent = text;
  }

  /** The list of lessons in the Lessons menu. */
  renderMenu() {
    const texts = this.r.texts[this.r.lang()];
    const list = h("ol", "lesson-list");
    for (const lesson of this.r.defs.lessons) {
      const a = h("a");
      a.append(rich(texts.lessons[lesson.id].title, {}, this.r.ctx(lesson.steps[0])));
      const lang = this.r.lang() === "en" ? "" : `&lang=${this.r.lang()}`;
      a.href = `?lesson=${encodeURIComponent(lesson.id)}&step=1${lang}`;
      a.dataset.lesson = lesson.id;
      a.addEventListener("click", (e) => {
        e.preventDefault();
        this.r.toggleMenu(false);
        this.r.open(lesson.id, 1, { focus: true });
      });
      const li = h("li");
      li.append(a);
      list.append(li);
    }
    this.r.menu.replaceChildren(h("h2", "lesson-menu-title", this.r.ui("menu")), list);
    this.r.menu.setAttribute("aria-label", this.r.ui("menu"));
  }

  clear() {
    this.content.replaceChildren();
    this.live.textContent = "";
  }

  render({ focus }) {
    if (!this.r.current) return;
    const texts = this.r.texts[this.r.lang()] || this.r.texts.en;
    const { lesson, index } = this.r.current;
    const step = lesson.steps[index];
    const text = texts.lessons[lesson.id];
    const stepText = text.steps[index];
    const n = lesson.steps.length;
    const ctx = this.r.ctx(step);
    const p = this.panel;
    p.dataset.lesson = lesson.id;
    p.dataset.step = String(index + 1);
    p.dataset.lang = this.r.lang();
    p.setAttribute("aria-label", this.r.ui("panel"));

    const head = h("header", "lesson-head");
    const number = this.r.defs.lessons.indexOf(lesson) + 1;
    head.append(
      h(
        "p",
        "lesson-kicker",
        `${this.r.ui("lesson", { n: number })} · ${this.r.ui("stepOf", { i: index + 1, n })}`,
      ),
    );
    const title = h("h2", "lesson-title");
    title.append(rich(text.title, {}, this.r.ctx(lesson.steps[0])));
    title.tabIndex = -1;
    head.append(title);
    const dots = h("ol", "lesson-dots");
    dots.setAttribute("aria-hidden", "true");
    for (let k = 0; k < n; k += 1)
      dots.append(h("li", k === index ? "is-current" : k < index ? "is-done" : ""));
    head.append(dots);

    const body = h("div", "lesson-body");
    const para = h("p", "lesson-text");
    para.append(rich(stepText.text, this.r.values, ctx));
    body.append(para);
    if (step.question) body.append(this.renderQuestion(step, stepText, ctx));
    const status = h("p", "lesson-status");
    status.setAttribute("role", "status");
    if (this.panel.dataset.state === "loading") status.textContent = this.r.ui("loading");
    // what the step's status said is kept across a redraw (a language or notation change),
    // in the language of the redraw
    else if (this.said) status.textContent = this.r.ui(this.said.key, this.said.args);
    body.append(status);
    if (index === n - 1 && (!step.question || this.r.reveal))
      body.append(h("p", "lesson-done", this.r.ui("done")));

    const nav = h("nav", "lesson-nav");
    nav.setAttribute("aria-label", this.r.ui("panel"));
    const back = this.navButton("lesson-back", this.r.ui("back"), () => this.r.go(index - 1));
    back.disabled = index === 0;
    const next = this.navButton(
      "lesson-next",
      index === n - 1 ? this.r.ui("finish") : this.r.ui("next"),
      () => (index === n - 1 ? this.r.leave() : this.r.go(index + 1)),
    );
    next.classList.add("primary");
    nav.append(back, next);
    const tools = h("div", "lesson-tools");
    tools.append(
      this.navButton("lesson-leave", this.r.ui("leave"), () => this.r.leave(), "link"),
      this.navButton("lesson-link", this.r.ui("link"), () => this.copyLink(), "link"),
    );
    const linkBox = h("input", "lesson-link-box");
    linkBox.type = "text";
    linkBox.readOnly = true;
    linkBox.hidden = true;
    linkBox.setAttribute("aria-label", this.r.ui("link"));
    tools.append(linkBox);

    // keep the keyboard where it was across redraws (Next stays focused while stepping)
    const active = document.activeElement;
    let keep = null;
    if (active && this.content.contains(active)) {
      if (active.id) keep = `#${active.id}`;
      else if (active.matches(".lesson-option input"))
        keep = `.lesson-option input[value="${active.value}"]`;
      else if (active.matches(".lesson-title, .lesson-result")) keep = `.${active.classList[0]}`;
    }
    this.content.replaceChildren(head, body, nav, tools);
    const target = focus ? title : keep && this.content.querySelector(keep);
    if (target && !target.disabled) target.focus({ preventScroll: true });
    else if (keep) next.focus({ preventScroll: true });
  }

  /**
   * The step's question as revealed, in place: only its box changes (and the last step says it
   * is done), so that the verdict is drawn without laying out the step's text again.
   */
  renderReveal() {
    const box = this.content.querySelector(".lesson-question");
    if (!box || !this.r.current) {
      this.render({ focus: false });
      return;
    }
    const { lesson, index } = this.r.current;
    const step = lesson.steps[index];
    const texts = this.r.texts[this.r.lang()] || this.r.texts.en;
    const stepText = texts.lessons[lesson.id].steps[index];
    box.replaceWith(this.renderQuestion(step, stepText, this.r.ctx(step)));
    this.say(null);
    const status = this.content.querySelector(".lesson-status");
    if (index === lesson.steps.length - 1 && !this.content.querySelector(".lesson-done"))
      status?.after(h("p", "lesson-done", this.r.ui("done")));
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
    box.dataset.revealed = String(Boolean(this.r.reveal));
    const legend = h("legend");
    legend.append(h("span", "lesson-predict", this.r.ui("predict")), " ");
    legend.append(rich(stepText.question, this.r.values, ctx));
    box.append(legend);
    const name = `lq-${this.r.current.lesson.id}-${this.r.current.index}`;
    q.options.forEach((_o, k) => {
      const label = h("label", "lesson-option");
      const input = h("input");
      input.type = "radio";
      input.name = name;
      input.value = String(k);
      input.checked = this.r.chosen === k;
      input.disabled = Boolean(this.r.reveal);
      input.addEventListener("change", () => {
        this.r.chosen = k;
        this.say(null);
      });
      label.append(input, " ", rich(stepText.options[k], this.r.values, ctx));
      if (this.r.reveal) {
        if (k === this.r.reveal.correct) label.classList.add("is-correct");
        else if (k === this.r.chosen) label.classList.add("is-wrong");
      }
      box.append(label);
    });
    if (!this.r.reveal) {
      const label = this.r.revealLabel?.() ?? this.r.ui("reveal");
      const btn = this.navButton("lesson-reveal", label, () => this.r.doReveal());
      box.append(btn);
      return box;
    }
    const answerText = stepText.options[this.r.reveal.correct] ?? String(this.r.answer);
    const result = h("div", "lesson-result");
    result.tabIndex = -1;
    result.dataset.answer = String(this.r.answer);
    result.dataset.correct = String(this.r.reveal.correct);
    result.dataset.right = String(this.r.chosen === this.r.reveal.correct);
    const verdict = h(
      "p",
      `lesson-verdict ${this.r.chosen === this.r.reveal.correct ? "right" : "wrong"}`,
    );
    verdict.append(
      rich(
        this.r.chosen === this.r.reveal.correct
          ? this.r.ui("right")
          : this.r.ui("wrong", { answer: answerText }),
        {},
        ctx,
      ),
    );
    const explain = h("p", "lesson-reveal-text");
    explain.append(rich(stepText.reveal, { ...this.r.reveal.values, answer: answerText }, ctx));
    result.append(verdict, explain);
    box.append(result);
    return box;
  }

  /**
   * The step's status by its catalogue key (null: nothing to say), kept until the step changes,
   * so that a redraw of the panel says it again (it once cleared "choose an answer first" when
   * a language's texts finished loading after the click).
   */
  say(key, args = {}) {
    this.said = key ? { key, args } : null;
    this.renderStatus(key ? this.r.ui(key, args) : "");
  }

  renderStatus(text) {
    const status = this.panel.querySelector(".lesson-status");
    if (status) status.textContent = text;
  }

  async copyLink() {
    this.r.store.writeUrl();
    const url = this.r.store.url();
    const box = this.panel.querySelector(".lesson-link-box");
    box.value = url;
    box.hidden = false;
    try {
      await navigator.clipboard.writeText(url);
      this.say("linkCopied");
    } catch {
      box.select();
      this.say("linkSelect");
    }
  }
}
