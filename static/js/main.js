// Wires the studio page: state, views, controls and the public handle. Nothing else.
import { applyCssVars } from "./config.js";
import { ChartsView } from "./charts.js";
import { Controls } from "./controls.js";
import { EquationView } from "./equation.js";
import { HeatmapsView } from "./heatmaps.js";
import { NetworkView } from "./network.js";
import { fromQuery, Store } from "./state.js";
import { Studio } from "./studio.js";
import { Timeline } from "./timeline.js";
import { Tooltip } from "./tooltip.js";

applyCssVars();
const $ = (id) => document.getElementById(id);
const store = new Store(fromQuery(window.location.search));
const tooltip = new Tooltip({ container: document.body });
const network = new NetworkView({ container: $("network"), tooltip });
const equation = new EquationView({
  container: $("equation"),
  onTerm: (ids) => (ids.length ? network.highlight(ids) : network.clearHighlight()),
});
const heatmaps = new HeatmapsView({ container: $("heatmaps"), tooltip });
let studio = null;
const charts = new ChartsView({
  containers: { section: $("charts"), gradNorms: $("chart-grad-norms"),
    errorFlow: $("chart-error-flow"), accum: $("chart-accum"), loss: $("chart-loss"),
    flowMode: $("ctl-flow-mode") },
  onNeedNorms: () => studio?.requestNorms(),
});
const timeline = new Timeline({
  container: $("timeline"),
  onSeek: (i) => store.update({ event: i }),
});
const controls = new Controls({
  store,
  onTrain: (n) => studio.train(n),
  onUntrain: () => studio.untrain(),
  onGradcheck: () => studio.gradcheck(),
  onExportJson: () => studio.exportJson(),
  onExportCsv: () => studio.exportCsv(),
  onExportTorch: () => studio.exportTorch(),
  onShare: () => studio.share(),
});
studio = new Studio({ store, views: { network, equation, heatmaps, charts }, controls, timeline });
$("ctl-lang").addEventListener("change", (e) => store.update({ lang: e.target.value }));
$("ctl-notation").addEventListener("change", (e) => store.update({ notation: e.target.value }));

// The public handle for guided lessons and tests (see studio.js).
window.bpttStudio = studio;
// Guided lessons load on demand (first click on Lessons, or a lesson link): not in the default view.
const lessons = () => import("./lessons.js").then((m) => m.attach({ studio, store,
  button: $("btn-lessons"), menu: $("lesson-menu"), panel: $("lesson-panel") }));
$("btn-lessons").addEventListener("click", () => lessons().then((l) => l.toggleMenu()));
studio.ready.then(() => store.get().lesson && lessons().then((l) => l.start()));
studio.start().then(() => {
  document.getElementById("studio").dataset.ready = "true";
});
