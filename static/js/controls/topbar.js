// The top bar: language, notation, the comparison (one set-up, or set-ups side by side: the
// URL keeps it as compare=cell, loss_at or truncation) and the projector view (large type, the
// controls folded away behind a button; the URL keeps it as view=projector). In one column (a
// phone) the same Settings button brings the controls up from the foot of the page. It writes the
// store and shows the store; the page's attributes it sets (data-lang, data-notation,
// data-view) are what the CSS and the tests read. The page's static texts that name a symbol
// (marked data-i18n-symbols: the legend's "click h", Haykin's x, Coursera's a) follow the
// notation.
import { t } from "../text/i18n.js";
import { symbolArgs } from "../text/notation.js";

export class TopBar {
  constructor({ store, lang, notation, compare, projector, controlsToggle, bughunt }) {
    this.store = store;
    this.bughunt = bughunt;
    this.lang = lang;
    this.notation = notation;
    this.compare = compare;
    this.projector = projector;
    this.controlsToggle = controlsToggle;
    lang.addEventListener("change", () => store.update({ lang: lang.value }));
    notation.addEventListener("change", () => store.update({ notation: notation.value }));
    compare.addEventListener("change", () => store.update({ compare: compare.value || null }));
    projector.addEventListener("click", () => {
      store.update({ view: store.get().view === "projector" ? null : "projector" });
    });
    controlsToggle.addEventListener("click", () => this.toggleControls());
    // one column (a phone, a narrow window): the settings come after the studio, far down the
    // page; the Settings button brings them up under the top bar
    this.narrow = window.matchMedia("(max-width: 1000px)");
    this.narrow.addEventListener("change", () => this.sync(store.get()));
  }

  /** Settings: open (under the top bar, the first field focused) or fold them away again. */
  toggleControls() {
    const open = !this.controlsOpen();
    this.foldControls(open);
    if (!open) return;
    const controls = document.getElementById("controls");
    // under the top bar: in view from the top of the page (the button stays in view to close)
    const top = controls.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight * 0.5) controls.scrollIntoView({ block: "start" });
    controls.querySelector("select, input, button")?.focus({ preventScroll: true });
  }

  controlsOpen() {
    return document.body.dataset.controls === "open";
  }

  /** Projector view: show (false) or fold away (true) the scenario controls. */
  foldControls(open) {
    if (open) document.body.dataset.controls = "open";
    else delete document.body.dataset.controls;
    this.controlsToggle.setAttribute("aria-expanded", String(open));
  }

  sync(state) {
    const body = document.body;
    this.lang.value = state.lang;
    this.notation.value = state.notation;
    this.compare.value = state.compare || "";
    // a stack of layers: the API plants a bug in one layer's pass only (it refuses
    // num_layers > 1), so the hunt is not offered (the note under the layers says why)
    const stacked = (state.scenario?.num_layers ?? 1) > 1;
    if (this.bughunt) this.bughunt.hidden = stacked;
    const bugOption = this.compare.querySelector('option[value="bug"]');
    if (bugOption) bugOption.disabled = stacked;
    body.dataset.lang = state.lang;
    body.dataset.notation = state.notation;
    const projector = state.view === "projector";
    // on the root too: the page's sizes are in rem
    for (const el of [body, document.documentElement]) {
      if (projector) el.dataset.view = "projector";
      else delete el.dataset.view;
    }
    writeSymbols(document, state.notation);
    this.projector.setAttribute("aria-pressed", String(projector));
    this.controlsToggle.hidden = !(projector || this.narrow.matches);
    if (this.wasProjector && !projector) this.foldControls(false);
    this.wasProjector = projector;
  }
}

/** The texts under root marked data-i18n-symbols, with the notation's symbols in them. */
export function writeSymbols(root, notation) {
  const args = symbolArgs(notation);
  for (const el of root.querySelectorAll("[data-i18n-symbols]")) {
    el.dataset.i18nArgs = JSON.stringify(args);
    el.textContent = t(el.dataset.i18n, args);
  }
}
