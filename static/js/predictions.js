// The predictions table under the loss curve: after training, the input, the target and the
// trained network's prediction at each step, and its greedy continuation. Series values are
// written in the series' own units (units.js).
import { num } from "./format.js";
import { t as tr, tp } from "./i18n.js";
import { TraceIndex } from "./trace.js";
import { inSeriesUnits } from "./units.js";

export class PredictionsView {
  constructor({ container }) {
    this.container = container;
    this.index = null;
    this.training = null;
    this.passes = 0;
  }

  setTrace(index) {
    this.index = index;
  }

  /** A training result ({predictions, continuation}) and how many passes made it, or null. */
  setTraining(training, passes) {
    this.training = training;
    this.passes = passes;
  }

  setLanguage() {
    this.draw();
  }

  draw() {
    const box = this.container;
    const training = this.training;
    box.replaceChildren();
    if (!training || !Array.isArray(training.predictions) || !this.index) {
      box.hidden = true;
      return;
    }
    const idx = this.index;
    box.hidden = false;
    const table = document.createElement("table");
    table.className = "pred-table";
    const cap = document.createElement("caption");
    // a series predicts values, text and words predict tokens
    cap.textContent = tp(idx.trace.scale ? "pred.captionSeries" : "pred.caption", this.passes);
    table.appendChild(cap);
    const shown = (v) => (typeof v === "number" ? num(v, 3) : TraceIndex.shown(v));
    // inputs and targets come standardised; the API predicts in the series' units already
    const scale = idx.trace.scale;
    const rows = [
      ["pred.input", (t) => inSeriesUnits(idx.tokens(t).x, scale)],
      ["pred.target", (t) => inSeriesUnits(idx.tokens(t).y, scale)],
      ["pred.predicted", (t) => training.predictions[t - 1]],
    ];
    for (const [key, get] of rows) {
      const tr1 = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = tr(key);
      tr1.appendChild(th);
      for (let t = 1; t <= idx.T; t += 1) {
        const td = document.createElement("td");
        td.dataset.raw = "";
        const v = get(t);
        td.textContent = shown(v);
        if (key === "pred.predicted" && String(v) === String(idx.tokens(t).y)) td.className = "hit";
        tr1.appendChild(td);
      }
      table.appendChild(tr1);
    }
    box.appendChild(table);
    if (training.continuation) {
      const p = document.createElement("p");
      const label = document.createElement("span");
      label.textContent = tr("pred.continuation");
      const text = document.createElement("code");
      text.dataset.raw = "";
      text.textContent = training.continuation;
      p.append(label, " ", text);
      box.appendChild(p);
    }
  }
}
