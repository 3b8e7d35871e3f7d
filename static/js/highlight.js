// Highlight targets, resolved in one place. Lessons, the equation's terms and tests name what
// to point at with the page's public hooks; this module alone turns a name into elements:
//   "node-h-3"               an element id (network nodes, heatmap cards "hm-W", chart boxes)
//   "err-next@3"             every error bundle of that edge at step 3 (err-out, err-next, err-c)
//   "eq-dh"                  the equation's line or term marked data-eq="dh"
//   "#id", ".class", "[..]"  a CSS selector
//   an Element               itself
// Views never reach into each other to mark things: they pass names here.

const EDGE = /^(err-[a-z]+)@(\d+)$/;

/** The elements a target names (empty when nothing matches yet). */
export function resolve(target, root = document) {
  if (typeof target !== "string") return target ? [target] : [];
  const edge = EDGE.exec(target);
  if (edge) {
    return [...root.querySelectorAll(`#network .err[data-edge="${edge[1]}"][data-t="${edge[2]}"]`)];
  }
  if (target.startsWith("eq-")) {
    return [...root.querySelectorAll(`#equation [data-eq="${CSS.escape(target.slice(3))}"]`)];
  }
  if (/^[#.[]/.test(target)) return [...root.querySelectorAll(target)];
  const el = root.getElementById?.(target) ?? root.querySelector(`#${CSS.escape(target)}`);
  return el ? [el] : [];
}

/** Every element of a list of targets, in order, each once. */
export function resolveAll(targets, root = document) {
  return [...new Set(targets.flatMap((t) => resolve(t, root)))];
}

/**
 * One set of marked elements (class is-hl): set() replaces it, clear() empties it, refresh()
 * marks the same targets again after a view has redrawn its elements.
 */
export class Highlighter {
  constructor(className = "is-hl") {
    this.className = className;
    this.targets = [];
    this.marked = [];
  }

  set(targets) {
    this.clear();
    this.targets = [...targets];
    this.marked = resolveAll(targets);
    for (const el of this.marked) el.classList.add(this.className);
    return this.marked;
  }

  refresh() {
    if (this.targets.length) this.set(this.targets);
  }

  clear() {
    for (const el of this.marked) el.classList.remove(this.className);
    this.marked = [];
    this.targets = [];
  }
}
