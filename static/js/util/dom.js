// Building the page's elements (no state, no mathematics): the helpers every view shares.
import { language, t as tr } from "../text/i18n.js";

/** A new `tag` element with class `cls` and text `text` (both optional), appended to `parent`. */
export function el(tag, cls = "", parent = null, text = undefined) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

/**
 * The API's own words under one of our messages (its `msg`, always English): shown as they
 * are in English; in another language folded away under a translated summary, so that no
 * English sentence stands under a translated error, and the reader who wants it can open it.
 */
export function apiDetail(parent, detail) {
  if (!detail) return null;
  if (language() === "en") {
    const d = el("span", "err-detail", parent, detail);
    d.dataset.raw = "";
    return d;
  }
  const d = el("details", "err-detail", parent);
  el("summary", "", d, tr("error.detail"));
  const text = el("span", "", d, detail);
  text.lang = "en";
  text.dataset.raw = "";
  return d;
}
