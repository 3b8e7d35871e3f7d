// One floating tooltip shared by the views: a title and rows of label + values (text only).
import { num } from "../text/format.js";
import { SIZES } from "../util/config.js";

export class Tooltip {
  constructor({ container }) {
    this.el = document.createElement("div");
    this.el.className = "tooltip";
    this.el.id = "tooltip";
    this.el.setAttribute("role", "status");
    this.el.setAttribute("data-raw", "");
    this.el.hidden = true;
    container.appendChild(this.el);
  }

  /** rows: [{label, value}] where value is a number, an array of numbers, or a string. */
  show(anchor, title, rows) {
    this.el.replaceChildren();
    const head = document.createElement("div");
    head.className = "tooltip-title";
    head.textContent = title;
    this.el.appendChild(head);
    for (const row of rows) {
      const line = document.createElement("div");
      line.className = "tooltip-row";
      const label = document.createElement("span");
      label.className = "tooltip-label";
      label.textContent = row.label;
      const value = document.createElement("span");
      value.className = "tooltip-value";
      value.textContent = formatValue(row.value);
      line.append(label, value);
      this.el.appendChild(line);
    }
    this.el.hidden = false;
    // beside the anchor, in the viewport, flipped to its left when the right has no room
    const r = anchor.getBoundingClientRect();
    const w = this.el.offsetWidth;
    const h = this.el.offsetHeight;
    let x = r.right + 8;
    if (r.right + 8 + w > window.innerWidth) x = r.left - w - 8;
    let y = r.top;
    if (r.top + h > window.innerHeight) y = Math.max(0, r.bottom - h);
    const o = this.origin();
    this.el.style.left = `${Math.max(0, x - o.left)}px`;
    this.el.style.top = `${y - o.top}px`;
  }

  /**
   * Where the tooltip's coordinates start, in the viewport: the page's origin, or the box of a
   * positioned container (a notebook widget's, inside a cell that scrolls with its notebook).
   */
  origin() {
    const parent = this.el.offsetParent;
    if (!parent || parent === document.body) return { left: -window.scrollX, top: -window.scrollY };
    const box = parent.getBoundingClientRect();
    return { left: box.left - parent.scrollLeft, top: box.top - parent.scrollTop };
  }

  hide() {
    this.el.hidden = true;
  }
}

export function formatValue(value) {
  if (Array.isArray(value)) {
    const shown = value
      .slice(0, SIZES.maxVectorShown)
      .map((v) => (Array.isArray(v) ? "…" : num(v)));
    return `[${shown.join(", ")}${value.length > SIZES.maxVectorShown ? ", …" : ""}]`;
  }
  if (typeof value === "number" || value === null) return num(value, 4);
  return String(value ?? "");
}
