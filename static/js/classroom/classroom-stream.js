// A room's connection to the server (classroom.js): its event stream read over fetch (the
// teacher's stream carries a bearer token, which EventSource cannot send, and a refusal's
// status and Retry-After must be read), parsed as EventSource parses it, and reconnected with
// the last event's id so that nothing is missed; and the room's requests (open, send the
// state, answer, end). No DOM here.
const BASE = "/api/v1/rooms";

export class RoomError extends Error {
  constructor(status, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

async function refusal(res) {
  let message = `${res.status}`;
  try {
    message = (await res.json()).detail?.[0]?.msg || message;
  } catch {
    // a refusal without the API's JSON (a proxy's): its status says enough
  }
  const after = Number(res.headers.get("retry-after"));
  return new RoomError(res.status, message, Number.isFinite(after) && after > 0 ? after : null);
}

async function call(method, path, { body, token } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(`${BASE}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new RoomError(0, "network");
  }
  if (!res.ok) throw await refusal(res);
  return res.status === 204 ? null : res.json();
}

export const rooms = {
  open: () => call("POST", ""),
  setState: (room, token, state) => call("PUT", `/${room}/state`, { body: state, token }),
  answer: (room, body) => call("POST", `/${room}/answers`, { body }),
  end: (room, token) => call("DELETE", `/${room}`, { token }),
  qrUrl: (room, page) => `${BASE}/${room}/qr.svg?page=${encodeURIComponent(page)}`,
};

/** The events of one block of the stream: {name, data, id} or null (a comment, a retry). */
export function parseBlock(block) {
  let name = "message";
  let id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  return data.length ? { name, data: JSON.parse(data.join("\n")), id } : null;
}

/**
 * The room's events, live: onEvent({name, data, id}) for each; onStatus(kind, detail) as the
 * connection changes: "open", "retrying" (lost, or the room full: it tries again), "gone" (no
 * such room: 404), "refused" (401/403: the token is not the teacher's). Stops on "end", a
 * 404 or a refusal, or stop().
 */
export class RoomStream {
  constructor({ room, token = null, onEvent, onStatus }) {
    this.room = room;
    this.token = token;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.lastId = null;
    this.stopped = false;
    this.abort = null;
  }

  start() {
    this.run();
    return this;
  }

  stop() {
    this.stopped = true;
    this.abort?.abort();
  }

  async run() {
    let wait = 1;
    while (!this.stopped) {
      const outcome = await this.connect().catch((err) => err);
      if (this.stopped || outcome === "end") return;
      if (outcome instanceof RoomError && [401, 403, 404].includes(outcome.status)) {
        this.onStatus(outcome.status === 404 ? "gone" : "refused", outcome);
        return;
      }
      if (outcome === "opened") wait = 1; // it had been open: try again at once, then back off
      this.onStatus("retrying", outcome instanceof RoomError ? outcome : null);
      const retryAfter = outcome instanceof RoomError ? outcome.retryAfter : null;
      await new Promise((done) => setTimeout(done, (retryAfter ?? wait) * 1000));
      wait = Math.min(wait * 2, 15);
    }
  }

  /** One connection: "opened" when it was open and then closed, "end" when the room ended. */
  async connect() {
    this.abort = new AbortController();
    const headers = { Accept: "text/event-stream" };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (this.lastId !== null) headers["Last-Event-ID"] = this.lastId;
    let res;
    try {
      res = await fetch(`${BASE}/${this.room}/events`, {
        headers,
        signal: this.abort.signal,
        cache: "no-store",
      });
    } catch {
      return "lost";
    }
    if (!res.ok) throw await refusal(res);
    this.onStatus("open");
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return "opened";
        text += value.replace(/\r\n?/g, "\n");
        let cut = text.indexOf("\n\n");
        while (cut >= 0) {
          const event = parseBlock(text.slice(0, cut));
          text = text.slice(cut + 2);
          cut = text.indexOf("\n\n");
          if (!event) continue;
          if (event.id !== null) this.lastId = event.id;
          try {
            this.onEvent(event);
          } catch (err) {
            console.error(err); // a fault of the page's, never a reason to drop the stream
          }
          if (event.name === "end") {
            this.stopped = true;
            return "end";
          }
        }
      }
    } catch {
      return "opened";
    } finally {
      this.abort.abort(); // the connection is let go, whatever ended the reading
    }
  }
}
