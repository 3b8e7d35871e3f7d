// The studio's rarer actions, loaded on first use: the gradient check, exporting the trace
// (JSON), the current event's numbers and the whole trace (CSV), the printable worksheet,
// the PyTorch check (a script), and sharing the link to the view. `s` is the studio; what
// these actions show goes through its controls and views, never their DOM.
import { api, ApiError } from "../state/api.js";
import { t as tr } from "../text/i18n.js";
import { bodyOf } from "../state/source.js";
import { isRandomized, requestOf } from "../state/state.js";

// The API's field when it refuses a randomized truncation (/gradcheck, /neuron): its gradient is
// a random estimate, not a loss's gradient, so finite differences cannot check it.
const REFUSES_RANDOMIZED = "truncation.mode";

function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export async function gradcheck(s) {
  // the API refuses to check a randomized truncation: the page says why without asking
  if (isRandomized(s.store.get().scenario.truncation)) {
    s.controls.setCheck("check.randomized", null, "refused");
    return;
  }
  s.controls.setCheck("check.running", null, "running");
  try {
    const result = await api.gradcheck(requestOf(s.store.get().scenario));
    s.views.heatmaps.setGradcheck(result);
    s.views.heatmaps.draw();
    const errors = Object.values(result.max_rel_error).map((v) => (v === null ? Infinity : v));
    const worst = Math.max(...errors);
    const fmt = Number.isFinite(worst) ? worst.toExponential(1) : "—";
    s.controls.setCheck(
      result.ok ? "check.ok" : "check.bad",
      { err: fmt, tol: result.tolerance },
      result.ok ? "ok" : "bad",
    );
  } catch (err) {
    if (err instanceof ApiError && err.fields?.some((f) => f.path === REFUSES_RANDOMIZED)) {
      s.controls.setCheck("check.randomized", null, "refused");
      return;
    }
    if (err instanceof ApiError) s.controls.showApiError(err);
    s.controls.setCheck("check.failed", null, "failed");
  }
}

export function exportJson(s) {
  if (!s.trace) return;
  download("bptt-trace.json", JSON.stringify(s.trace), "application/json");
}

/**
 * The numbers of the event on screen as CSV: the whole trace's tidy CSV (the API's, one
 * format for both downloads: docs/export-csv.md) cut to its header and the rows of this event,
 * numbered from 1 as on the page ("Event 3 of 20"), with i and j numbering units from 1.
 */
export function eventRows(csv, shown) {
  const lines = csv.split("\n");
  const mine = lines.filter((line) => line.startsWith(`${shown},`));
  return `${[lines[0], ...mine].join("\n")}\n`;
}

export async function exportCsv(s) {
  if (!s.index) return;
  const i = s.store.get().event;
  const ev = s.index.event(i);
  await exportTrace(s, (csv) => [
    `bptt-event-${i + 1}-${ev.kind}-t${ev.t}.csv`,
    eventRows(csv, i + 1),
  ]);
}

/**
 * The request of the trace on the page, for POST /export/csv: the body the page sent to
 * /trace, with the detail the API answered in; a trained network's trace is one more pass from
 * the trained weights, which its `config` (the request with every default filled in, the
 * trained parameters included) reproduces.
 */
export function traceRequest(s) {
  const detail = s.index.detail;
  if (s.store.accepted.train) return { ...s.trace.config, detail };
  return { ...bodyOf(s.store.accepted, detail).request };
}

/** The whole trace as the API's tidy CSV: one row per number, events numbered from 1. */
export async function exportTraceCsv(s) {
  if (!s.trace) return;
  await exportTrace(s, (csv) => ["bptt-trace.csv", csv]);
}

/** Ask for the trace's CSV and download what `made` makes of it ([file name, text]). */
async function exportTrace(s, made) {
  s.controls.showSlot("export", "");
  try {
    const [name, text] = made(await api.exportCsv(traceRequest(s)));
    download(name, text, "text/csv");
  } catch (err) {
    if (err instanceof ApiError && err.kind === "too_large") {
      s.controls.showSlot("export", tr("error.exportTooLarge"));
    } else if (err instanceof ApiError) s.controls.showApiError(err);
  }
}

/** The printable worksheet of the scenario on the page, in a new tab ("key" or "blank"). */
export async function worksheet(s, variant) {
  await s.store.settled();
  const query = new URLSearchParams(s.store.query());
  query.set("variant", variant);
  const hash = s.store.fragment ? `#${s.store.fragment}` : "";
  window.open(`/worksheet?${query}${hash}`, "_blank");
}

/**
 * "Check it in PyTorch": the script of POST /api/v1/export/torch for this scenario, downloaded.
 * It rebuilds the network in PyTorch and compares every number with ours (see docs/API.md, "Check it in PyTorch").
 */
export async function exportTorch(s) {
  s.controls.setTorch("check.torchMaking", "running");
  try {
    const response = await fetch("/api/v1/export/torch", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(requestOf(s.store.get().scenario)),
    });
    if (!response.ok) {
      const key = response.status === 413 ? "check.torchTooLarge" : "check.torchFailed";
      s.controls.setTorch(key, "failed");
      return;
    }
    download("bptt_check_in_pytorch.py", await response.text(), "text/x-python");
    s.controls.setTorch("check.torchDone", "ok");
  } catch {
    s.controls.setTorch("check.torchFailed", "failed");
  }
}

export async function share(s) {
  await s.store.settled();
  s.store.writeUrl();
  const url = s.store.url();
  let copied = true;
  try {
    await navigator.clipboard.writeText(url);
  } catch {
    copied = false;
  }
  s.controls.showShare(url, copied);
}
