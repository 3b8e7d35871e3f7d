// Building the page's elements (no state, no mathematics): one helper every view shares.

/** A new `tag` element with class `cls` and text `text` (both optional), appended to `parent`. */
export function el(tag, cls = "", parent = null, text = undefined) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}
