// "The network writes": after a character (or word) model is trained, the text it samples
// (POST /api/v1/sample: prime, length, temperature, seed), each token with its probability and
// its top alternatives on hover or focus; the perplexity of the training text beside the loss;
// and teacher forcing against free running over the training text, with the step where they
// part. Every number is the API's; the page lays them out.
import { api, ApiError } from "../state/api.js";
import { el } from "../util/dom.js";
import { num } from "../text/format.js";
import { setLanguage, t as tr } from "../text/i18n.js";
import { requestOf } from "../state/state.js";
import { TraceIndex } from "../state/trace.js";

const DEFAULTS = { length: 100, temperature: 1, seed: 0 };

export class SamplingView {
  constructor({ studio, store, container }) {
    this.studio = studio;
    this.store = store;
    this.box = container;
    this.result = null;
    this.seq = 0;
    this.vocab = null; // the vocabulary the prime was written for
    this.build();
    // its labels at once, in the page's language: the first text comes with the first answer
    // of /sample, and a section with empty labels meanwhile is one no screen reader can name
    setLanguage(store.get().lang).then(() => this.draw());
    studio.addEventListener("trace", () => this.onTrace());
    store.addEventListener("change", (e) => {
      // the store changes before the new catalogue has loaded: wait for it (loaded once)
      if (e.detail.changed.has("lang")) setLanguage(store.get().lang).then(() => this.draw());
    });
  }

  field(parent, id, type, attrs) {
    const wrap = el("label", "field sample-field", parent);
    const label = el("span", "", wrap);
    const input = el("input", "", wrap);
    input.id = id;
    input.type = type;
    Object.assign(input, attrs);
    return { label, input };
  }

  build() {
    const box = this.box;
    this.title = el("h3", "sample-title", box);
    this.title.id = "sample-title";
    box.setAttribute("aria-labelledby", "sample-title");
    this.batchNote = el("p", "hint sample-batch", box);
    this.batchNote.id = "sample-batch";
    this.perplexity = el("p", "sample-perplexity", box);
    this.perplexity.id = "sample-perplexity";
    const form = el("form", "sample-form", box);
    form.noValidate = true;
    this.inputs = {
      prime: this.field(form, "sample-prime", "text", { maxLength: 500, spellcheck: false }),
      length: this.field(form, "sample-length", "number", { min: 1, max: 500, step: 1 }),
      temperature: this.field(form, "sample-temperature", "number", {
        min: 0.01,
        max: 100,
        step: 0.1,
      }),
      seed: this.field(form, "sample-seed", "number", { min: 0, step: 1 }),
    };
    this.inputs.length.input.value = String(DEFAULTS.length);
    this.inputs.temperature.input.value = String(DEFAULTS.temperature);
    this.inputs.seed.input.value = String(DEFAULTS.seed);
    this.write = el("button", "btn", form);
    this.write.type = "submit";
    this.write.id = "sample-write";
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.ask();
    });
    this.error = el("p", "field-error", box);
    this.error.setAttribute("role", "alert");
    this.error.hidden = true;
    this.textTitle = el("p", "sample-label", box);
    this.text = el("p", "sample-text", box);
    this.text.id = "sample-text";
    this.text.dataset.raw = ""; // the network's own characters: data, never a catalogue's text
    this.popup = el("div", "sample-popup", box);
    this.popup.id = "sample-popup";
    this.popup.setAttribute("role", "tooltip");
    this.popup.hidden = true;
    this.forcingTitle = el("h4", "sample-forcing-title", box);
    this.forcingNote = el("p", "hint sample-forcing-note", box);
    const scroll = el("div", "sample-forcing-scroll", box);
    this.forcing = el("table", "sample-forcing", scroll);
    this.forcing.id = "sample-forcing";
  }

  /** A trained text model on screen: write with the last settings; anything else: hide. */
  onTrace() {
    const { scenario } = this.store.get();
    const trace = this.studio.trace;
    const textModel = trace?.vocab && trace.config?.loss === "cross_entropy" && !scenario.bug;
    this.box.hidden = !textModel || this.studio.comparing;
    if (this.box.hidden) return;
    if (trace.sizes?.n) {
      // POST /sample writes after one sequence (a 422 for a mini-batch): say so, never ask
      ++this.seq;
      this.result = null;
      this.box.dataset.state = "batch";
      this.draw();
      return;
    }
    // another vocabulary: the prime written for the last one may not be in it
    const vocab = JSON.stringify(trace.vocab);
    if (vocab !== this.vocab) {
      this.vocab = vocab;
      this.inputs.prime.input.value = this.firstToken(trace);
    }
    this.ask();
  }

  firstToken(trace) {
    return TraceIndex.shown(trace.vocab[trace.inputs[0].indexOf(1)] ?? trace.vocab[0]);
  }

  async ask() {
    const seq = ++this.seq;
    const { scenario } = this.store.get();
    const body = {
      ...requestOf(scenario),
      iterations: scenario.train || 0,
      prime: this.inputs.prime.input.value,
      length: Number(this.inputs.length.input.value),
      temperature: Number(this.inputs.temperature.input.value),
      sample_seed: Number(this.inputs.seed.input.value),
    };
    this.write.disabled = true;
    this.box.dataset.state = "running";
    try {
      const result = await api.sample(body);
      if (seq !== this.seq) return;
      this.result = result;
      this.error.hidden = true;
      this.box.dataset.state = "ready";
    } catch (err) {
      if (seq !== this.seq) return;
      this.box.dataset.state = "failed";
      this.error.hidden = false;
      const field = err instanceof ApiError ? err.fields[0] : null;
      this.error.textContent = field ? `${field.path}: ${field.msg}` : tr("error.unexpected");
    } finally {
      if (seq === this.seq) this.write.disabled = false;
    }
    this.draw();
  }

  draw() {
    this.title.textContent = tr("sample.title");
    this.inputs.prime.label.textContent = tr("sample.prime");
    this.inputs.length.label.textContent = tr("sample.length");
    this.inputs.temperature.label.textContent = tr("sample.temperature");
    this.inputs.seed.label.textContent = tr("sample.seed");
    this.write.textContent = tr("sample.write");
    this.forcingTitle.textContent = tr("sample.forcing.title");
    this.batchNote.textContent = tr("batch.sample");
    const r = this.result;
    const trained = Boolean(this.store.get().scenario.train);
    this.textTitle.textContent = tr(trained ? "sample.text" : "sample.untrained", {
      n: r?.iterations ?? 0,
      T: r ? num(r.temperature, 3) : "",
    });
    if (!r) return;
    this.perplexity.textContent = tr("sample.perplexity", {
      ppl: num(r.perplexity, 4),
      loss: num(r.mean_loss, 4),
    });
    this.drawText(r);
    this.drawForcing(r);
  }

  drawText(r) {
    const joiner = r.joiner;
    this.text.replaceChildren();
    el("span", "sample-prime", this.text, r.prime + joiner);
    r.steps.forEach((step, k) => {
      const span = el("span", "sample-token", this.text, TraceIndex.shown(step.token) + joiner);
      span.tabIndex = 0;
      span.dataset.step = String(k + 1);
      // how sure the network was: the more probable, the darker
      span.style.setProperty("--p", String(step.p));
      span.setAttribute(
        "aria-label",
        tr("sample.tokenAria", {
          token: TraceIndex.shown(step.token),
          p: num(step.p, 3),
        }),
      );
      const show = () => this.showPopup(span, step, k + 1);
      span.addEventListener("mouseenter", show);
      span.addEventListener("focus", show);
      span.addEventListener("mouseleave", () => this.hidePopup());
      span.addEventListener("blur", () => this.hidePopup());
    });
  }

  showPopup(span, step, k) {
    const p = this.popup;
    p.replaceChildren();
    el(
      "p",
      "sample-popup-head",
      p,
      tr("sample.popup", {
        k,
        token: TraceIndex.shown(step.token),
        p: num(step.p, 3),
      }),
    );
    const list = el("ol", "sample-top", p);
    for (const alt of step.top) {
      const li = el("li", alt.token === step.token ? "drawn" : "", list);
      el("code", "", li, TraceIndex.shown(alt.token));
      el("span", "", li, ` ${num(alt.p, 3)}`);
    }
    p.hidden = false;
    const box = this.box.getBoundingClientRect();
    const at = span.getBoundingClientRect();
    const left = Math.min(at.left - box.left, box.width - p.offsetWidth - 4);
    p.style.left = `${Math.max(0, left)}px`;
    p.style.top = `${at.bottom - box.top + 4}px`;
  }

  hidePopup() {
    this.popup.hidden = true;
  }

  drawForcing(r) {
    const f = r.teacher_forcing;
    const free = r.free_running;
    this.forcingNote.textContent =
      r.parts_at === null
        ? tr("sample.forcing.same", { T: f.targets.length })
        : tr("sample.forcing.parts", { t: r.parts_at });
    const rows = [
      ["sample.forcing.input", f.inputs, null],
      ["sample.forcing.target", f.targets, null],
      ["sample.forcing.predicted", f.predicted, f.p_target],
      ["sample.forcing.free", free.tokens, free.p],
    ];
    this.forcing.replaceChildren();
    const cap = el("caption", "visually-hidden", this.forcing, tr("sample.forcing.title"));
    cap.id = "sample-forcing-caption";
    const head = el("tr", "", this.forcing);
    head.dataset.raw = ""; // the time symbol and its steps: the same in every language
    el("th", "", head, "t");
    f.targets.forEach((_, k) => {
      const th = el("th", "", head, String(k + 1));
      th.scope = "col";
    });
    for (const [key, tokens, probs] of rows) {
      const tr1 = el("tr", "", this.forcing);
      const th = el("th", "", tr1, tr(key));
      th.scope = "row";
      tokens.forEach((token, k) => {
        const td = el("td", "", tr1, TraceIndex.shown(token));
        td.dataset.raw = ""; // a token of the data
        if (probs) {
          const which =
            key === "sample.forcing.free" ? "sample.forcing.pDrawn" : "sample.forcing.pTarget";
          td.title = tr(which, { p: num(probs[k], 3) });
        }
        if (key === "sample.forcing.free" && r.parts_at === k + 1) td.className = "parts";
        if (
          key !== "sample.forcing.input" &&
          key !== "sample.forcing.target" &&
          token === f.targets[k]
        )
          td.classList.add("hit");
      });
    }
  }
}

export function attach(options) {
  return new SamplingView(options);
}
