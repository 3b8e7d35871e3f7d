// When work that no input may wait for runs: only while the page is quiet. plotly.js (several
// MB of script whose evaluation is one long task that cannot be split) and the charts' drawing
// run after the user has left the keys and the pointer alone for a moment, one chart per task,
// so that a key pressed at any time is answered by the next frame.
import { TIMING } from "./config.js";

let lastInput = performance.now();
for (const type of ["keydown", "pointerdown", "wheel", "touchstart"]) {
  window.addEventListener(
    type,
    () => {
      lastInput = performance.now();
    },
    { capture: true, passive: true },
  );
}

const sleep = (ms) =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/** The next task (a message, which the browser runs before timers and after pending input). */
export function nextTask() {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(0);
  });
}

/** Resolve in an idle period of the main thread (at most `timeout` ms from now). */
export function idle(timeout = TIMING.idleTimeoutMs) {
  return new Promise((resolve) => {
    if (window.requestIdleCallback) window.requestIdleCallback(() => resolve(), { timeout });
    else setTimeout(resolve, 1);
  });
}

const inputPending = () => navigator.scheduling?.isInputPending?.() === true;

/**
 * Resolve once no key, click or wheel has come for `ms` milliseconds, in an idle period; the
 * wait starts again whenever input arrives meanwhile.
 */
export async function quiet(ms = TIMING.quietMs) {
  for (;;) {
    const wait = lastInput + ms - performance.now();
    if (wait > 0) await sleep(wait);
    else {
      await idle();
      if (performance.now() - lastInput >= ms && !inputPending()) return;
    }
  }
}

/** Yield to the browser (input first) before the next piece of chunked work. */
export async function yieldToInput() {
  await nextTask();
  while (inputPending()) await sleep(0);
}

/**
 * A plotting library whose react() runs each chart in a task of its own after any pending
 * input: drawing four charts is four short tasks, not one long one.
 */
export function paced(lib) {
  return Object.assign(Object.create(lib), {
    react: async (...args) => {
      await yieldToInput();
      return lib.react(...args);
    },
  });
}
