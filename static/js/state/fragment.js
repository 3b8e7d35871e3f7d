// The big part of a scenario in the URL's fragment (#n=...): explicit parameters, the initial
// state and explicit inputs and targets. A fragment is never sent to the server, so a link can
// carry tens of thousands of numbers without touching the request line; the query string keeps
// the small settings (state.js). Numbers travel as their float64 bytes, so a link holds exactly
// the numbers that were typed, pasted or drawn, bit for bit.
//
// Format (version 1): "n=" + a letter + base64url (RFC 4648 §5, no padding) of
//   [u32 little-endian header length][header: JSON, UTF-8][zero bytes up to a multiple of 8]
//   [every number as a little-endian float64, field after field, row-major]
// The header is {"f": [[field, shape], ...], "s": 0|1}: the fields ("params.W", "h0", "c0",
// "data.inputs", "data.targets") with their shapes, and whether the numbers are byte-shuffled
// (all first bytes of the numbers, then all second bytes, ...: drawn weights compress about 10%
// better that way, typed short decimals better without; the shorter is kept). The letter says
// what the bytes went through: "z" deflate-raw (CompressionStream), "r" nothing. A field that
// is not a rectangular array of numbers (never the case for a scenario the API accepted) is
// sent as JSON instead: letter "j" (deflated) or "k" (plain).

const KEY = "n=";

/** The fields of a scenario that the fragment carries: {path: value}, in a fixed order. */
export function bigFields(scenario) {
  const out = {};
  for (const [name, value] of Object.entries(scenario?.params || {})) out[`params.${name}`] = value;
  for (const name of ["h0", "c0"]) {
    if (scenario?.[name] !== undefined && scenario[name] !== null) out[name] = scenario[name];
  }
  if (isArrayData(scenario?.data)) {
    out["data.inputs"] = scenario.data.inputs;
    out["data.targets"] = scenario.data.targets;
  }
  return out;
}

/** Explicit inputs and targets (CONTRACT.md's fourth shape of `data`). */
export function isArrayData(data) {
  return Boolean(data && typeof data === "object" && "inputs" in data);
}

/** Explicit inputs and targets, of one sequence or of a mini-batch's examples (data.batch). */
export function hasOwnArrays(data) {
  return isArrayData(data) || (Array.isArray(data?.batch) && data.batch.some(isArrayData));
}

const PATH = /^(params\.[A-Za-z][A-Za-z0-9_]*|h0|c0|data\.inputs|data\.targets)$/;

/** Put decoded fields ({path: value}) back into a scenario (a copy); other paths are ignored. */
export function withBigFields(scenario, fields) {
  const s = structuredClone(scenario);
  for (const [path, value] of Object.entries(fields)) {
    if (!PATH.test(path)) continue;
    const [head, name] = path.split(".");
    if (head === "params") {
      s.params ??= {};
      s.params[name] = value;
    } else if (head === "data") {
      if (!isArrayData(s.data)) s.data = {};
      s.data[name] = value;
    } else s[head] = value;
  }
  return s;
}

// ---- arrays <-> numbers ---------------------------------------------------------------------

/** The shape of a rectangular array of numbers, or null (ragged, or holding a non-number). */
export function shapeOf(value) {
  if (typeof value === "number") return [];
  if (!Array.isArray(value)) return null;
  if (!value.length) return [0];
  const inner = shapeOf(value[0]);
  if (inner === null) return null;
  for (const v of value) {
    const s = shapeOf(v);
    if (s === null || s.length !== inner.length || s.some((d, k) => d !== inner[k])) return null;
  }
  return [value.length, ...inner];
}

function flatten(value, out) {
  if (Array.isArray(value)) for (const v of value) flatten(v, out);
  else out.push(value);
  return out;
}

function unflatten(numbers, start, shape) {
  if (!shape.length) return [numbers[start], start + 1];
  const out = [];
  let at = start;
  for (let k = 0; k < shape[0]; k += 1) {
    const [v, next] = unflatten(numbers, at, shape.slice(1));
    out.push(v);
    at = next;
  }
  return [out, at];
}

// ---- bytes ------------------------------------------------------------------------------------

/** Byte k of every 8-byte number together, for k = 0..7 (and back, with `inverse`). */
export function shuffle(bytes, inverse = false) {
  const n = bytes.length / 8;
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < n; i += 1) {
    for (let k = 0; k < 8; k += 1) {
      if (inverse) out[i * 8 + k] = bytes[k * n + i];
      else out[k * n + i] = bytes[i * 8 + k];
    }
  }
  return out;
}

function pack(header, numbers, shuffled) {
  const head = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((4 + head.length) / 8) * 8;
  const buf = new ArrayBuffer(start + numbers.length * 8);
  const view = new DataView(buf);
  view.setUint32(0, head.length, true);
  new Uint8Array(buf, 4, head.length).set(head);
  for (let i = 0; i < numbers.length; i += 1) view.setFloat64(start + i * 8, numbers[i], true);
  const bytes = new Uint8Array(buf);
  if (shuffled) bytes.set(shuffle(bytes.subarray(start)), start);
  return bytes;
}

function unpack(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length)));
  const start = Math.ceil((4 + length) / 8) * 8;
  let body = bytes.subarray(start);
  if (body.length % 8) throw new Error("fragment: the numbers are not whole float64s");
  if (header.s) body = shuffle(body, true);
  const numbers = new Float64Array(body.length / 8);
  const data = new DataView(body.buffer, body.byteOffset, body.byteLength);
  for (let i = 0; i < numbers.length; i += 1) numbers[i] = data.getFloat64(i * 8, true);
  const fields = {};
  let at = 0;
  for (const [path, shape] of header.f) {
    const [value, next] = unflatten(numbers, at, shape);
    fields[path] = value;
    at = next;
  }
  if (at !== numbers.length) throw new Error("fragment: more numbers than the header names");
  return fields;
}

async function through(bytes, stream) {
  const piped = new Blob([bytes]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(piped).arrayBuffer());
}

const canDeflate = () => typeof CompressionStream === "function";

/** base64url without padding. */
export function toBase64Url(bytes) {
  let text = "";
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK));
  }
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64Url(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// ---- the fragment -----------------------------------------------------------------------------

/**
 * The fragment (without "#") that carries a scenario's big fields, or "" when it has none.
 * Of the plain and the byte-shuffled layout, deflated when the browser can, the shorter is kept.
 */
export async function encodeFragment(scenario) {
  const fields = bigFields(scenario);
  const entries = Object.entries(fields);
  if (!entries.length) return "";
  const shapes = entries.map(([, v]) => shapeOf(v));
  if (shapes.some((s) => s === null)) {
    const json = new TextEncoder().encode(JSON.stringify(fields));
    if (!canDeflate()) return `${KEY}k${toBase64Url(json)}`;
    return `${KEY}j${toBase64Url(await through(json, new CompressionStream("deflate-raw")))}`;
  }
  const numbers = [];
  for (const [, v] of entries) flatten(v, numbers);
  const f = entries.map(([path], k) => [path, shapes[k]]);
  const layouts = [false, true].map((s) => pack({ f, s: s ? 1 : 0 }, numbers, s));
  if (!canDeflate()) return `${KEY}r${toBase64Url(layouts[0])}`;
  const packed = await Promise.all(
    layouts.map((b) => through(b, new CompressionStream("deflate-raw"))),
  );
  const best = packed[0].length <= packed[1].length ? packed[0] : packed[1];
  return `${KEY}z${toBase64Url(best)}`;
}

/**
 * The big fields a fragment carries ({path: value}), {} when the hash holds none of ours.
 * Throws when it holds one that cannot be read (a link cut short, or edited by hand).
 */
export async function decodeFragment(hash) {
  const text = String(hash || "").replace(/^#/, "");
  if (!text.startsWith(KEY)) return {};
  const kind = text[KEY.length];
  const bytes = fromBase64Url(text.slice(KEY.length + 1));
  if (kind === "r") return unpack(bytes);
  if (kind === "z") return unpack(await through(bytes, new DecompressionStream("deflate-raw")));
  if (kind === "k") return JSON.parse(new TextDecoder().decode(bytes));
  if (kind === "j") {
    const json = await through(bytes, new DecompressionStream("deflate-raw"));
    return JSON.parse(new TextDecoder().decode(json));
  }
  throw new Error(`fragment: unknown encoding "${kind}"`);
}
