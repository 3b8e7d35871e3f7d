// The studio's rarer actions, loaded on first use: the gradient check, exporting the trace
// (JSON), the current event's numbers (CSV) and the PyTorch check (a script), and sharing the
// link to the view.
import { api, ApiError } from "./api.js";
import { raw } from "./format.js";
import { t as tr } from "./i18n.js";
import { requestOf } from "./state.js";

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

const csvCell = (v) => {
  const s = String(v);
  if (s !== "" && !Number.isNaN(Number(s))) return s;
  // quote text, and defuse cells a spreadsheet would read as a formula
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r']/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

export async function gradcheck(s) {
  const status = document.getElementById("gradcheck-status");
  const btn = document.getElementById("btn-gradcheck");
  // the message is kept as a catalogue key (and its arguments), so a language switch
  // re-translates it with the rest of the page
  const say = (key, args = null) => {
    status.dataset.i18n = key;
    if (args) status.dataset.i18nArgs = JSON.stringify(args);
    else delete status.dataset.i18nArgs;
    status.textContent = tr(key, args);
  };
  btn.disabled = true;
  say("check.running");
  status.dataset.state = "running";
  try {
    const result = await api.gradcheck(requestOf(s.store.get().scenario));
    s.views.heatmaps.setGradcheck(result);
    s.views.heatmaps.draw();
    const worst = Math.max(...Object.values(result.max_rel_error).map((v) => (v === null ? Infinity : v)));
    const fmt = Number.isFinite(worst) ? worst.toExponential(1) : "—";
    say(result.ok ? "check.ok" : "check.bad", { err: fmt, tol: result.tolerance });
    status.dataset.state = result.ok ? "ok" : "bad";
  } catch (err) {
    if (err instanceof ApiError) s.controls.showApiError(err);
    say("check.failed");
    status.dataset.state = "failed";
  } finally {
    btn.disabled = false;
  }
}

export function exportJson(s) {
  if (!s.trace) return;
  download("bptt-trace.json", JSON.stringify(s.trace), "application/json");
}

/** The numbers of the current event as CSV rows: field, row, column, value. */
export function currentCsv(s) {
  const ev = s.index.event(s.store.get().event);
  const lines = [["event", "kind", "t", "field", "row", "col", "value"].join(",")];
  const i = s.store.get().event;
  const put = (field, value) => {
    if (Array.isArray(value)) {
      value.forEach((v, r) => {
        if (Array.isArray(v)) v.forEach((w, c) => lines.push([i, ev.kind, ev.t, field, r, c, raw(w)].map(csvCell).join(",")));
        else lines.push([i, ev.kind, ev.t, field, r, "", raw(v)].map(csvCell).join(","));
      });
    } else if (typeof value === "number" || value === null) {
      lines.push([i, ev.kind, ev.t, field, "", "", raw(value)].map(csvCell).join(","));
    } else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) put(`${field}.${k}`, v);
    }
  };
  if (ev.kind === "update") {
    const u = s.trace.updates[ev.update];
    for (const key of ["loss", "grad_norm", "clip_coef", "grads", "clipped_grads", "params_before",
      "params_after"]) put(key, u[key]);
  } else {
    for (const [k, v] of Object.entries(ev)) {
      if (["kind", "t", "update", "window", "version", "loss_injected"].includes(k)) continue;
      put(k, v);
    }
  }
  return `${lines.join("\n")}\n`;
}

export function exportCsv(s) {
  if (!s.index) return;
  const ev = s.index.event(s.store.get().event);
  download(`bptt-event-${s.store.get().event + 1}-${ev.kind}-t${ev.t}.csv`, currentCsv(s), "text/csv");
}

/**
 * "Check it in PyTorch": the script of POST /api/v1/export/torch for this scenario, downloaded.
 * It rebuilds the network in PyTorch and compares every number with ours (see the README).
 */
export async function exportTorch(s) {
  const status = document.getElementById("torch-status");
  const btn = document.getElementById("btn-export-torch");
  const say = (key) => {
    status.dataset.i18n = key; // a catalogue key, so a language switch translates it too
    status.textContent = tr(key);
  };
  btn.disabled = true;
  say("check.torchMaking");
  try {
    const response = await fetch("/api/v1/export/torch", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(requestOf(s.store.get().scenario)),
    });
    if (!response.ok) {
      say(response.status === 413 ? "check.torchTooLarge" : "check.torchFailed");
      return;
    }
    download("bptt_check_in_pytorch.py", await response.text(), "text/x-python");
    say("check.torchDone");
  } catch {
    say("check.torchFailed");
  } finally {
    btn.disabled = false;
  }
}

export async function share(s) {
  s.store.writeUrl();
  const url = s.store.url();
  const box = document.getElementById("share-url");
  box.value = url;
  box.hidden = false;
  const status = document.getElementById("share-status");
  try {
    await navigator.clipboard.writeText(url);
    status.textContent = tr("share.copied");
  } catch {
    box.select();
    status.textContent = tr("share.select");
  }
}
