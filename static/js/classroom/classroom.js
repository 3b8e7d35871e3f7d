// Classroom mode: a teacher's page leads, the students' pages follow (app/rooms/; the JSON is
// docs/CONTRACT.md's "Classrooms"). The teacher's page sends its place — the scenario the API
// accepted, the event, the notation, the comparison, the lesson step, the open question and the example of a mini-batch shown —
// whenever it changes (one request in flight, the newest state wins); each student's page
// receives it on the room's event stream and shows the same place, unless the student has
// gone exploring (any change of their own), from where one tap brings them back. A lesson's
// predict-then-reveal question becomes a poll: students send their answers, the teacher sees
// them come in and reveals, and every student's panel reveals with them.
// main.js loads this module (and its CSS) when the class button is used or the URL names a
// room; it talks to the page only through the store, the studio's handle and the lessons
// runner's gate.
import { RoomStream, rooms } from "./classroom-stream.js";
import { ClassPanel } from "./classroom-panel.js";
import { setLanguage, t } from "../text/i18n.js";
import { rich } from "../lessons/lesson-formula.js";

const FOLLOWED = ["scenario", "event", "notation", "compare", "lesson", "example"];
const SEND_GAP_MS = 50; // at most 20 states a second, as BPTT_ROOMS_STATE_PER_S allows
const tokenKey = (room) => `bptt-room-teacher-${room}`;
const studentKey = (room) => `bptt-room-student-${room}`;
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

let instance = null;

/** The page's one classroom, made on first use with its stylesheet loaded. */
export async function attach(hooks) {
  if (!document.querySelector("link[data-classroom]")) {
    await new Promise((done) => {
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = "/static/css/classroom.css";
      link.dataset.classroom = "";
      link.addEventListener("load", done);
      link.addEventListener("error", done);
      document.head.append(link);
    });
  }
  instance ??= new Classroom(hooks);
  return instance;
}

/** The open lesson step's question id ("lesson/step"), or null. */
function questionOf(runner) {
  const current = runner?.current;
  if (!current?.lesson.steps[current.index].question) return null;
  return `${current.lesson.id}/${current.index + 1}`;
}

export class Classroom {
  /** store, studio (the handle, handle.js), lessons (loads the runner), button, panel */
  constructor({ store, studio, lessons, button, panel }) {
    this.store = store;
    this.studio = studio;
    this.loadLessons = lessons;
    this.runner = null;
    this.button = button;
    this.view = new ClassPanel(panel, {
      start: () => this.start(),
      join: (code) => this.follow(code),
      back: () => this.back(),
      leave: () => this.leave(),
      end: () => this.end(),
    });
    this.role = null; // "teacher", "student" or null
    this.room = null;
    this.token = null;
    this.stream = null;
    this.teacherState = null; // the newest state received (a student's page)
    this.version = 0;
    this.exploring = false;
    this.applying = false;
    this.revealed = null; // the question the teacher revealed
    this.sending = false;
    this.dirty = false;
    this.sent = "";
    this.tallyData = null;
    this.notice = ""; // what the panel keeps saying while connected (a refused token)
    store.addEventListener("change", (e) => this.onStore(e.detail.changed));
    studio.addEventListener("trace", () => this.schedule());
  }

  /** The class the URL names: led again by the tab that started it, else followed. */
  resume() {
    const room = this.store.get().room;
    if (!room) return;
    const token = sessionStorage.getItem(tokenKey(room));
    if (token) this.lead(room, token);
    else this.follow(room);
  }

  toggle() {
    const open = this.view.panel.hidden;
    this.view.show(open);
    this.button.setAttribute("aria-expanded", String(open));
  }

  async lessons() {
    this.runner ??= await this.loadLessons();
    this.runner.gate = (_step, chosen) => this.gate(chosen);
    this.runner.revealLabel = () => (this.classQuestion() ? t("room.send") : null);
    return this.runner;
  }

  mark() {
    const body = document.body.dataset;
    if (this.role) body.classRole = this.role;
    else delete body.classRole;
    body.classVersion = String(this.version);
    body.classFollowing = String(this.role === "student" && !this.exploring);
  }

  // ---- starting, joining, leaving ----------------------------------------------------------

  async start() {
    this.view.note();
    try {
      const { room, teacher_token: token } = await rooms.open();
      sessionStorage.setItem(tokenKey(room), token);
      this.lead(room, token);
    } catch (err) {
      this.view.note(t("room.failed", { status: err.status || err.message }));
    }
  }

  lead(room, token) {
    this.stop();
    Object.assign(this, { role: "teacher", room, token, sent: "", revealed: null });
    this.store.update({ room });
    const page = `${window.location.origin}${window.location.pathname}`;
    this.view.teacher(room, `${page}?room=${room}`, rooms.qrUrl(room, page));
    this.button.setAttribute("aria-expanded", "true");
    this.stream = new RoomStream({
      room,
      token,
      onEvent: (e) => this.onTeacherEvent(e),
      onStatus: (kind, err) => this.onStatus(kind, err),
    }).start();
    this.lessons().then(() => this.schedule());
    this.mark();
    this.schedule();
  }

  follow(room) {
    this.stop();
    Object.assign(this, { role: "student", room, token: null, exploring: false });
    this.teacherState = null;
    this.store.update({ room });
    this.view.student(room, "waiting");
    this.stream = new RoomStream({
      room,
      onEvent: (e) => this.onStudentEvent(e),
      onStatus: (kind, err) => this.onStatus(kind, err),
    }).start();
    this.lessons();
    this.mark();
  }

  stop() {
    this.stream?.stop();
    this.stream = null;
  }

  leave() {
    this.stop();
    this.notice = "";
    this.role = null;
    this.room = null;
    this.view.note();
    this.view.face("start");
    this.store.update({ room: null });
    this.runner?.view.render({ focus: false }); // the reveal button is "Reveal" again
    this.mark();
  }

  async end() {
    try {
      await rooms.end(this.room, this.token);
    } catch (err) {
      if (err.status !== 404) {
        this.view.note(err.message);
        return;
      }
    }
    this.over("room.ended");
  }

  over(key) {
    this.stop();
    const room = this.room;
    this.role = null;
    this.view.over(t(key, { code: room }));
    this.store.update({ room: null });
    this.mark();
  }

  onStatus(kind, err) {
    if (kind === "open") this.view.note(this.notice);
    else if (kind === "retrying") {
      this.view.note(t(err?.status === 429 ? "room.full" : "room.reconnecting"));
    } else if (kind === "gone") this.over("room.gone");
    else if (kind === "refused" && this.role === "teacher") {
      // this tab holds a token the room does not know: it follows the class instead
      sessionStorage.removeItem(tokenKey(this.room));
      const room = this.room;
      this.follow(room);
      this.notice = t("room.refused", { code: room }); // stays while the page follows
      this.view.note(this.notice);
    }
  }

  // ---- the teacher's page: its place, sent -------------------------------------------------

  state() {
    const s = this.store.get();
    const question = questionOf(this.runner);
    const step = question ? this.runner.current.lesson.steps[this.runner.current.index] : null;
    return {
      scenario: this.store.accepted,
      event: s.event,
      notation: s.notation,
      compare: s.compare,
      lesson: s.lesson,
      example: s.example,
      poll: question
        ? {
            question,
            options: step.question.options.length,
            revealed: this.revealed === question || Boolean(this.runner.reveal),
          }
        : null,
    };
  }

  schedule() {
    if (this.role !== "teacher") return;
    this.dirty = true;
    if (!this.sending) this.flush();
  }

  /** Send the newest state, one request at a time; a refusal by rate waits its Retry-After. */
  async flush() {
    this.sending = true;
    while (this.dirty && this.role === "teacher") {
      this.dirty = false;
      const state = this.state();
      const json = JSON.stringify(state);
      if (json === this.sent) continue;
      try {
        const { version } = await rooms.setState(this.room, this.token, state);
        this.sent = json;
        this.version = version;
        this.mark();
        this.drawTally();
      } catch (err) {
        if (err.status === 401 || err.status === 403) {
          this.onStatus("refused", err);
          break;
        }
        if (err.status === 404) {
          this.over("room.expired");
          break;
        }
        if (err.status === 413 || err.status === 422) this.view.note(err.message);
        else {
          this.dirty = true;
          await sleep((err.retryAfter ?? 1) * 1000);
        }
      }
      await sleep(SEND_GAP_MS);
    }
    this.sending = false;
  }

  onTeacherEvent(e) {
    if (e.name === "tally") {
      this.tallyData = e.data;
      this.view.setMembers(e.data.members);
      this.drawTally();
    } else if (e.name === "end")
      this.over(e.data.reason === "expired" ? "room.expired" : "room.ended");
  }

  /** The tally of the question open on this page, its options labelled as the panel's. */
  drawTally() {
    const question = questionOf(this.runner);
    const tally = question && this.tallyData?.question === question ? this.tallyData : null;
    if (!tally) {
      this.view.tally(null);
      return;
    }
    const r = this.runner;
    const { lesson, index } = r.current;
    const texts = (r.texts[r.lang()] || r.texts.en).lessons[lesson.id].steps[index];
    const ctx = r.ctx(lesson.steps[index]);
    this.view.tally(
      tally,
      texts.options.map((text) => rich(text, r.values, ctx)),
    );
  }

  // ---- a student's page: following -------------------------------------------------------

  onStudentEvent(e) {
    if (e.name === "state") {
      this.teacherState = e.data.state;
      this.version = e.data.version;
      if (!this.exploring) {
        this.view.student(this.room, "following");
        this.applyNewest();
      }
    } else if (e.name === "end")
      this.over(e.data.reason === "expired" ? "room.expired" : "room.ended");
  }

  /** Show the newest state; states that come meanwhile wait, and only the newest is shown. */
  async applyNewest() {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        await this.apply(this.teacherState);
      } while (this.again && !this.exploring && this.role === "student");
    } finally {
      this.busy = false;
      this.mark();
    }
  }

  async apply(state) {
    this.applying = true;
    try {
      const runner = state.lesson || this.runner?.current ? await this.lessons() : null;
      const current = runner?.current;
      if (state.lesson) {
        const same =
          current?.lesson.id === state.lesson.id && current.index === state.lesson.step - 1;
        if (!same) await runner.open(state.lesson.id, state.lesson.step);
      } else if (current) runner.leave();
      await this.studio.loadScenario(state.scenario, {
        event: state.event,
        compare: state.compare,
      });
      this.store.update({
        notation: state.notation,
        event: state.event,
        example: state.example ?? 0, // (a state from before the field: the first example)
      });
      const poll = state.poll;
      if (
        poll?.revealed &&
        runner?.current &&
        !runner.reveal &&
        questionOf(runner) === poll.question
      ) {
        await runner.doReveal({ byTeacher: true });
      } else if (runner?.current) runner.view.render({ focus: false }); // the button's label
    } finally {
      this.applying = false;
    }
  }

  /** A change of the student's own: they explore until they tap back. */
  onStore(changed) {
    if (changed.has("lang")) setLanguage(this.store.get().lang).then(() => this.relabel());
    if (this.role === "teacher") {
      if (FOLLOWED.some((k) => changed.has(k))) this.schedule();
      return;
    }
    if (this.role !== "student" || this.applying || this.exploring || !this.teacherState) return;
    const s = this.store.get();
    const differs = (k) =>
      JSON.stringify(k === "scenario" ? this.store.accepted : s[k]) !==
      JSON.stringify(this.teacherState[k]);
    if (
      FOLLOWED.some((k) => changed.has(k) && k !== "scenario" && differs(k)) ||
      (changed.has("scenario") &&
        JSON.stringify(s.scenario) !== JSON.stringify(this.teacherState.scenario))
    ) {
      this.exploring = true;
      this.view.student(this.room, "exploring");
      this.mark();
    }
  }

  back() {
    this.exploring = false;
    this.view.student(this.room, this.teacherState ? "following" : "waiting");
    this.mark();
    if (this.teacherState) this.applyNewest();
  }

  // ---- polls -------------------------------------------------------------------------------

  /** The class's open question, when the student's lesson panel shows it unrevealed. */
  classQuestion() {
    const poll = this.teacherState?.poll;
    const question = questionOf(this.runner);
    return this.role === "student" && poll && !poll.revealed && poll.question === question
      ? question
      : null;
  }

  studentId() {
    let id = sessionStorage.getItem(studentKey(this.room));
    if (!id) {
      id = crypto.randomUUID().replaceAll("-", "");
      sessionStorage.setItem(studentKey(this.room), id);
    }
    return id;
  }

  /** The lessons runner asks before a reveal (lessons.js gate). */
  async gate(chosen) {
    if (this.role === "teacher") {
      const question = questionOf(this.runner);
      if (!question) return null;
      this.revealed = question; // every student's panel reveals with the teacher's
      this.schedule();
      return "reveal";
    }
    const question = this.classQuestion();
    if (!question) return null; // a question of their own exploring: they reveal it alone
    const status = (text) => this.runner.view.renderStatus(text);
    if (chosen === null) {
      status(t("room.chooseFirst"));
      return "hold";
    }
    try {
      await rooms.answer(this.room, { question, option: chosen, student: this.studentId() });
      status(t("room.sent"));
    } catch (err) {
      status(t("room.sendFailed", { msg: err.message }));
    }
    return "hold";
  }

  relabel() {
    this.view.relabel();
    this.drawTally();
  }
}
