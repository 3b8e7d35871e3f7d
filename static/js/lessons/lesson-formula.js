// The lessons' formula mini-language: inside {{…}} a text names parameters and signals by
// their engine names, and they are written in the notation in use (labels.js renders them).
import { fill } from "../text/i18n.js";
import { htmlLabel } from "../text/labels.js";
import { deltaLabel, gateLabel, paramLabel, varLabel } from "../text/notation.js";
import { el } from "../util/dom.js";

const h = (tag, cls = "", text = null) => el(tag, cls, null, text);

// Inside {{…}}: @W, @U_o, @W_k (parameters, engine names), %h(t-1), %delta.o(t), %gate.f(t+1)
// (signals, with a time index written in the notation's style), ^T, ^{…}, _{…}; the rest as is.

const TOKEN = new RegExp(
  [
    /@([A-Za-z]\w*)/.source, // a parameter
    /%([A-Za-z][\w.]*)(?:\(([^()]*)\))?/.source, // a signal, with its time
    /\^T(?!\w)/.source, // transpose
    /\^\{([^}]*)\}/.source, // a superscript
    /_\{([^}]*)\}/.source, // a subscript
  ].join("|"),
  "g",
);

function signalLabel(name, notation) {
  const [base, gate] = name.split(".");
  if (base === "gate") return gateLabel(gate, notation);
  if (base === "delta") return deltaLabel(gate || null, notation);
  return varLabel(base, notation);
}

export function formula(src, ctx) {
  const span = h("span", "lx-math");
  let at = 0;
  for (const m of src.matchAll(TOKEN)) {
    if (m.index > at) span.append(src.slice(at, m.index).replace(/ - /g, " − "));
    if (m[1]) span.append(htmlLabel(paramLabel(m[1], ctx.cell, ctx.notation), ctx.notation));
    else if (m[2]) span.append(htmlLabel(signalLabel(m[2], ctx.notation), ctx.notation, m[3]));
    else if (m[0] === "^T") span.append(h("sup", "", "T"));
    else if (m[4] !== undefined) span.append(h("sup", "", m[4]));
    else span.append(h("sub", "", m[5]));
    at = m.index + m[0].length;
  }
  if (at < src.length) span.append(src.slice(at));
  return span;
}

/** Text with {name} values filled in and {{…}} formulas rendered, as DOM nodes (never HTML). */
export function rich(text, values, ctx) {
  const filled = text
    .split(/(\{\{.*?\}\})/)
    .map((part) => (part.startsWith("{{") ? part : fill(part, values)))
    .join("");
  const frag = document.createDocumentFragment();
  filled.split(/\{\{(.*?)\}\}/).forEach((part, i) => {
    if (i % 2) frag.append(formula(part, ctx));
    else if (part) frag.append(part);
  });
  return frag;
}
