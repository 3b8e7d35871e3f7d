"""The bug catalogue: the mistakes hand-written BPTT code makes, each planted in one line of the
backward pass (docs/DESIGN.md, "Find the bug").

A request's ``bug`` names one entry of ``BUGS``. Only the backward pass changes: the forward
pass, the outputs and the loss are the true ones, so the gradient check (which differentiates
the true loss numerically) catches every entry, and a trace shows the numbers the bugged code
would print. Each entry is data:

- ``id``; ``source``: the kind of public source where the mistake is seen (a tutorial
  repository's issue, a course's question, a book's reader question, a widely copied script;
  the docs name examples);
- ``lines``: for each cell it applies to, the one line of that cell's backward pass it
  changes (a key of ``LINES``), written as it should be and as the bugged code has it;
- ``scenario``: the request on which the gradient check catches it (its default scenario);
- ``requires``: settings without which the line does not exist or the mistake changes no
  number (the mean's 1/n needs ``reduction: mean``), refused with a message naming the field.

How a planted line is run: a factor of the backward step replaced (``FACTORS``: pure functions
of the window's recorded forward rows, e.g. phi'(a) = 1), a term left out of the recursion
(the cell's ``backward_steps`` reads ``bug``, e.g. dh(t) = dh_out(t) without dh_next(t)), or a
step of the schedule (``engine.schedule``: the right factor of a contribution, the loss's
weight, the gradient returned). Without a bug none of these runs and every number is as before.

``parting(problem, bugged, true)`` compares a bugged pass with the true one in the order the
backward pass computes (window by window, t from last to first, each step's lines in order,
then the update's gradient) and says where the numbers first part: what the guided hunt asks
for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..cells.rnn import derivative
from .errors import RequestError

# The lines of each cell's backward pass (DESIGN.md's equations), in the order one step computes
# them; "grad" is the update's: the window's gradient as the backward pass returns it.
LINES: dict[str, dict[str, str]] = {
    "rnn": {
        "g_o": "g_o(t) = w (ŷ(t) − y(t)),  w = 1 (sum) or 1/n (mean)",
        "dh": "dh(t) = Vᵀ g_o(t) + dh_next(t)",
        "delta": "δ(t) = φ′(a(t)) ⊙ dh(t)",
        "dh_prev": "dh_next(t−1) = Wᵀ δ(t)",
        "contrib": "dW += δ(t) h(t−1)ᵀ,  dU += δ(t) x(t)ᵀ,  db += δ(t)",
        "grad": "∂L/∂θ = Σ_t contrib(t)",
    },
    "lstm": {
        "g_o": "g_o(t) = w (ŷ(t) − y(t)),  w = 1 (sum) or 1/n (mean)",
        "dh": "dh(t) = Vᵀ g_o(t) + dh_next(t)",
        "dc": "dc(t) = dh(t) ⊙ o ⊙ (1 − tanh² c(t)) + dc_next(t)",
        "deltas": "δ_f = dc ⊙ c(t−1) ⊙ f(1−f),  δ_i = dc ⊙ g ⊙ i(1−i),  "
                  "δ_g = dc ⊙ i ⊙ (1−g²),  δ_o = dh ⊙ tanh c(t) ⊙ o(1−o)",
        "dh_prev": "dh_next(t−1) = Σ_gates W_*ᵀ δ_*(t)",
        "dc_prev": "dc_next(t−1) = dc(t) ⊙ f(t)",
        "contrib": "dW_* += δ_*(t) h(t−1)ᵀ,  dU_* += δ_*(t) x(t)ᵀ,  db_* += δ_*(t)",
        "grad": "∂L/∂θ = Σ_t contrib(t)",
    },
    "gru": {
        "g_o": "g_o(t) = w (ŷ(t) − y(t)),  w = 1 (sum) or 1/n (mean)",
        "dh": "dh(t) = Vᵀ g_o(t) + dh_next(t)",
        "deltas": "δ_n = dh ⊙ (1−z) ⊙ (1−n²),  δ_z = dh ⊙ (h(t−1) − n) ⊙ z(1−z),  "
                  "δ_r = (W_hᵀ δ_n) ⊙ h(t−1) ⊙ r(1−r)",
        "dh_prev": "dh_next(t−1) = dh ⊙ z + r ⊙ (W_hᵀ δ_n) + W_zᵀ δ_z + W_rᵀ δ_r",
        "contrib": "dW_z += δ_z h(t−1)ᵀ,  dW_r += δ_r h(t−1)ᵀ,  dW_h += δ_n (r ⊙ h(t−1))ᵀ,  "
                   "dU_* += δ_* x(t)ᵀ,  db_* += δ_*",
        "grad": "∂L/∂θ = Σ_t contrib(t)",
    },
}


@dataclass(frozen=True)
class Line:
    """The one line a bug changes in one cell: which (a key of LINES[cell]), right and wrong."""

    line: str
    correct: str
    bugged: str


@dataclass(frozen=True)
class Requirement:
    """A setting the bug needs: ``field`` one of ``accepted`` (for the cells in ``cells``, all
    when empty), else ``message``."""

    field: str
    accepted: tuple[Any, ...]
    message: str
    cells: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bug:
    id: str
    source: str  # the kind of source where it is seen (DESIGN.md names examples)
    lines: Mapping[str, Line]  # cell -> the line it changes
    scenario: Mapping[str, Any]  # the request on which the gradient check catches it
    requires: tuple[Requirement, ...] = field(default=())

    @property
    def cells(self) -> tuple[str, ...]:
        return tuple(self.lines)


_MACHINE = {"data": {"preset": "machine"}, "hidden_size": 4, "seed": 0}


# The mean's 1/n: there, and more than one loss in a window (with one, 1/n is 1).
_MEAN = (Requirement("reduction", ("mean",),
                     "this mistake is in the mean's 1/n: set reduction to mean"),
         Requirement("loss_at", ("every",),
                     "with the loss at the last step only a window has one loss and 1/n is 1: "
                     "this mistake changes no number; set loss_at to every"))


def _same(line: str, correct: str, bugged: str, cells: tuple[str, ...]) -> dict[str, Line]:
    return {cell: Line(line, correct, bugged) for cell in cells}


BUGS: dict[str, Bug] = {bug.id: bug for bug in (
    Bug("dh_next_dropped", "tutorial repository",
        _same("dh", "dh(t) = Vᵀ g_o(t) + dh_next(t)", "dh(t) = Vᵀ g_o(t)",
              ("rnn", "lstm", "gru")),
        {**_MACHINE, "cell": "rnn"}),
    Bug("derivative_missing", "tutorial repository",
        {"rnn": Line("delta", "δ(t) = φ′(a(t)) ⊙ dh(t)", "δ(t) = dh(t)"),
         "lstm": Line("dc", "dc(t) = dh(t) ⊙ o ⊙ (1 − tanh² c(t)) + dc_next(t)",
                      "dc(t) = dh(t) ⊙ o + dc_next(t)"),
         "gru": Line("deltas", "δ_n = dh ⊙ (1−z) ⊙ (1−n²)", "δ_n = dh ⊙ (1−z)")},
        {**_MACHINE, "cell": "rnn"}),
    Bug("derivative_of_preactivation", "book reader question",
        {"rnn": Line("delta", "δ(t) = (1 − h(t)²) ⊙ dh(t)", "δ(t) = (1 − a(t)²) ⊙ dh(t)"),
         "lstm": Line("dc", "dc(t) = dh(t) ⊙ o ⊙ (1 − tanh² c(t)) + dc_next(t)",
                      "dc(t) = dh(t) ⊙ o ⊙ (1 − c(t)²) + dc_next(t)"),
         "gru": Line("deltas", "δ_n = dh ⊙ (1−z) ⊙ (1 − n²)", "δ_n = dh ⊙ (1−z) ⊙ (1 − a_n²)")},
        {**_MACHINE, "cell": "rnn"},
        (Requirement("activation", ("tanh", "sigmoid"),
                     "relu's derivative [a > 0] is the same read from a(t) or from h(t): this "
                     "mistake changes no number under relu; set activation to tanh or sigmoid",
                     ("rnn",)),)),
    Bug("h_index_off_by_one", "tutorial repository issue",
        {"rnn": Line("contrib", "dW += δ(t) h(t−1)ᵀ", "dW += δ(t) h(t)ᵀ"),
         "lstm": Line("contrib", "dW_* += δ_*(t) h(t−1)ᵀ", "dW_* += δ_*(t) h(t)ᵀ"),
         "gru": Line("contrib", "dW_z += δ_z h(t−1)ᵀ,  dW_r += δ_r h(t−1)ᵀ",
                     "dW_z += δ_z h(t)ᵀ,  dW_r += δ_r h(t)ᵀ")},
        {**_MACHINE, "cell": "rnn"}),
    Bug("dc_next_dropped", "tutorial repository",
        {"lstm": Line("dc", "dc(t) = dh(t) ⊙ o ⊙ (1 − tanh² c(t)) + dc_next(t)",
                      "dc(t) = dh(t) ⊙ o ⊙ (1 − tanh² c(t))")},
        {**_MACHINE, "cell": "lstm"}),
    Bug("forget_factor_missing", "course question",
        {"lstm": Line("dc_prev", "dc_next(t−1) = dc(t) ⊙ f(t)", "dc_next(t−1) = dc(t)")},
        {**_MACHINE, "cell": "lstm"}),
    Bug("reset_gate_wrong_side", "book reader question",
        {"gru": Line("dh_prev", "dh_next(t−1) = dh ⊙ z + r ⊙ (W_hᵀ δ_n) + W_zᵀ δ_z + W_rᵀ δ_r",
                     "dh_next(t−1) = dh ⊙ z + W_hᵀ (r ⊙ δ_n) + W_zᵀ δ_z + W_rᵀ δ_r")},
        {**_MACHINE, "cell": "gru"}),
    Bug("mean_applied_twice", "course question",
        _same("g_o", "g_o(t) = (ŷ(t) − y(t)) / n", "g_o(t) = (ŷ(t) − y(t)) / n²",
              ("rnn", "lstm", "gru")),
        {**_MACHINE, "cell": "rnn", "reduction": "mean"},
        _MEAN),
    Bug("mean_not_applied", "course question",
        _same("g_o", "g_o(t) = (ŷ(t) − y(t)) / n", "g_o(t) = ŷ(t) − y(t)",
              ("rnn", "lstm", "gru")),
        {**_MACHINE, "cell": "rnn", "reduction": "mean"},
        _MEAN),
    Bug("clip_by_value_as_norm", "widely copied script",
        _same("grad", "∂L/∂θ = Σ_t contrib(t)  (clipping by norm comes after, in the update)",
              "∂L/∂θ = clamp(Σ_t contrib(t), −max, max)  # \"clip the gradient norm\"",
              ("rnn", "lstm", "gru")),
        {**_MACHINE, "cell": "rnn", "clip": {"mode": "norm", "max": 0.5}},
        (Requirement("clip", ("norm",),
                     "this mistake clamps every entry where clipping by norm was meant: set "
                     "clip to {\"mode\": \"norm\", \"max\": ...}"),)),
)}


def check(bug: str | None, cell: str, settings: Mapping[str, Any]) -> None:
    """Refuse a bug the request's cell or settings cannot show (RequestError naming the field).

    ``settings``: the request's fields as planned (clip as its mode, or None)."""
    if bug is None:
        return
    entry = BUGS[bug]
    if cell not in entry.lines:
        raise RequestError(("bug",), f"{bug!r} is a mistake in the backward pass of "
                                     f"{', '.join(entry.cells)}; the request's cell is {cell!r}")
    for need in entry.requires:
        if need.cells and cell not in need.cells:
            continue
        if settings.get(need.field) not in need.accepted:
            raise RequestError(("bug",), need.message)


# ---------------------------------------------------------------------------------------------
# Planted factors: what a bugged line multiplies by, from the window's recorded forward rows.

Rows = Callable[[str], np.ndarray]  # a recorded forward quantity, rows of the window
Factor = Callable[[Rows, Mapping[str, np.ndarray], str], dict[str, np.ndarray]]


def _rnn_without_derivative(rows: Rows, stacks: Mapping[str, np.ndarray], activation: str
                            ) -> dict[str, np.ndarray]:
    return {"dphi": np.ones_like(stacks["dphi"])}  # delta = 1 * dh


def _rnn_derivative_of_a(rows: Rows, stacks: Mapping[str, np.ndarray], activation: str
                         ) -> dict[str, np.ndarray]:
    a = rows("a")  # the cell's own formula, fed a(t) where it reads h(t)
    return {"dphi": derivative(activation, a, a, out=np.empty_like(a))}


def _lstm_without_dtanh_c(rows: Rows, stacks: Mapping[str, np.ndarray], activation: str
                          ) -> dict[str, np.ndarray]:
    return {"o_dtanh_c": rows("o").copy()}  # o, not o (1 - tanh^2 c)


def _lstm_dtanh_of_c(rows: Rows, stacks: Mapping[str, np.ndarray], activation: str
                     ) -> dict[str, np.ndarray]:
    c = rows("c")
    return {"o_dtanh_c": rows("o") * (1.0 - c * c)}  # 1 - c^2, not 1 - tanh^2 c


def _gru_without_dtanh_n(rows: Rows, stacks: Mapping[str, np.ndarray], activation: str
                         ) -> dict[str, np.ndarray]:
    return {"dn_factor": 1.0 - rows("z")}  # (1 - z), not (1 - z)(1 - n^2)


def _gru_dtanh_of_a(rows: Rows, stacks: Mapping[str, np.ndarray], activation: str
                    ) -> dict[str, np.ndarray]:
    a_n = rows("a_n")
    return {"dn_factor": (1.0 - rows("z")) * (1.0 - a_n * a_n)}


def _lstm_forget_of_one(rows: Rows, stacks: Mapping[str, np.ndarray], activation: str
                        ) -> dict[str, np.ndarray]:
    return {"f": np.ones_like(stacks["f"])}  # dc_next(t-1) = dc(t) * 1, not dc(t) * f(t)


# (bug, cell) -> the backward factors it replaces
FACTORS: dict[tuple[str, str], Factor] = {
    ("derivative_missing", "rnn"): _rnn_without_derivative,
    ("derivative_missing", "lstm"): _lstm_without_dtanh_c,
    ("derivative_missing", "gru"): _gru_without_dtanh_n,
    ("derivative_of_preactivation", "rnn"): _rnn_derivative_of_a,
    ("derivative_of_preactivation", "lstm"): _lstm_dtanh_of_c,
    ("derivative_of_preactivation", "gru"): _gru_dtanh_of_a,
    ("forget_factor_missing", "lstm"): _lstm_forget_of_one,
}
# The bugs a cell's backward_steps plants itself (it reads ``bug``): a term of the recursion
# left out, or taken on the wrong side.
RECURSION = frozenset({"dh_next_dropped", "dc_next_dropped", "reset_gate_wrong_side"})


def backward_stacks(bug: str | None, cell: str, rows: Rows, stacks: dict[str, np.ndarray],
                    activation: str) -> dict[str, np.ndarray]:
    """The stacks a window's backward pass reads, with a planted factor replaced (new arrays:
    the recorded ones are left as they are)."""
    planted = FACTORS.get((bug, cell)) if bug is not None else None
    return stacks if planted is None else {**stacks, **planted(rows, stacks, activation)}


def right_factor(bug: str | None, right: str | None) -> str | None:
    """The recorded vector a contribution multiplies its delta by: h(t) for h(t-1) under
    h_index_off_by_one."""
    return "h" if (bug == "h_index_off_by_one" and right == "h_prev") else right


def loss_weight(bug: str | None, weight: float, count: int) -> float:
    """The weight a window's injected losses' g_o take: 1/n once (mean), twice, or not at
    all."""
    if bug == "mean_applied_twice":
        return weight / count if count else weight
    if bug == "mean_not_applied":
        return 1.0
    return weight


def returned_gradient(bug: str | None, grads: dict[str, np.ndarray], clip_max: float | None
                      ) -> dict[str, np.ndarray]:
    """The window's gradient as the backward pass returns it: clamped entry by entry under
    clip_by_value_as_norm (what min-char-rnn's loss function returns), else as summed."""
    if bug != "clip_by_value_as_norm" or clip_max is None:
        return grads
    return {name: np.clip(g, -clip_max, clip_max) for name, g in grads.items()}


# ---------------------------------------------------------------------------------------------
# Where a bugged pass parts from the true one.


def _step_lines(cell: str, bwd: Any, factors: Mapping[str, Any], row: int
                ) -> dict[str, list[np.ndarray]]:
    """The numbers each line of LINES[cell] produced at one row of a window's backward pass."""
    out: dict[str, list[np.ndarray]] = {
        "g_o": [bwd.g_o[row]], "dh": [bwd.dh[row], bwd.dh_next[row]],
        "delta": [bwd.delta[row]], "deltas": [bwd.delta[row]], "dh_prev": [bwd.dh_prev[row]]}
    if "dc" in bwd.recorded:
        out["dc"] = [bwd.recorded["dc"][row]]
        # dc_prev(t) is dc_next(t-1): the next row down, or the window's own start
        out["dc_prev"] = [bwd.recorded["dc_next"][row - 1] if row else bwd.dstate_start[1]]
    out["contrib"] = [(left[row] if right is None else np.outer(left[row], right[row]))
                      for left, right in factors.values()]
    return {line: out[line] for line in LINES[cell] if line in out}


def _differs(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return any(not np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b, strict=True))


def parting(problem: Any, bugged: Any, true: Any, bugged_factors: list[Mapping[str, Any]],
            true_factors: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Where the bugged pass's numbers first differ from the true pass's, in the order the
    backward pass computes them: {"update", "t", "line", "params"} (params: the parameters
    whose gradient differs in that update), or every field None when they never part.

    ``problem`` is the pass's engine.problem.Problem, ``bugged`` and ``true`` its two
    engine.schedule.Run (typed Any: the schedule imports this module), ``*_factors`` each
    window's contribution factors (engine.schedule.window_factors)."""
    cell = problem.cell
    for index, (b, r) in enumerate(zip(bugged.backwards, true.backwards, strict=True)):
        differing = [name for name in bugged.updates[index]["grads"]
                     if not np.array_equal(bugged.updates[index]["grads"][name],
                                           true.updates[index]["grads"][name])]
        for row in range(b.last - b.first, -1, -1):
            ours = _step_lines(cell, b, bugged_factors[index], row)
            theirs = _step_lines(cell, r, true_factors[index], row)
            for line in ours:
                if _differs(ours[line], theirs[line]):
                    return {"update": index, "t": b.first + row, "line": line,
                            "params": differing}
        if differing:
            return {"update": index, "t": b.last, "line": "grad", "params": differing}
    return {"update": None, "t": None, "line": None, "params": []}


def catalogue() -> list[dict[str, Any]]:
    """Every bug as plain data (the API's /bugs adds its texts in the request's language)."""
    return [{"id": bug.id, "source": bug.source, "cells": list(bug.cells),
             "lines": {cell: {"line": ln.line, "correct": ln.correct, "bugged": ln.bugged}
                       for cell, ln in bug.lines.items()},
             "scenario": dict(bug.scenario),
             "requires": [{"field": r.field, "accepted": list(r.accepted),
                           "cells": list(r.cells) or list(bug.cells)} for r in bug.requires]}
            for bug in BUGS.values()]
