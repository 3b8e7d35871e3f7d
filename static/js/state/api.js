// The JSON API client: fetch, parse, and turn every failure into one ApiError shape.
const BASE = "/api/v1";

export class ApiError extends Error {
  /**
   * kind: "validation" (4xx with field errors), "too_large" (413), "network", "server".
   * fields: [{path: "truncation.k2", msg, type, ctx}] with the "body" prefix removed.
   */
  constructor(kind, status, fields = [], message = "") {
    super(message || kind);
    this.kind = kind;
    this.status = status;
    this.fields = fields;
  }
}

function fieldsOf(body) {
  const detail = body?.detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => {
      const loc = Array.isArray(d.loc) ? d.loc.filter((p, i) => !(i === 0 && p === "body")) : [];
      return {
        path: loc.join("."),
        msg: String(d.msg ?? ""),
        type: String(d.type ?? ""),
        ctx: d.ctx || null,
      };
    });
  }
  if (typeof detail === "string") return [{ path: "", msg: detail, type: "", ctx: null }];
  return [];
}

// JSON.stringify writes −0 as 0; a −0 typed into an editor must reach the API as −0 (its
// float64 bits), so it goes through as a marker that no JSON string can equal, then −0.0.
const NEG_ZERO = "\u0000-0";

/** The JSON of a request body, every number as the float64 it is (−0 included). */
export function toJson(body) {
  let marked = false;
  const text = JSON.stringify(body, (_key, v) => {
    if (v === 0 && Object.is(v, -0)) {
      marked = true;
      return NEG_ZERO;
    }
    return v;
  });
  return marked ? text.replaceAll('"\\u0000-0"', "-0.0") : text;
}

async function request(method, path, body, signal, as = "json") {
  let response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? toJson(body) : undefined,
      signal,
    });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError("network", 0, [], String(err));
  }
  if (response.ok && as === "text") return response.text();
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (response.ok) return payload;
  if (response.status === 413) throw new ApiError("too_large", 413, fieldsOf(payload));
  if (response.status >= 400 && response.status < 500) {
    throw new ApiError("validation", response.status, fieldsOf(payload));
  }
  throw new ApiError("server", response.status, fieldsOf(payload));
}

export const api = {
  presets: (signal) => request("GET", "/presets", null, signal),
  trace: (req, signal) => request("POST", "/trace", req, signal),
  train: (req, signal) => request("POST", "/train", req, signal),
  gradcheck: (req, signal) => request("POST", "/gradcheck", req, signal),
  params: (req, signal) => request("POST", "/params", req, signal),
  exportCsv: (req, signal) => request("POST", "/export/csv", req, signal, "text"),
  neuron: (req, signal) => request("POST", "/neuron", req, signal),
  bugs: (lang, signal) => request("GET", `/bugs?lang=${encodeURIComponent(lang)}`, null, signal),
  sample: (req, signal) => request("POST", "/sample", req, signal),
};
