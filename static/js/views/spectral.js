// ρ(W) of the weights in use, beside the spectral-radius field: the engine's spectral_radii of
// the parameter version the current event runs on (the initial weights, or those after an
// update), and at an update event the radius before and after it. The field sets ρ before the
// first step ("as drawn" when empty); this line says what it is at every step since. Nothing
// is computed here: the trace carries the radii when the page asks for them (source.js).
import { SPECTRAL_MAX_H } from "../util/config.js";
import { num, raw } from "../text/format.js";
import { t as tr } from "../text/i18n.js";
import { labelText, paramLabel, splitSign } from "../text/notation.js";

/** {name: ρ} of parameter version v: 0 the initial weights, u the weights after update u. */
function radiiOf(trace, version) {
  if (version === 0) return trace.spectral_radii;
  return trace.updates?.[version - 1]?.spectral_radii_after ?? null;
}

export class SpectralView {
  constructor({ container }) {
    this.container = container;
    this.index = null;
    this.eventIndex = 0;
    this.notation = "goodfellow";
  }

  setTrace(index) {
    this.index = index;
  }

  setEvent(i) {
    this.eventIndex = i;
  }

  setNotation(notation) {
    this.notation = notation;
  }

  setLanguage() {
    this.draw();
  }

  /** The version the event's weights are: its forward step's (an update: before, after). */
  versions(ev) {
    if (ev.kind === "update") return [ev.update, ev.update + 1];
    const fwd =
      ev.kind === "forward" ? ev : this.index.forward(ev.t, ev.layer ?? this.index.layers);
    return [fwd?.version ?? 0];
  }

  /** A matrix's name as the notation writes it, without the sign (ρ(−W) = ρ(W)). */
  nameOf(name) {
    const label = paramLabel(name, this.index.cell, this.notation);
    return labelText({ ...label, b: splitSign(label)[1] }, this.notation);
  }

  draw() {
    const box = this.container;
    const trace = this.index?.trace;
    if (!trace) {
      box.replaceChildren();
      return;
    }
    const ev = this.index.event(Math.min(this.eventIndex, this.index.events.length - 1));
    const versions = this.versions(ev);
    const radii = versions.map((v) => radiiOf(trace, v));
    if (!radii[0]) {
      box.dataset.state = "absent";
      box.replaceChildren(tr("rho.notComputed", { max: SPECTRAL_MAX_H }));
      return;
    }
    const when =
      ev.kind === "update"
        ? tr("rho.when.update", { u: ev.update + 1 })
        : versions[0] === 0
          ? tr("rho.when.initial")
          : tr("rho.when.version", { u: versions[0] });
    const items = Object.keys(radii[0]).map((name) => {
      const item = document.createElement("span");
      item.className = "rho-item";
      item.dataset.param = name;
      item.dataset.value = radii.map((r) => raw(r?.[name])).join(" ");
      item.textContent = `ρ(${this.nameOf(name)}) = ${radii.map((r) => num(r?.[name], 4)).join(" → ")}`;
      return item;
    });
    box.dataset.state = "shown";
    box.dataset.versions = versions.join(" ");
    // names and numbers, not words: the catalogue has them all in rho.inUse
    const list = document.createElement("span");
    list.dataset.raw = "";
    list.append(...items.flatMap((item, k) => (k ? [", ", item] : [item])));
    box.replaceChildren(tr("rho.inUse", { when }), " ", list);
  }
}
