// The timeline: first/back/play/forward/last, a speed control, a scrubber marking forward,
// backward and update events, and the keys ←, →, space, Home, End. It only reports where the
// user wants to go (onSeek); the store decides.
import { TIMING } from "../util/config.js";
import { scrubPercent } from "../util/geometry.js";
import { t as tr } from "../text/i18n.js";

// Fields where keys type text: the timeline leaves every key to them.
const TEXT_INPUTS = new Set(["text", "number", "search", "email", "url", "tel", "password"]);

/**
 * What a timeline key does with the focused element: "step" (the timeline takes it), or
 * "native" (the element keeps its own meaning: typing in a text field, space on a button or a
 * check box, arrows choosing within a radio group). Dropdowns and the scrubber step.
 */
export function keyRole(key, target) {
  const tag = target?.tagName;
  if (tag === "TEXTAREA" || target?.isContentEditable) return "native";
  if (tag === "INPUT" && TEXT_INPUTS.has(target.type)) return "native";
  const space = key === " " || key === "Spacebar";
  if (space && (tag === "BUTTON" || tag === "A" || tag === "SUMMARY")) return "native";
  if (space && tag === "INPUT" && (target.type === "checkbox" || target.type === "radio")) {
    return "native";
  }
  const arrow = key === "ArrowLeft" || key === "ArrowRight";
  if (arrow && tag === "INPUT" && target.type === "radio") return "native";
  return "step";
}

// Icons as SVG paths (fonts may lack the media-control characters), in a 16×16 box.
const ICONS = {
  first: "M3 2h2v12H3zM14 2v12L6 8z",
  back: "M12 2v12L4 8z",
  play: "M4 2v12l10-6z",
  pause: "M3 2h4v12H3zM9 2h4v12H9z",
  forward: "M4 2v12l8-6z",
  last: "M11 2h2v12h-2zM2 2v12l8-6z",
};

function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("width", "14");
  svg.setAttribute("height", "14");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICONS[name]);
  path.setAttribute("fill", "currentColor");
  svg.appendChild(path);
  return svg;
}

function button(id, key, name, parent) {
  const b = document.createElement("button");
  b.type = "button";
  b.id = id;
  b.className = "tl-btn";
  b.dataset.i18nAria = key;
  b.dataset.i18nTitle = key;
  b.appendChild(icon(name));
  parent.appendChild(b);
  return b;
}

export class Timeline {
  /** keys: where it listens for its keys (the window on the page; a notebook widget its own). */
  constructor({ container, onSeek, keys = window }) {
    this.container = container;
    this.onSeek = onSeek;
    this.events = [];
    this.index = 0;
    this.playing = false;
    this.timer = null;
    this.speed = 1;
    this.build();
    // capture: the timeline sees the key before a focused dropdown turns it into a new value
    keys.addEventListener("keydown", (e) => this.onKey(e), { capture: true });
  }

  build() {
    const c = this.container;
    c.replaceChildren();
    const buttons = document.createElement("div");
    buttons.className = "tl-buttons";
    buttons.setAttribute("role", "group");
    buttons.dataset.i18nAria = "timeline.aria";
    this.first = button("tl-first", "timeline.first", "first", buttons);
    this.back = button("tl-back", "timeline.back", "back", buttons);
    this.play = button("tl-play", "timeline.play", "play", buttons);
    this.fwd = button("tl-forward", "timeline.forward", "forward", buttons);
    this.last = button("tl-last", "timeline.last", "last", buttons);
    this.play.setAttribute("aria-pressed", "false");
    c.appendChild(buttons);

    const speedWrap = document.createElement("label");
    speedWrap.className = "tl-speed";
    const speedText = document.createElement("span");
    speedText.dataset.i18n = "timeline.speed";
    this.speedSel = document.createElement("select");
    this.speedSel.id = "tl-speed";
    for (const s of TIMING.playSpeeds) {
      const o = document.createElement("option");
      o.value = String(s);
      o.textContent = `${s}×`;
      o.dataset.raw = "";
      if (s === 1) o.selected = true;
      this.speedSel.appendChild(o);
    }
    speedWrap.append(speedText, this.speedSel);
    c.appendChild(speedWrap);

    const scrub = document.createElement("div");
    scrub.className = "tl-scrub";
    this.marks = document.createElement("div");
    this.marks.className = "tl-marks";
    this.marks.setAttribute("aria-hidden", "true");
    this.range = document.createElement("input");
    this.range.type = "range";
    this.range.id = "tl-scrubber";
    this.range.min = "0";
    this.range.step = "1";
    this.range.dataset.i18nAria = "timeline.scrubber";
    scrub.append(this.marks, this.range);
    c.appendChild(scrub);

    this.status = document.createElement("div");
    this.status.className = "tl-status";
    this.status.id = "tl-status";
    this.status.setAttribute("aria-live", "polite");
    // the keys, said on screen where the stepping happens
    const keys = document.createElement("p");
    keys.className = "tl-keys";
    keys.id = "tl-keys";
    keys.dataset.i18n = "timeline.keys";
    c.append(this.status, keys);

    this.first.addEventListener("click", () => this.go(0));
    this.back.addEventListener("click", () => this.go(this.index - 1));
    this.fwd.addEventListener("click", () => this.go(this.index + 1));
    this.last.addEventListener("click", () => this.go(this.events.length - 1));
    this.play.addEventListener("click", () => this.toggle());
    this.speedSel.addEventListener("change", () => {
      this.speed = Number(this.speedSel.value);
      if (this.playing) this.schedule();
    });
    this.range.addEventListener("input", () => this.go(Number(this.range.value)));
  }

  setEvents(events, windows = []) {
    this.events = events;
    this.windows = windows;
    this.range.max = String(Math.max(0, events.length - 1));
    const frag = document.createDocumentFragment();
    const n = events.length;
    events.forEach((ev, i) => {
      const m = document.createElement("span");
      m.className = `tl-mark tl-${ev.kind}`;
      m.style.left = `${scrubPercent(i, n)}%`;
      frag.appendChild(m);
    });
    this.marks.replaceChildren(frag);
    if (this.index > n - 1) this.index = Math.max(0, n - 1);
  }

  setIndex(i) {
    this.index = i;
  }

  go(i) {
    if (!this.events.length) return;
    const k = Math.max(0, Math.min(this.events.length - 1, i));
    if (k !== this.index || Number(this.range.value) !== k) this.onSeek(k);
  }

  toggle(force = null) {
    const play = force === null ? !this.playing : force;
    if (play && this.index >= this.events.length - 1) this.go(0);
    this.playing = play;
    this.play.setAttribute("aria-pressed", String(play));
    this.play.dataset.i18nAria = play ? "timeline.pause" : "timeline.play";
    this.play.dataset.i18nTitle = this.play.dataset.i18nAria;
    this.play.setAttribute("aria-label", tr(this.play.dataset.i18nAria));
    this.play.setAttribute("title", tr(this.play.dataset.i18nAria));
    this.play.replaceChildren(icon(play ? "pause" : "play"));
    if (play) this.schedule();
    else clearTimeout(this.timer);
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.playing) return;
      if (this.index >= this.events.length - 1) {
        this.toggle(false);
        return;
      }
      this.go(this.index + 1);
      this.schedule();
    }, TIMING.playBaseMs / this.speed);
  }

  onKey(e) {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || e.isComposing) return;
    const keys = {
      ArrowRight: 1,
      ArrowLeft: -1,
      Home: "first",
      End: "last",
      " ": "play",
      Spacebar: "play",
    };
    const action = keys[e.key];
    if (action === undefined || keyRole(e.key, e.target) !== "step") return;
    if (action === "first") this.go(0);
    else if (action === "last") this.go(this.events.length - 1);
    else if (action === "play") this.toggle();
    else this.go(this.index + action);
    e.preventDefault();
  }

  draw() {
    const n = this.events.length;
    const i = this.index;
    this.range.value = String(i);
    this.first.disabled = i <= 0;
    this.back.disabled = i <= 0;
    this.fwd.disabled = i >= n - 1;
    this.last.disabled = i >= n - 1;
    const ev = this.events[i];
    if (!ev) {
      this.status.textContent = "";
      return;
    }
    const win =
      ev.window || this.windows[ev.update]
        ? ev.window || [this.windows[ev.update].first, this.windows[ev.update].last]
        : null;
    let text = tr(`timeline.status.${ev.kind}`, {
      i: i + 1,
      n,
      t: ev.t,
      u: (ev.update ?? 0) + 1,
      first: win ? win[0] : "",
      last: win ? win[1] : "",
    });
    // a stack of layers: the event's layer (its forward and backward steps carry one)
    if (ev.layer) text = tr("timeline.status.layer", { status: text, j: ev.layer });
    this.status.textContent = text;
    this.status.dataset.kind = ev.kind;
    this.range.setAttribute("aria-valuetext", text);
  }
}
