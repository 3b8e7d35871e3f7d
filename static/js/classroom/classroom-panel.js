// The class panel (templates/classroom.html): draws what classroom.js tells it — which face
// (start, teacher, student, over), the code and QR code, how many follow, the answers so far,
// following or exploring — and calls back the buttons. It reads no state of its own.
import { applyTranslations, t, tp } from "../text/i18n.js";
import { ROOM_CODE } from "../state/state.js";

const $ = (id) => document.getElementById(id);

export class ClassPanel {
  /** on: {start, join(code), back, leave, end} */
  constructor(panel, on) {
    this.panel = panel;
    this.members = 0;
    this.shown = null; // what the student face says: "following", "exploring" or "waiting"
    $("class-start").addEventListener("click", () => on.start());
    $("class-join-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const code = $("class-code-input").value.trim();
      const error = $("class-join-error");
      error.hidden = ROOM_CODE.test(code);
      error.textContent = error.hidden ? "" : t("room.badCode");
      if (error.hidden) on.join(code.toUpperCase());
    });
    $("class-back").addEventListener("click", () => on.back());
    $("class-leave").addEventListener("click", () => on.leave());
    $("class-close").addEventListener("click", () => on.leave());
    $("class-end").addEventListener("click", () => on.end());
    const toggle = $("class-toggle-join");
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      toggle.dataset.i18n = open ? "room.hideJoin" : "room.showJoin";
      toggle.textContent = t(toggle.dataset.i18n);
      $("class-join").hidden = !open;
    });
  }

  show(open = true) {
    this.panel.hidden = !open;
  }

  face(name) {
    this.panel.dataset.face = name;
    this.show(true);
  }

  /** The teacher's face: the code, the link and its QR code for the students. */
  teacher(room, link, qrUrl) {
    this.face("teacher");
    $("class-code").textContent = room;
    $("class-link").textContent = link.replace(/^https?:\/\//, "");
    const qr = $("class-qr");
    qr.src = qrUrl;
    qr.alt = t("room.qrAlt");
    this.setMembers(0);
    this.tally(null);
  }

  setMembers(n) {
    this.members = n;
    const el = $("class-members");
    el.dataset.i18nPlural = "room.members";
    el.dataset.i18nN = String(n);
    el.textContent = tp("room.members", n);
  }

  /** The open question's answers so far (tally: {counts, answered, members}), or none. */
  tally(tally, labels = []) {
    const box = $("class-poll");
    box.hidden = !tally?.question;
    if (box.hidden) return;
    const most = Math.max(1, ...tally.counts);
    const bars = tally.counts.map((n, k) => {
      const li = document.createElement("li");
      li.className = "class-bar";
      const label = document.createElement("span");
      label.className = "class-bar-label";
      label.append(labels[k] ?? String(k + 1));
      const track = document.createElement("span");
      track.className = "class-bar-track";
      const fill = document.createElement("span");
      fill.className = "class-bar-fill";
      fill.style.width = `${(100 * n) / most}%`;
      track.append(fill);
      const count = document.createElement("span");
      count.className = "class-bar-count";
      count.textContent = String(n);
      li.dataset.count = String(n);
      li.append(label, track, count);
      return li;
    });
    $("class-bars").replaceChildren(...bars);
    $("class-answered").textContent = t("room.answered", {
      answered: tally.answered,
      members: Math.max(tally.members, tally.answered),
    });
  }

  /** The student's face: following the teacher, exploring (the way back shown), or waiting. */
  student(room, shown) {
    this.face("student");
    this.shown = shown;
    $("class-student-code").textContent = room;
    const state = $("class-student-state");
    state.dataset.i18n = `room.${shown}`;
    state.textContent = t(state.dataset.i18n);
    $("class-back").hidden = shown !== "exploring";
  }

  over(text) {
    this.face("over");
    $("class-over").textContent = text;
  }

  note(text = "") {
    $("class-note").textContent = text;
  }

  relabel() {
    applyTranslations(this.panel);
    $("class-qr").alt = t("room.qrAlt");
  }
}
