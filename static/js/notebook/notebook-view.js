// The notebook widget's view (bptt_studio.notebook.Studio; notebook.js links and loads it): the
// page's own timeline, unrolled network, equation and accumulators, drawn from the trace the
// engine computed in Python. The anywidget model is the store: its "event" is the event on
// screen, moved by the timeline's buttons and keys here and by `widget.event = 9` in Python,
// which reads it back. Its "lang" and "notation" are the page's language and notation.
// Everything lives in a shadow root of its own: the page's style sheet and element ids meet
// nothing of the notebook around it, and two widgets in one notebook never share an id.
import { applyCssVars } from "../util/config.js";
import { EquationView } from "../views/equation.js";
import { HeatmapsView } from "../views/heatmaps.js";
import { Highlighter } from "../views/highlight.js";
import { applyTranslations, setLanguage } from "../text/i18n.js";
import { NetworkView } from "../views/network.js";
import { Timeline } from "../views/timeline.js";
import { Tooltip } from "../views/tooltip.js";
import { writeSymbols } from "../controls/topbar.js";
import { TraceIndex } from "../state/trace.js";

/** The widget's shadow root: the page's style sheet and the panels' markup (from Python). */
function shadowOf(el, model) {
  const host = document.createElement("div");
  host.className = "bptt-studio-host";
  // JupyterLab leaves keys that a widget takes to it (its own shortcuts skip such elements)
  host.dataset.lmSuppressShortcuts = "true";
  el.replaceChildren(host);
  const shadow = host.attachShadow({ mode: "open" });
  const style = document.createElement("style");
  style.textContent = model.get("_styles");
  const body = document.createElement("div");
  body.innerHTML = model.get("_markup");
  shadow.append(style, ...body.childNodes);
  return shadow;
}

export function mount({ model, el }) {
  const shadow = shadowOf(el, model);
  const $ = (id) => shadow.getElementById(id);
  const root = shadow.querySelector(".studio-widget");
  applyCssVars(root);
  const tooltip = new Tooltip({ container: root });
  // an equation's term marks the network's nodes it stands for, found in this shadow root
  const scope = {
    name: null,
    prefix: "",
    root: () => shadow,
    byId: $,
    network: () => $("network"),
    equation: () => $("equation"),
  };
  const marks = new Highlighter("is-hl", () => [scope]);
  const views = {
    network: new NetworkView({ container: $("network"), tooltip }),
    equation: new EquationView({ container: $("equation"), onTerm: (ids) => marks.set(ids) }),
    heatmaps: new HeatmapsView({ container: $("heatmaps"), tooltip }),
  };
  const seek = (i) => {
    model.set("event", i);
    model.save_changes();
  };
  const timeline = new Timeline({ container: $("timeline"), onSeek: seek, keys: root });
  // a click anywhere in the widget gives it the keys (buttons and links keep their own focus)
  root.addEventListener("pointerdown", (e) => {
    if (!e.target.closest?.("button, select, input, a, [tabindex]")) {
      root.focus({ preventScroll: true });
    }
  });
  let index = null;

  function drawEvent() {
    if (!index) return;
    const i = Math.max(0, Math.min(model.get("event"), index.events.length - 1));
    timeline.setIndex(i);
    timeline.draw();
    for (const v of Object.values(views)) {
      v.setEvent(i);
      v.draw();
    }
    root.dataset.eventIndex = String(i);
  }

  function setNotation() {
    const notation = model.get("notation");
    root.dataset.notation = notation;
    writeSymbols(shadow, notation);
    for (const v of Object.values(views)) v.setNotation(notation);
  }

  function setTrace() {
    const trace = JSON.parse(model.get("_trace")); // the API's JSON, from the kernel
    index = new TraceIndex(trace);
    for (const v of Object.values(views)) v.setTrace(index);
    setNotation();
    timeline.setEvents(index.events, index.windows);
    shadow.querySelector(".exploded").hidden = !trace.non_finite;
    drawEvent();
  }

  async function setLang() {
    await setLanguage(model.get("lang"), root);
    applyTranslations(shadow);
    writeSymbols(shadow, model.get("notation"));
    for (const v of Object.values(views)) v.setLanguage?.();
  }

  const handlers = {
    "change:event": drawEvent,
    "change:_trace": setTrace,
    "change:notation": () => {
      setNotation();
      drawEvent();
    },
    "change:lang": () => setLang().then(drawEvent),
  };
  for (const [name, handler] of Object.entries(handlers)) model.on(name, handler);
  const ready = setLang().then(() => {
    setTrace();
    root.dataset.ready = "true";
  });
  // anywidget calls what render returns when the view is removed
  return ready.then(() => () => {
    for (const [name, handler] of Object.entries(handlers)) model.off(name, handler);
    timeline.toggle(false);
  });
}
