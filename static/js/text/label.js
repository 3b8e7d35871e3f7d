// A label: how one symbol is written, {b: base, s: subscript, acc: "hat"|"tilde"|null, post:
// suffix}. Shared by the notations (text/notation.js) and the cells' own symbols
// (static/js/cells/), which import only this.

/** A label: base, subscript, accent ("hat", "tilde" or null) and what follows (Coursera's "[:,a]"). */
export const L = (b, s = "", acc = null, post = "") => ({ b, s, acc, post });
