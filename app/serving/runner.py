"""Computations in child processes that can be ended: a deadline and a departed client stop
the CPU work itself, not just the waiting for it.

Each worker process of the server keeps a ``ComputePool``: ``compute_processes`` child
processes, each running one request's ``Work`` at a time. The worker validates the request
and admits it (the endpoint's admission, app/endpoints/endpoint.py: the plan, judged by the
limits and the cost model, in a thread, in a few milliseconds), so a refusal is answered at
once and never waits in the queue; it then sends the work (a function by reference and its
plain arguments: the plan, the options, the settings) to a child over a socket and awaits the
answer, so ``/api/v1/health`` and cache hits never wait behind a computation. Nothing here
knows an endpoint: the work says what to run, and the fork server's warm-up is given to the
pool by whoever makes it (app/main.py).

    request ──validated──▶ admitted? ──no──▶ 422 (413), at once
                              │ yes
                              ▼
                          pool.compute ──▶ a free child? ──yes──▶ run it, await the reply
                                            │ no                    │ past the deadline: kill, 504
                                            ▼                       │ client gone: kill
                               queue full? ──yes──▶ 503 + Retry-After, at once
                                            │ no
                                            ▼
                               wait for a child (at most queue_timeout_s, else 503)

Why processes: a thread cannot be stopped from outside, and a NumPy loop never checks a flag;
a process can be killed, and the kernel takes its memory back at once. Why a fork server: the
children are forked from a small process that imported the engine once (and ran its warm-up),
so a replacement is ready in about 5 ms with no CPU spent importing; ``spawn`` took 0.24 s and
0.35 CPU-seconds per replacement (measured here), and a killed child is replaced after every
deadline and every departed client. Forking the worker itself would be unsafe: it runs
threads (uvicorn's supervisor ping, the fork thread below). Python's own ``forkserver`` start
method was the first choice, but it re-imports the parent's ``__main__`` in every child (a
test runner, a script), so this module keeps its own fork server, in about 50 lines
(``zygote_main``).

Memory: each child limits its own address space to its idle size plus ``compute_memory_mb``
(``RLIMIT_AS``), so no computation can take more; NumPy then raises ``MemoryError``, which
becomes a 422. After a computation, a child whose resident memory is still above
``compute_recycle_mb`` once glibc has been asked to give its free heap back (``malloc_trim``),
or that has run ``compute_max_tasks`` computations, exits and is replaced, so a worker returns
near its idle size after a burst.

Nothing outlives the worker: the fork server exits when the worker's end of its control
socket closes (the worker exits, or is killed), and each child asks the kernel for SIGKILL
when the fork server exits (``PR_SET_PDEATHSIG``); an idle child also exits when its own
socket closes.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import gc
import logging
import math
import os
import pickle
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from bptt_studio.core.errors import ApiError
from bptt_studio.core.settings import Settings

logger = logging.getLogger("bptt_studio.serving.runner")

# Frames on the socket between a worker and a child. Worker to child: a length, then the
# pickled settings (the first frame) or task (a Work's run and args). Child to worker:
# the reply (kind, a length, then the response bytes (kind OK) or an error as JSON (kind
# ERROR)), and once it has tidied its heap, its state (retiring or not, its RSS).
FRAME = struct.Struct("!Q")
REPLY = struct.Struct("!BQ")
STATE = struct.Struct("!BQ")
PID = struct.Struct("!q")
OK, ERROR = 0, 1
PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024
PR_SET_PDEATHSIG = 1
# One BLAS thread per process (the fork server imports NumPy with this environment): the
# parallelism comes from processes, and a fixed count keeps results byte-identical anywhere.
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# The requests waiting in the queue hold at most this much (their pickled tasks; as parsed and
# validated objects in the worker, about ten times as much): eight requests of the largest
# explicit LSTM (0.94 MB pickled each, from a 2.2 MB body), fewer of the most numbers the
# schema lets a request hold (2.4 MB pickled), before the queue's count is reached.
QUEUE_BYTES = 8 * MB
# Longest a child may take to tidy its heap after a reply (malloc_trim took 0.1 s at most).
SETTLE_TIMEOUT_S = 10.0
# Errors after which a child is replaced rather than reused: its heap may be in any state.
RETIRING_ERRORS = frozenset({"memory_limit", "internal_error"})


@dataclass(frozen=True)
class Work:
    """A computation, as a child runs it: ``run(*args)``, the response bytes. ``run`` is a
    module-level function (pickled by reference: the child imports its module) and ``args``
    plain, picklable values; ``cpu_seconds`` is the cost model's estimate of it, which the
    pool weighs against its deadline."""

    run: Callable[..., bytes]
    args: tuple[Any, ...]
    cpu_seconds: float = 0.0

    def task(self) -> bytes:
        """The frame a child reads: the run function and its arguments, pickled."""
        return pickle.dumps((self.run, self.args), protocol=pickle.HIGHEST_PROTOCOL)


class ClientGone(Exception):  # noqa: N818 - an event, not an error of ours
    """The client closed its connection while its request waited or ran."""


def rss_bytes(pid: int | str = "self") -> int:
    """Resident memory of a process, from /proc (0 once it has gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = sock.recv(min(size, MB))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _recv_frame(sock: socket.socket) -> bytes | None:
    head = _recv_exactly(sock, FRAME.size)
    return None if head is None else _recv_exactly(sock, FRAME.unpack(head)[0])


def _frame(payload: bytes) -> bytes:
    return FRAME.pack(len(payload)) + payload


# ---------------------------------------------------------------------------------------------
# A computation process.


def _die_with_parent() -> None:
    """SIGKILL when the fork server (our parent) exits, so no orphan computes on."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _leave_signals_to_the_worker() -> None:
    """Ctrl-C in a terminal, or SIGTERM to the process group, reaches the fork server and the
    children too; the worker ends them itself, after its own shutdown, so they ignore both
    (they still exit with the worker: the sockets close, and the kernel's PDEATHSIG)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


M_MMAP_THRESHOLD = -3  # mallopt's parameter (glibc's malloc.h)
LARGE_BLOCK = MB


def release_large_blocks_when_freed() -> None:
    """Blocks of LARGE_BLOCK and more straight from the system (mmap), in this process, so
    that a freed response buffer goes back to the system at once. glibc's threshold is
    dynamic: once a large block is freed it rises (up to 32 MB) and later large blocks come
    from the heap, which keeps them resident after they are freed: 60 dropped readers of a
    7 MB response left the worker at 351 MB, its idle size being 79."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK)


def _trim_heap() -> None:
    """Give glibc's free heap pages back to the kernel (malloc_trim), where there is glibc."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def _memory_message(settings: Settings) -> str:
    return (f"this computation needs more memory than one request may use on this server "
            f"({settings.compute_memory_mb} MB, BPTT_COMPUTE_MEMORY_MB); ask for less: a "
            f"smaller hidden_size, a shorter sequence, truncation windows that overlap less "
            f"(k2 closer to k1), fewer iterations, or \"diagnostics\": false")


def _run_one(task: bytes, settings: Settings) -> tuple[int, bytes, bool]:
    """(kind, payload, retire) of one task; every exception becomes an error payload."""
    from bptt_studio.engine import RequestError

    failure: tuple[int, tuple[Any, ...], str, str]
    try:
        run, args = pickle.loads(task)
        return OK, run(*args), False
    except RequestError as exc:
        failure = (422, ("body", *exc.loc), exc.msg, "value_error")
    except ApiError as exc:
        failure = (exc.status_code, exc.loc, exc.msg, exc.type)
    except MemoryError:
        failure = (422, ("body",), _memory_message(settings), "memory_limit")
    except Exception:  # a bug: its traceback goes to the worker's stderr, never to the client
        traceback.print_exc(file=sys.stderr)
        failure = (500, (), "the computation failed unexpectedly; the server's log has the "
                            "details", "internal_error")
    # Here, outside the except blocks, the traceback and the arrays its frames held are gone.
    status, loc, msg, type_ = failure
    error = orjson.dumps({"status": status, "loc": list(loc), "msg": msg, "type": type_})
    return ERROR, error, type_ in RETIRING_ERRORS


def child_main(sock: socket.socket) -> None:
    """A computation process: its settings first, then tasks until the socket closes or it is
    time to retire."""
    _die_with_parent()
    _leave_signals_to_the_worker()
    blob = _recv_frame(sock)
    if blob is None:
        return
    settings: Settings = pickle.loads(blob)
    with open("/proc/self/statm", "rb") as handle:
        idle_size = int(handle.read().split()[0]) * PAGE
    limit = idle_size + settings.compute_memory_mb * MB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    recycle = settings.compute_recycle_mb * MB
    done = 0
    while True:
        task = _recv_frame(sock)
        if task is None:
            return  # the worker closed the socket
        kind, payload, retire = _run_one(task, settings)
        del task
        sock.sendall(REPLY.pack(kind, len(payload)))
        sock.sendall(payload)
        del payload
        # After the reply, so the client does not wait for it: glibc keeps the heap a large
        # computation grew (467 MB after the costly BPTT(1, 2) trace); malloc_trim gives it
        # back (70 MB, in 0.1 s). A child still over the bound after that is replaced.
        done += 1
        rss = rss_bytes()
        if rss > recycle:
            _trim_heap()
            rss = rss_bytes()
        retire = retire or rss > recycle or done >= settings.compute_max_tasks
        sock.sendall(STATE.pack(retire, rss))
        if retire:
            return


# ---------------------------------------------------------------------------------------------
# The fork server: a process that imported the engine once and forks a child on request.


def zygote_main(control_fd: int, warm_up: str | None = None) -> None:
    """The fork server's loop: one fork per request on the control socket.

    Each request carries one end of a socket pair (SCM_RIGHTS); the fork serves it and the
    server answers the child's pid. Children are reaped as soon as they end (SIGCHLD), so
    their CPU time adds up in this process's counters (/proc/PID/stat cutime, cstime). The
    server exits when the worker closes the control socket, and its children follow it.
    ``warm_up``: "module:function", called once before the first fork (see ``_warm_up``).
    """
    control = socket.socket(fileno=control_fd)
    _leave_signals_to_the_worker()
    if warm_up is not None:
        _warm_up(warm_up)
    gc.collect()
    gc.freeze()  # what is imported stays shared with the children (the collector skips it)

    def reap(signum: int, frame: Any) -> None:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass

    signal.signal(signal.SIGCHLD, reap)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1, 1)
        except OSError:
            return
        if not message or not fds:
            return  # the worker is gone
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                control.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                child_main(socket.socket(fileno=fds[0]))
            except BaseException:  # a child never returns into the server's loop
                traceback.print_exc(file=sys.stderr)
                code = 1
            finally:
                os._exit(code)
        os.close(fds[0])
        control.sendall(PID.pack(pid))


def _warm_up(reference: str) -> None:
    """Import the modules the children run and make one small computation (the function
    named "module:function" does both), so what NumPy and the engine set up on first use is
    set up here, once, and every child starts ready (a fresh child's first request took 45-75
    ms where the next took 5)."""
    import importlib

    module, _, name = reference.partition(":")
    try:
        with contextlib.redirect_stdout(sys.stderr):
            getattr(importlib.import_module(module), name)()
    except Exception:  # a warm-up only: the first request would meet the same error
        logger.exception("the fork server's warm-up computation failed")


class ForkServer:
    """A worker's handle on its fork server (blocking calls, made under ``_server_lock``)."""

    def __init__(self, warm_up: str | None = None) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        for name in BLAS_THREADS:
            env.setdefault(name, "1")
        code = (f"from bptt_studio.serving.runner import zygote_main; "
                f"zygote_main({theirs.fileno()}, {warm_up!r})")
        # A session of its own: a signal to the server's process group (Ctrl-C, a test's
        # killpg) does not reach it, even while it imports; the worker ends it (EOF).
        self.process = subprocess.Popen(  # our own interpreter, our own module
            [sys.executable, "-c", code], pass_fds=[theirs.fileno()], env=env,
            stdin=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        self.control = ours

    def fork(self) -> tuple[int, socket.socket]:
        """(pid, socket) of a new child, waiting for its settings."""
        ours, theirs = socket.socketpair()
        try:
            socket.send_fds(self.control, [b"F"], [theirs.fileno()])
        finally:
            theirs.close()
        answer = _recv_exactly(self.control, PID.size)
        if answer is None:
            ours.close()
            raise OSError("the fork server has exited")
        return PID.unpack(answer)[0], ours

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        self.control.close()  # the server exits at EOF, its children with it
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(2)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


_server: ForkServer | None = None
_server_lock = threading.Lock()


def _fork(warm_up: str | None = None) -> tuple[int, socket.socket]:
    """A new child from this process's fork server, started (or restarted) when needed, with
    ``warm_up`` ("module:function"; the first pool's of the process). Blocking: the first
    call waits for the server to import the engine (about 0.3 s)."""
    global _server
    with _server_lock:
        if _server is not None and not _server.alive():
            _server.close()
            _server = None
        if _server is None:
            _server = ForkServer(warm_up)
            atexit.register(_server.close)
        return _server.fork()


def fork_server_pid() -> int | None:
    """Process id of this process's fork server, once started (for tests and benches)."""
    server = _server
    return server.process.pid if server is not None else None


# ---------------------------------------------------------------------------------------------
# The worker's side.


class _Child:
    """One computation process, seen from the worker: its pid (and pidfd) and its streams."""

    def __init__(self, pid: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.pid = pid
        # A pidfd names this very process even after its pid is reused by another one.
        self.pidfd: int | None = None
        with contextlib.suppress(OSError, AttributeError):
            self.pidfd = os.pidfd_open(pid)
        self.reader = reader
        self.writer = writer
        self.loop = loop
        self.retiring = False
        self.rss = 0

    async def run(self, task: bytes) -> tuple[int, bytes]:
        self.writer.write(_frame(task))
        await self.writer.drain()
        kind, length = REPLY.unpack(await self.reader.readexactly(REPLY.size))
        return kind, await self.reader.readexactly(length)

    async def settle(self) -> None:
        """Wait for the child's state after a reply: retiring or not, and its RSS."""
        retiring, self.rss = STATE.unpack(await self.reader.readexactly(STATE.size))
        self.retiring = bool(retiring)

    def end(self, kill: bool) -> None:
        """Close the socket (an idle child exits at EOF); with ``kill``, SIGKILL it first."""
        if kill:
            with contextlib.suppress(ProcessLookupError, OSError):
                if self.pidfd is not None:
                    signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
                else:
                    os.kill(self.pid, signal.SIGKILL)
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        self.writer.close()


def _end_all(children: set[_Child]) -> None:
    """Kill every child (also when a pool that was never closed is collected)."""
    for child in list(children):
        with contextlib.suppress(Exception):
            child.end(kill=True)
    children.clear()


class ComputePool:
    """Bounded computation for one worker process: N children, a bounded queue, a deadline.

    Everything runs on the worker's event loop; the only blocking call (asking the fork server
    for a child) runs in one thread of the pool's own. The fork server is one per process,
    shared by every pool in it (a test suite makes many apps).
    """

    def __init__(self, settings: Settings, warm_up: Callable[[], None] | None = None) -> None:
        """``warm_up``: a module-level function the fork server calls once, before its first
        fork: it imports what the children run and makes a small computation."""
        self.settings = settings
        self._warm_up = None if warm_up is None else f"{warm_up.__module__}:{warm_up.__qualname__}"
        self.size = settings.compute_processes
        self._settings_frame = _frame(pickle.dumps(settings, protocol=pickle.HIGHEST_PROTOCOL))
        self._idle: list[_Child] = []
        self._waiters: deque[asyncio.Future[_Child]] = deque()
        self._queued_bytes = 0  # the pickled tasks of the requests waiting
        self._children: set[_Child] = set()  # every child alive, idle or running
        self._alive = 0  # children alive or starting
        self._running = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bptt-fork")
        self._task_seconds = 1.0  # moving average of a computation's duration, for Retry-After
        # moving ratio of a computation's wall time to the cost model's CPU seconds for it
        self._slowdown = 1.0
        self._started: list[float] = []  # when each running computation started
        self._closed = False
        self._background: set[asyncio.Task[None]] = set()
        self._finalizer = weakref.finalize(self, _end_all, self._children)

    # -- public ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the children in the background (they are also started on first use)."""
        self._bind_loop()
        while self._alive < self.size and not self._closed:
            self._alive += 1
            self._in_background(self._spawn())

    async def compute(self, admit: Callable[[], Work],
                      disconnected: Callable[[], Awaitable[None]]) -> bytes:
        """The response bytes of the work ``admit()`` returns: admitted here, in a thread, run
        in a child.

        Raises what ``admit`` raises when the request is refused (``RequestError`` or
        ``ApiError``, 422 or 413: at once, before any queue), ``ApiError``: the child's own
        errors, 503 busy (with Retry-After), 504 past the deadline, 500 if the child died;
        ``ClientGone`` when ``disconnected()`` returns first (the child is then killed).
        """
        if self._closed:
            raise self._busy("the server is shutting down")
        if self._queue_full():
            # the answer is 503 whatever the request: it is not planned (a client that
            # retries at once on every 503 cost the worker its plan and cost model each time)
            raise self._busy(self._queue_full_message())
        # In a thread: a large explicit request takes some milliseconds to plan, and the event
        # loop keeps answering /api/v1/health meanwhile.
        work = await asyncio.to_thread(admit)
        estimate = work.cpu_seconds
        task = work.task()
        del work  # the pickled task is what the queue holds
        watcher = asyncio.ensure_future(disconnected())
        try:
            child = await self._acquire(watcher, len(task))
            if self._would_miss_deadline(estimate):
                self._release(child)
                raise self._busy(self._overloaded_message(estimate))
            return await self._run(child, task, watcher, estimate)
        finally:
            watcher.cancel()

    async def close(self) -> None:
        """Kill every child (the server's shutdown). The fork server stays for the process,
        and a later request starts new children: an app may be served again (a test client
        after another one)."""
        self._closed = True
        for waiter in self._waiters:
            waiter.cancel()
        self._waiters.clear()
        self._idle.clear()
        # Children being started finish starting (a few ms) and end themselves (_spawn sees
        # the pool closed): cancelling them would lose the socket of a fork under way.
        if self._background:
            await asyncio.wait(list(self._background), timeout=10)
        _end_all(self._children)
        self._alive = self._running = 0
        self._loop = None
        self._closed = False

    # -- scheduling -----------------------------------------------------------------------

    def _bind_loop(self) -> None:
        """A child's socket belongs to one event loop: a new loop (a new test client, say)
        gets new children."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        _end_all(self._children)
        self._idle.clear()
        self._waiters.clear()
        self._alive = self._running = self._queued_bytes = 0
        self._started.clear()
        self._loop = loop

    def _queue_full(self) -> bool:
        """No child free and every place in the queue taken: a request now is a 503."""
        return not (self._idle and not self._waiters) and (
            len(self._waiters) >= self.settings.compute_queue)

    def _queue_full_message(self) -> str:
        return (f"the server is busy: {self._running} computations are running and "
                f"{len(self._waiters)} more are waiting, the most it queues "
                f"(BPTT_COMPUTE_QUEUE)")

    async def _acquire(self, watcher: asyncio.Future[None], size: int) -> _Child:
        self.start()
        if self._idle and not self._waiters:
            return self._idle.pop()
        if self._queue_full():
            raise self._busy(self._queue_full_message())
        if self._queued_bytes + size > QUEUE_BYTES and self._waiters:
            raise self._busy(f"the server is busy: the requests waiting hold "
                             f"{self._queued_bytes / MB:.1f} MB, the most it queues")
        waiter: asyncio.Future[_Child] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._queued_bytes += size
        try:
            pending: set[asyncio.Future[Any]] = {waiter, watcher}
            done, _ = await asyncio.wait(pending, timeout=self.settings.queue_timeout_s,
                                         return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            self._abandon(waiter)
            raise
        finally:
            self._queued_bytes -= size
        if waiter in done:
            return waiter.result()
        self._abandon(waiter)
        if watcher in done:
            raise ClientGone
        raise self._busy(f"the server is busy: no computation process became free within "
                         f"{self.settings.queue_timeout_s:g} s (BPTT_QUEUE_TIMEOUT_S)")

    def _abandon(self, waiter: asyncio.Future[_Child]) -> None:
        """Leave the queue; a child handed over meanwhile goes to the next in line."""
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)
        if waiter.done() and not waiter.cancelled():
            self._release(waiter.result())
        else:
            waiter.cancel()

    def _would_miss_deadline(self, estimate: float) -> bool:
        """Whether a computation the cost model prices at ``estimate`` CPU seconds is expected
        to pass the deadline now: its estimate times how much longer than their estimates the
        recent computations took (the machine's load; at most 1 on an idle machine, whose
        computations take less than the conservative estimate). Started anyway, it would be
        killed at the deadline and its work thrown away, and the CPU it took would slow the
        others."""
        return self._slowdown > 1.0 and estimate * self._slowdown > (
            self.settings.compute_deadline_s)

    def _overloaded_message(self, estimate: float) -> str:
        return (f"the server is loaded: computations take {self._slowdown:.1f} times their "
                f"estimate now, so this one (about {estimate:.1f} CPU-seconds) would not "
                f"finish within the deadline of {self.settings.compute_deadline_s:g} s "
                f"(BPTT_COMPUTE_DEADLINE_S) and is not started")

    def _learn_slowdown(self, estimate: float, wall_seconds: float) -> None:
        """The moving ratio of a computation's wall time to its estimated CPU seconds."""
        if estimate > 0.05:  # tiny ones are mostly fixed costs: their ratio says little
            ratio = wall_seconds / estimate
            self._slowdown = 0.7 * self._slowdown + 0.3 * ratio

    async def _run(self, child: _Child, task: bytes, watcher: asyncio.Future[None],
                   estimate: float = 0.0) -> bytes:
        self._running += 1
        started = time.monotonic()
        self._started.append(started)
        running = asyncio.ensure_future(child.run(task))
        answered = False
        try:
            pending: set[asyncio.Future[Any]] = {running, watcher}
            done, _ = await asyncio.wait(pending, timeout=self.settings.compute_deadline_s,
                                         return_when=asyncio.FIRST_COMPLETED)
            if running in done:
                try:
                    kind, payload = running.result()
                except (OSError, asyncio.IncompleteReadError, struct.error):
                    raise ApiError(500, (), "the computation process ended unexpectedly; the "
                                            "server's log may say why", "internal_error",
                                   ) from None
                answered = True
                if kind == OK:
                    return payload
                error = orjson.loads(payload)
                raise ApiError(error["status"], tuple(error["loc"]), error["msg"],
                               error["type"])
            if watcher in done:
                raise ClientGone
            seconds = self._retry_after()
            raise ApiError(504, (), f"the computation took longer than the server's deadline "
                                    f"of {self.settings.compute_deadline_s:g} s "
                                    f"(BPTT_COMPUTE_DEADLINE_S) and was stopped; ask for less: "
                                    f"a smaller hidden_size, a shorter sequence, fewer "
                                    f"iterations, or \"diagnostics\": false; or retry after "
                                    f"{seconds} s, when the server may be less loaded",
                           "deadline_exceeded", headers={"Retry-After": str(seconds)})
        finally:
            self._running -= 1
            with contextlib.suppress(ValueError):  # (a pool rebound to a new loop forgot it)
                self._started.remove(started)
            elapsed = time.monotonic() - started
            self._task_seconds = 0.8 * self._task_seconds + 0.2 * elapsed
            if answered or elapsed >= self.settings.compute_deadline_s:  # (not a client gone)
                self._learn_slowdown(estimate, elapsed)
            if answered:
                self._in_background(self._settle(child))
            else:
                running.cancel()
                self._replace(child, kill=True)

    async def _settle(self, child: _Child) -> None:
        """After its reply, the child tidies its heap; then it is free again, or replaced."""
        try:
            async with asyncio.timeout(SETTLE_TIMEOUT_S):
                await child.settle()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, struct.error):
            self._replace(child, kill=True)
            return
        if child.retiring:
            logger.debug("computation process %d retires at %.0f MB", child.pid,
                         child.rss / MB)
            self._replace(child, kill=False)
        else:
            self._release(child)

    def _release(self, child: _Child) -> None:
        """Hand a free child to the first in the queue, or keep it idle."""
        if self._closed or child.loop is not self._loop:
            self._replace(child, kill=True)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(child)
                return
        self._idle.append(child)

    def _replace(self, child: _Child, kill: bool) -> None:
        """Retire a child (killing it, if it may still be computing) and start another."""
        child.end(kill)
        self._children.discard(child)
        if child.loop is self._loop and not self._closed:
            self._alive -= 1
            self.start()

    async def _spawn(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            pid, sock = await loop.run_in_executor(self._executor, _fork, self._warm_up)
            reader, writer = await asyncio.open_unix_connection(sock=sock, limit=MB)
        except Exception:
            if not self._closed:
                logger.exception("could not start a computation process")
                await asyncio.sleep(1.0)  # no tight loop of failures
            if loop is self._loop:
                self._alive -= 1
            return
        writer.write(self._settings_frame)
        child = _Child(pid, reader, writer, loop)
        self._children.add(child)
        self._release(child)

    def _in_background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _retry_after(self) -> int:
        """Seconds until a place is expected to free: the soonest end of a running
        computation (each is expected to take the recent mean), at least 1, at most 60.
        (The time until the whole queue has run, which this said before, was the wait of the
        last in line: 20-39 s when a computation took 2-5 s.)"""
        now = time.monotonic()
        ends = [max(0.0, self._task_seconds - (now - started)) for started in self._started]
        soonest = min(ends) if ends else self._task_seconds / self.size
        return min(60, max(1, math.ceil(soonest)))

    def _busy(self, msg: str) -> ApiError:
        seconds = self._retry_after()
        return ApiError(503, (), f"{msg}; retry after {seconds} s", "busy",
                        headers={"Retry-After": str(seconds)})
