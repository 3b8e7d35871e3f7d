// Rendering a notation label ({b: base, s: subscript, acc: "hat" | "tilde" | null, post:
// suffix}, see notation.js), optionally with a time index written in the notation's style: h(3),
// h_3, a⟨3⟩, and Haykin's x(n−1) for "t-1". notation.js's labelParts says once what is written
// where; the renderers here (and equation.js's MathML) only put the parts into SVG or HTML.
import { labelParts } from "./notation.js";

const SVG = "http://www.w3.org/2000/svg";

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
