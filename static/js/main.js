// Wires the studio page: state, views, controls and the public handle. Nothing else: each
// component gets its own container here and never looks up another's.
import { BatchView } from "./views/batch.js";
import { ChartsView } from "./views/charts.js";
import { loadCell } from "./cells/index.js";
import { applyCssVars } from "./util/config.js";
import { Controls } from "./controls/controls.js";
import { EquationView } from "./views/equation.js";
import { StudioHandle } from "./handle.js";
import { HeatmapsView } from "./views/heatmaps.js";
import { Highlighter } from "./views/highlight.js";
import { loadPart, t as tr } from "./text/i18n.js";
import { NetworkView } from "./views/network.js";
import { NeuronView } from "./views/neuron.js";
import { PredictionsView } from "./views/predictions.js";
import { SpectralView } from "./views/spectral.js";
import { fromUrl, Store } from "./state/state.js";
import { Studio } from "./studio.js";
import { Timeline } from "./views/timeline.js";
import { Tooltip } from "./views/tooltip.js";
import { TopBar } from "./controls/topbar.js";

applyCssVars();
const $ = (id) => document.getElementById(id);
const link = await fromUrl(window.location); // the query, and the numbers of the fragment
// the page modules of the cells the engine serves beyond the page's own (cells/index.js)
const served = [...document.querySelectorAll("#ctl-cell option")].map((o) => o.value);
await Promise.all([...served, link.state.scenario?.cell].filter(Boolean).map(loadCell));
const store = new Store(link.state);
const tooltip = new Tooltip({ container: document.body });
const termMarks = new Highlighter(); // the nodes an equation term stands for, while hovered
let studio = null;
// The editors of the student's own numbers, and the card that changes one weight where it is
// drawn (a click on an accumulator's entry or on a connection of the network): on first use.
const editors = () =>
  import("./controls/editors.js").then((m) => m.attach({ studio, store, container: $("editors") }));
let card = null;
const weightCard = () =>
  Promise.all([editors(), import("./views/weightcard.js")]).then(([ed, m]) => {
    card ??= new m.WeightCard({ editors: ed });
    return card;
  });
const views = {
  network: new NetworkView({ container: $("network"), tooltip }),
  equation: new EquationView({ container: $("equation"), onTerm: (ids) => termMarks.set(ids) }),
  heatmaps: new HeatmapsView({
    container: $("heatmaps"),
    tooltip,
    onPick: (entry) => weightCard().then((c) => c.openEntry(entry)),
  }),
  charts: new ChartsView({
    containers: {
      section: $("charts"),
      gradNorms: $("chart-grad-norms"),
      errorFlow: $("chart-error-flow"),
      accum: $("chart-accum"),
      loss: $("chart-loss"),
      flowMode: $("ctl-flow-mode"),
      flowLayer: $("ctl-flow-layer"),
      flowLayerBox: $("flow-layer-box"),
    },
  }),
  predictions: new PredictionsView({ container: $("predictions"), store }),
  spectral: new SpectralView({ container: $("rho-now") }),
  batch: new BatchView({ container: $("batch"), shares: $("batch-shares"), store }),
  // last: it marks the network's units, drawn just before it
  neuron: new NeuronView({ container: $("neuron"), store }),
};
views.network.addEventListener("pick-weights", (e) =>
  weightCard().then((c) => c.openEdge(e.detail)),
);
// the comparison's columns (compare=…), each with views of its own: loaded with the first one.
// A unit clicked in a column opens its neuron view: that set-up alone, at the same event.
const compare = () =>
  import("./views/compare.js").then(
    (m) =>
      new m.CompareView({
        container: $("compare-view"),
        tooltip,
        onUnit: ({ setup, unit }) => {
          store.update({ scenario: setup.scenario, compare: null, neuron: { unit } });
        },
      }),
  );
// the pointer (or the keyboard) on a unit: its neuron view is asked for before the click
views.network.addEventListener("unit-intent", (e) => views.neuron.prefetch(e.detail));
// a unit clicked (or Enter) on the network: its neuron view, at its step's backward event
views.network.addEventListener("unit", (e) => {
  store.update({ event: e.detail.event, neuron: { unit: e.detail.unit } });
});
const timeline = new Timeline({
  container: $("timeline"),
  onSeek: (i) => store.update({ event: i }),
});
const act = (name) => () => studio.act(name);
const controls = new Controls({
  store,
  container: $("controls"),
  onTrain: (n) => studio.train(n),
  onUntrain: () => studio.untrain(),
  onGradcheck: act("gradcheck"),
  onExportJson: act("exportJson"),
  onExportCsv: act("exportCsv"),
  onExportTraceCsv: act("exportTraceCsv"),
  onWorksheet: (variant) => studio.act("worksheet", variant),
  onEditors: () => editors().then((ed) => ed.open()),
  onExportTorch: act("exportTorch"),
  onShare: act("share"),
});
const topbar = new TopBar({
  store,
  lang: $("ctl-lang"),
  notation: $("ctl-notation"),
  compare: $("ctl-compare"),
  projector: $("btn-projector"),
  controlsToggle: $("btn-controls"),
  bughunt: $("btn-bughunt"),
});
studio = new Studio({
  store,
  views,
  controls,
  timeline,
  topbar,
  banner: $("status-exploded"),
  linkNote: $("status-link"),
  // a step leaves these alone while they are off screen (redrawn when they come near)
  placed: { equation: $("equation"), heatmaps: $("heatmaps"), charts: $("charts") },
  compare,
});

// "Find the bug" (bughunt.js) and "the network writes" (sampling.js): loaded at once, each
// drawing its own section when a trace calls for it (a planted bug; a trained text model).
const [{ attach: attachHunt }, { attach: attachSampling }] = await Promise.all([
  import("./bughunt/bughunt.js"),
  import("./views/sampling.js"),
]);
const hunt = attachHunt({ studio, store, container: $("bughunt") });
attachSampling({ studio, store, container: $("sampling") });
$("btn-bughunt").addEventListener("click", () => hunt.start());

// The public handle for guided lessons and tests (handle.js).
const handle = new StudioHandle({ studio, store });
window.bpttStudio = handle;

// Guided lessons load on demand (first click on Lessons, or a lesson link).
const lessons = () =>
  import("./lessons/lessons.js").then((m) =>
    m.attach({
      studio: handle,
      store,
      button: $("btn-lessons"),
      menu: $("lesson-menu"),
      panel: $("lesson-panel"),
    }),
  );
$("btn-lessons").addEventListener("click", () => lessons().then((l) => l.toggleMenu()));

// A class (classroom.js: a teacher's page leads, students' pages follow) loads on demand too:
// when the class button is used, or the URL names a room.
const classroom = () =>
  import("./classroom/classroom.js").then((m) =>
    m.attach({ store, studio: handle, lessons, button: $("btn-class"), panel: $("class-panel") }),
  );
$("btn-class").addEventListener("click", () => classroom().then((c) => c.toggle()));

// The article under the tool: its texts load when it comes near the view (observed once the
// first trace is drawn, so that the page has its full height).
function loadArticleWhenNear(article) {
  const seen = new IntersectionObserver(
    (entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        seen.disconnect();
        loadPart("article");
      }
    },
    { rootMargin: "300px 0px" },
  );
  seen.observe(article);
}

studio.start().then(() => {
  if (link.broken) controls.showSlot("general", tr("ed.link.broken"));
  loadArticleWhenNear($("article"));
  if (store.get().lesson) lessons().then((l) => l.start());
  if (store.get().room) classroom().then((c) => c.resume());
  $("studio").dataset.ready = "true";
});
