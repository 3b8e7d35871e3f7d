"""A server's CPU time and memory, read from outside through /proc (Linux).

A server here is a tree of processes: the uvicorn worker(s), each worker's fork server and
its computation processes. CPU time is summed over the tree's live processes, each counting
its own time and that of its children it has reaped (utime + stime + cutime + cstime), so
the time of a killed computation process stays counted (in its fork server's cutime).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces: split after its closing parenthesis
    return text[text.rindex(")") + 2:].split()


def tree_pids(root: int) -> list[int]:
    """``root`` and every live descendant of it."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time of one process and of its reaped children, in seconds (0 once gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # after the state (index 0): utime, stime, cutime, cstime are fields 14-17 of stat
    return sum(int(value) for value in fields[11:15]) / TICKS


def own_cpu_seconds(pid: int) -> float:
    """CPU time of one process alone (utime + stime), in seconds (0 once gone)."""
    fields = _stat_fields(pid)
    return 0.0 if fields is None else sum(int(value) for value in fields[11:13]) / TICKS


def parent_pid(pid: int) -> int | None:
    """The process's parent, or None once it is gone."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[1])


def process_state(pid: int) -> str | None:
    """The process's state letter (R, S, Z, ...), or None once it is gone."""
    fields = _stat_fields(pid)
    return None if fields is None else fields[0]


def tree_cpu_seconds(root: int) -> float:
    return sum(cpu_seconds(pid) for pid in tree_pids(root))


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss_bytes(root: int) -> int:
    """Resident memory of the whole tree (pages shared between processes counted in each)."""
    return sum(rss_bytes(pid) for pid in tree_pids(root))


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """End a server started in its own session (its whole process group): TERM, then KILL."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
