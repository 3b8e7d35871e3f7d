// Descriptions of MathML and HTML elements, {ns, tag, attrs, kids} (kids: more descriptions or
// strings), as the equation panel writes its lines (views/equation.js patches them into the
// page) and as each cell module writes its own (static/js/cells/).

export const MATH = "http://www.w3.org/1998/Math/MathML";
export const HTML = "http://www.w3.org/1999/xhtml";

function h(ns, tag, attrs, children) {
  const kids = [];
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) kids.push(child);
  }
  return { ns, tag, attrs: attrs || {}, kids };
}
export const m = (tag, attrs, ...children) => h(MATH, tag, attrs, children);
export const html = (tag, attrs, ...children) => h(HTML, tag, attrs, children);
export const mi = (text, attrs = {}) => m("mi", attrs, text);
// Operators never stretch here: stretching costs layout time and the vectors are one line.
export const mo = (text, attrs = {}) => m("mo", { stretchy: "false", ...attrs }, text);
export const mtext = (text) => m("mtext", {}, text);
export const mn = (text) => m("mn", {}, text);
export const row = (...c) => m("mrow", {}, ...c);
export const SPACE = () => m("mspace", { width: "0.25em" });
// (1 − x…) and x², the shapes every gate's local slope is written with
export const oneMinus = (...x) => [mo("("), mn("1"), mo("−"), ...x, mo(")")];
export const squared = (x) => m("msup", {}, x, mn("2"));
