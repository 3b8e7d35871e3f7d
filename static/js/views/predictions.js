// The predictions table under the loss curve: after training, the input, the target and the
// trained network's prediction at each step, and its greedy continuation. Series values are
// written in the series' own units (units.js). A series goes on past its end with the first
// values of the API's forecast, in columns of their own: what the network was fed there (the
// last value, then its own predictions: free running) against the true inputs of the fitted
// steps (teacher forcing). Where the hidden state is bounded and the series runs on past what
// was seen, one sentence says why the forecast levels off and offers the setting that does not.
import { cellChoosingActivation, cellModule } from "../cells/index.js";
import { FORECAST_COLUMNS } from "../util/config.js";
import { num } from "../text/format.js";
import { t as tr, tp } from "../text/i18n.js";
import { TraceIndex } from "../state/trace.js";
import { inSeriesUnits } from "../state/units.js";

/**
 * Why a network cannot continue a trend past the values it was trained on, or null when it
 * can: the key of the sentence that says so. Its output V h + b_y is bounded when h is: tanh
 * and the gated cells' h in (−1, 1), sigmoid's in (0, 1); ReLU's is not.
 */
export function boundedState(config) {
  if (cellModule(config.cell)?.choosesActivation) {
    return config.activation === "relu" ? null : `pred.bounded.${config.activation}`;
  }
  return "pred.bounded.gated";
}

/** True when a series ends at its largest or smallest value: what comes next lies outside. */
export function trendsOut(values) {
  const last = values.at(-1);
  return values.length > 1 && (last >= Math.max(...values) || last <= Math.min(...values));
}

const cellOf = (tag, text, cls = "") => {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  el.textContent = text;
  return el;
};

export class PredictionsView {
  constructor({ container, store = null }) {
    this.container = container;
    this.store = store; // the "use ReLU" offer writes the scenario
    this.index = null;
    this.training = null;
    this.passes = 0;
  }

  setTrace(index) {
    this.index = index;
  }

  /** A training result ({predictions, continuation, forecast}) and its passes, or null. */
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
    const scale = idx.trace.scale;
    // a series' forecast: its first values as columns after the fitted steps
    const next = scale && Array.isArray(training.forecast) ? training.forecast : [];
    const ahead = next.slice(0, FORECAST_COLUMNS);
    const table = document.createElement("table");
    table.className = "pred-table";
    // a series predicts values, text and words predict tokens
    table.appendChild(
      cellOf("caption", tp(scale ? "pred.captionSeries" : "pred.caption", this.passes)),
    );
    const shown = (v) => (typeof v === "number" ? num(v, 3) : TraceIndex.shown(v));
    const inputOf = (t) => inSeriesUnits(idx.tokens(t).x, scale);
    const targetOf = (t) => inSeriesUnits(idx.tokens(t).y, scale);
    if (ahead.length) table.appendChild(this.heads(idx.T, ahead.length));
    // inputs and targets come standardised; the API predicts in the series' units already
    const rows = [
      // past the end: the last value, then each forecast value fed back in
      ["pred.input", inputOf, (k) => (k === 0 ? targetOf(idx.T) : ahead[k - 1])],
      ["pred.target", targetOf, () => null],
      ["pred.predicted", (t) => training.predictions[t - 1], (k) => ahead[k]],
    ];
    for (const [key, get, after] of rows) {
      const line = document.createElement("tr");
      line.dataset.row = key.split(".")[1];
      const th = cellOf("th", tr(key));
      th.scope = "row";
      line.appendChild(th);
      for (let t = 1; t <= idx.T; t += 1) {
        const v = get(t);
        const td = cellOf("td", shown(v));
        td.dataset.raw = "";
        if (key === "pred.predicted" && String(v) === String(idx.tokens(t).y)) td.className = "hit";
        line.appendChild(td);
      }
      ahead.forEach((_, k) => {
        const v = after(k);
        // free running: an input that is the network's own previous prediction
        const fed = key === "pred.input" && k > 0;
        const td = cellOf("td", v === null ? "—" : shown(v), `ahead${fed ? " fed" : ""}`);
        td.dataset.raw = "";
        if (v !== null) td.dataset.value = String(v);
        if (fed) td.title = tr("pred.fedTitle", { t: idx.T + k });
        line.appendChild(td);
      });
      table.appendChild(line);
    }
    box.appendChild(table);
    if (ahead.length) this.forecastNotes(box, idx, ahead, [inputOf(1), ...range(idx.T, targetOf)]);
    if (training.continuation) {
      const p = document.createElement("p");
      const text = cellOf("code", training.continuation);
      text.dataset.raw = "";
      p.append(cellOf("span", tr("pred.continuation")), " ", text);
      box.appendChild(p);
    }
  }

  /** The step numbers, under the two kinds of feeding: the true values, then its own. */
  heads(T, ahead) {
    const head = document.createElement("thead");
    const kinds = document.createElement("tr");
    kinds.appendChild(document.createElement("td"));
    const fitted = cellOf("th", tr("pred.teacherForcing"), "kind");
    fitted.colSpan = T;
    fitted.scope = "colgroup";
    const free = cellOf("th", tr("pred.freeRunning"), "kind ahead");
    free.colSpan = ahead;
    free.scope = "colgroup";
    kinds.append(fitted, free);
    const steps = document.createElement("tr");
    steps.appendChild(cellOf("th", tr("pred.step")));
    for (let t = 1; t <= T + ahead; t += 1) {
      const th = cellOf("th", String(t), t > T ? "step ahead" : "step");
      th.scope = "col";
      steps.appendChild(th);
    }
    head.append(kinds, steps);
    return head;
  }

  /** What the forecast columns are, and why a bounded network's forecast levels off. */
  forecastNotes(box, idx, ahead, series) {
    const fed = cellOf(
      "p",
      tr("pred.forecastFed", {
        T: idx.T,
        first: idx.T + 1,
        last: num(series.at(-1), 3),
        values: ahead.map((v) => num(v, 3)).join(", "),
      }),
      "pred-note",
    );
    fed.id = "pred-forecast-note";
    box.appendChild(fed);
    const config = idx.trace.config || {};
    const why = boundedState(config);
    if (!why || !trendsOut(series)) return;
    const note = cellOf(
      "p",
      tr(why, { cell: tr(`ctl.cell.${config.cell}`) }),
      "pred-note pred-bounded",
    );
    note.id = "pred-bounded";
    if (this.store) {
      const offer = cellOf("button", tr("pred.useRelu"), "btn link");
      offer.type = "button";
      offer.id = "btn-use-relu";
      offer.addEventListener("click", () => {
        const scenario = structuredClone(this.store.get().scenario);
        const cell = cellChoosingActivation();
        this.store.update({ scenario: { ...scenario, cell, activation: "relu" } });
      });
      note.append(" ", offer);
    }
    box.appendChild(note);
  }
}

/** [f(1), …, f(n)]. */
function range(n, f) {
  return Array.from({ length: n }, (_, k) => f(k + 1));
}
