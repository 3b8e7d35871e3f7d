// Highlight targets, resolved in one place. Lessons, the equation's terms and tests name what
// to point at with the page's public hooks; this module alone turns a name into elements:
//   "node-h-3"               an element id (network nodes, heatmap cards "hm-W", chart boxes)
//   "err-next@3"             every error bundle of that edge at step 3 (err-out, err-next, err-c)
//   "eq-dh"                  the equation's line or term marked data-eq="dh"
//   "#id", ".class", "[..]"  a CSS selector
//   "lstm:node-c-1"          any of the above, in one column of the compare view only
//   an Element               itself
// Names resolve in scopes: the views that draw one trace (a network and an equation, and the
// prefix of their ids). The page's single view is one scope; the compare view has one per
// column (named by its set-up), and a name without a column resolves in every column.
// Views never reach into each other to mark things: they pass names here.

const EDGE = /^(err-[a-z]+)@(\d+)$/;
const IN_COLUMN = /^([a-z][a-z_]*):(.+)$/;

/** The page's single view: the network and equation the page itself holds. */
export const PAGE_SCOPE = Object.freeze({
  name: null,
  prefix: "",
  root: () => document,
  network: () => document.getElementById("network"),
  equation: () => document.getElementById("equation"),
});

/** The elements a name points at in one scope. */
function inScope(target, scope, scoped) {
  const edge = EDGE.exec(target);
  if (edge) {
    const net = scope.network();
    return net
      ? [...net.querySelectorAll(`.err[data-edge="${edge[1]}"][data-t="${edge[2]}"]`)]
      : [];
  }
  if (target.startsWith("eq-")) {
    const eq = scope.equation();
    return eq ? [...eq.querySelectorAll(`[data-eq="${CSS.escape(target.slice(3))}"]`)] : [];
  }
  if (/^[#.[]/.test(target)) {
    // a selector names its elements page-wide, or within one column when the name says so
    return [...(scoped ? scope.root() : document).querySelectorAll(target)];
  }
  // a scope in a shadow root (the notebook widget's) finds its ids there
  const el = (scope.byId ?? ((id) => document.getElementById(id)))(scope.prefix + target);
  return el ? [el] : [];
}

/** The elements a target names (empty when nothing matches yet). */
export function resolve(target, scopes = [PAGE_SCOPE]) {
  if (typeof target !== "string") return target ? [target] : [];
  const column = /^[#.[]/.test(target) ? null : IN_COLUMN.exec(target);
  if (column) {
    const scope = scopes.find((s) => s.name === column[1]);
    return scope ? inScope(column[2], scope, true) : [];
  }
  if (/^[#.[]/.test(target)) return inScope(target, scopes[0] ?? PAGE_SCOPE, false);
  return scopes.flatMap((s) => inScope(target, s, false));
}

/** Every element of a list of targets, in order, each once. */
export function resolveAll(targets, scopes = [PAGE_SCOPE]) {
  return [...new Set(targets.flatMap((t) => resolve(t, scopes)))];
}

/**
 * One set of marked elements (class is-hl): set() replaces it, clear() empties it, refresh()
 * marks the same targets again after a view has redrawn its elements. scopes: a function that
 * gives the scopes its names resolve in (the page's single view by default).
 */
export class Highlighter {
  constructor(className = "is-hl", scopes = () => [PAGE_SCOPE]) {
    this.className = className;
    this.scopes = scopes;
    this.targets = [];
    this.marked = [];
  }

  set(targets) {
    this.clear();
    this.targets = [...targets];
    this.marked = resolveAll(targets, this.scopes());
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
