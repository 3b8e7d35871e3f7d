// Rendering a notation label ({b: base, s: subscript, acc: "hat" | "tilde" | null, post:
// suffix}, see notation.js), optionally with a time index written in the notation's style: h(3),
// h_3, a⟨3⟩, and Haykin's x(n−1) for "t-1". labelParts says once what is written where; the
// renderers only put the parts into SVG or HTML.
import { timeIndex, timeStyle } from "./notation.js";

const ACCENT = { hat: "\u0302", tilde: "\u0303" };
const SVG = "http://www.w3.org/2000/svg";

/**
 * {base, sub, sup, post}: the base with its accent, the subscript, the superscript (or ""),
 * and what follows them (Coursera's block of columns "[:,a]", written after the subscript).
 */
export function labelParts(label, notation = "goodfellow", time = null) {
  const when = time === null || time === undefined ? null : timeIndex(time, notation);
  const style = timeStyle(notation);
  const sub = [label.s, when !== null && style === "sub" ? when : ""].filter(Boolean).join(",");
  let sup = "";
  if (when !== null && style === "paren") sup = `(${when})`;
  if (when !== null && style === "angle") sup = `⟨${when}⟩`;
  return { base: label.b + (ACCENT[label.acc] || ""), sub, sup, post: label.post || "" };
}

/** An SVG element with attributes, appended to parent when given. */
export function svgEl(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

/** Write a label into an SVG <text> (subscript as a lowered, smaller tspan). */
export function svgLabel(text, label, notation = "goodfellow", time = null) {
  const { base, sub, sup, post } = labelParts(label, notation, time);
  text.replaceChildren(document.createTextNode(base));
  if (sub) svgEl("tspan", { class: "sub", dy: "0.3em" }, text).textContent = sub;
  if (post) svgEl("tspan", { dy: sub ? "-0.3em" : "0" }, text).textContent = post;
  const back = sub && !post ? "-0.6em" : "-0.3em";
  if (sup) svgEl("tspan", { class: "sup", dy: back }, text).textContent = sup;
}

/** A label as HTML: <span class="lx-var"><i>base</i><sub>…</sub><sup>…</sup></span>. */
export function htmlLabel(label, notation = "goodfellow", time = null) {
  const { base, sub, sup, post } = labelParts(label, notation, time);
  const span = document.createElement("span");
  span.className = "lx-var";
  const i = document.createElement("i");
  i.textContent = base;
  span.append(i);
  for (const [tag, text] of [
    ["sub", sub],
    ["sup", sup],
  ]) {
    if (!text) continue;
    const node = document.createElement(tag);
    node.textContent = text;
    span.append(node);
    if (tag === "sub" && post) span.append(post);
  }
  if (post && !sub) span.insertBefore(document.createTextNode(post), span.children[1] || null);
  return span;
}
