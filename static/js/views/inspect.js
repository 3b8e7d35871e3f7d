// What a node or an error bundle of the network holds at the current event, for the tooltip:
// the values the API sent for it (forward values once computed, errors once reached).
// Loaded on the first hover or focus.
import { t as tr } from "../text/i18n.js";
import { deltaLabel, gateLabel, labelText, shownError, varLabel } from "../text/notation.js";
import { TraceIndex } from "../state/trace.js";

export function showNode(view, node) {
  const idx = view.index;
  const n = view.notation;
  const t = Number(node.dataset.t);
  const name = node.dataset.node;
  const gate = node.dataset.gate;
  const i = view.eventIndex;
  // a stack: a node of a layer (h, c, gates) reads that layer's events; x is layer 1's input,
  // the output and the loss the top layer's
  const layer = Number(node.dataset.layer || (name === "x" ? 1 : idx.layers));
  const fwd = idx.forward(t, layer);
  const bwd = idx.backwardReached(t, i, layer);
  const rows = [];
  const lab = (v, tt = t) => labelText(varLabel(v, n), n, tt);
  // an error quantity in the notation's sign (Haykin's δ = −∂ℰ/∂v)
  const err = (value, field) => shownError(value, field, n);
  const title = gate ? labelText(gateLabel(gate, n), n, t) : lab(name);
  if (t === 0) {
    rows.push({ label: lab("h", 0), value: idx.forward(1, layer)?.h_prev });
    if (name === "c") rows.push({ label: lab("c", 0), value: idx.forward(1, layer)?.c_prev });
  } else if (!idx.computed(t, i, layer)) {
    rows.push({ label: "", value: tr("net.notYet") });
  } else if (name === "x") {
    // the token itself (a word may be cut short on the node), then its encoding
    if (idx.trace.vocab) rows.push({ label: "", value: TraceIndex.shown(idx.tokens(t).x) });
    rows.push({ label: lab("x"), value: fwd.x });
  } else if (name === "h") {
    rows.push({ label: lab("h"), value: fwd.h });
    // a cell without gates has one pre-activation a(t) (the RNN's); gates have theirs
    if (!(idx.trace.cell_spec?.gates || []).length) rows.push({ label: lab("a"), value: fwd.a });
    if (bwd) {
      rows.push({ label: lab("dh"), value: err(bwd.dh, "dh") });
      if (bwd.delta) rows.push({ label: lab("delta"), value: err(bwd.delta, "delta") });
    }
  } else if (name === "c") {
    rows.push({ label: lab("c"), value: fwd.c });
    if (bwd) rows.push({ label: lab("dc"), value: err(bwd.dc, "dc") });
  } else if (name === "gate") {
    rows.push({ label: title, value: fwd.gates?.[gate] });
    if (bwd?.deltas) {
      rows.push({
        label: labelText(deltaLabel(gate, n), n, t),
        value: err(bwd.deltas[gate], "deltas"),
      });
    }
  } else if (name === "yhat") {
    rows.push({ label: lab("o"), value: fwd.o });
    rows.push({ label: lab("yhat"), value: fwd.yhat });
    rows.push({
      label: lab("y"),
      value: Array.isArray(fwd.target) ? fwd.target : String(fwd.target),
    });
    if (bwd) rows.push({ label: lab("g_o"), value: err(bwd.g_o, "g_o") });
  } else if (name === "L") {
    rows.push({ label: lab("L"), value: fwd.loss });
    rows.push({
      label: "",
      value: tr(fwd.loss_injected ? "net.lossInjected" : "net.lossNotInjected"),
    });
  }
  view.tooltip.show(node, title, rows);
}

export function showErr(view, err) {
  const idx = view.index;
  const n = view.notation;
  const t = Number(err.dataset.t);
  const k = Number(err.parentNode.dataset.event);
  const ev = idx.event(k);
  const name = err.dataset.edge;
  const field =
    { "err-out": "dh_out", "err-next": "dh_next", "err-above": "dh_above" }[name] ?? "dc_next";
  const j = Number(err.dataset.layer || 1);
  const title = tr(`net.${field}`, { t, next: t + 1, j, above: j + 1 });
  view.tooltip.show(err, title, [
    {
      label: labelText(varLabel(field === "dc_next" ? "dc" : "dh", n), n, t),
      value: shownError(ev[field], field, n),
    },
  ]);
}
