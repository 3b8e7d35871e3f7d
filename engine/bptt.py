"""The BPTT(k1, k2) schedule: forward, backward over each window, update — as a trace.

One rule covers every variant (Williams & Peng 1990). Forward step t uses the parameters
current at that time. After step t, when t is a multiple of k1 or t = T, the losses of the
steps since the last update are injected, deltas flow back over the window
max(1, t-k2+1)..t only (the state before it is a constant), and one update is applied.
Full epochwise BPTT is k1 = k2 = T; Haykin's online BPTT(h) is k1 = 1, k2 = h. Within a
window each step uses the parameter version its own forward pass used, so the window's
gradient sums over the versions it touched. Time is 1-based: caches[t] is step t.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from engine import gru, losses, lstm, optim, rnn
from engine.lazy import StepGradients, WindowGradients
from engine.params import Params
from engine.request import Clip, Optimizer

CELLS: dict[str, ModuleType] = {"rnn": rnn, "lstm": lstm, "gru": gru}


@dataclass(frozen=True)
class Problem:
    """Everything a pass needs, encoded and checked (see engine.api.prepare)."""

    cell: str
    activation: str
    inputs: np.ndarray  # (T, D)
    targets: np.ndarray  # (T,) class ids or (T, K) values
    loss: str
    loss_steps: frozenset[int]  # 1-based steps whose loss is injected
    reduction: str
    k1: int
    k2: int
    optimizer: Optimizer
    clip: Clip | None
    params: Params
    state0: tuple[np.ndarray, ...]  # (h0,) or (h0, c0)

    @property
    def T(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def H(self) -> int:
        return int(self.state0[0].shape[0])


def windows(T: int, k1: int, k2: int) -> list[tuple[int, int]]:
    """(first, last) of every window: an update after each multiple of k1 and after T."""
    return [(max(1, t - k2 + 1), t) for t in range(1, T + 1) if t % k1 == 0 or t == T]


@dataclass
class Forward:
    """What the forward pass recorded, indexed by 1-based t (index 0 unused)."""

    caches: list[Any]  # caches[t]: the step's cache dict (index 0 unused)
    version_of: list[int]  # parameter version step t used
    packs: list[dict[str, Any]]  # packed parameters of each version
    outputs: np.ndarray  # (T, K) o(t) in row t-1
    yhat: np.ndarray  # (T, K)
    step_loss: np.ndarray  # (T,)
    step_grad_o: np.ndarray  # (T, K) dL(t)/do(t) of each step's own loss, unweighted


@dataclass
class Backward:
    """One window's backward pass, rows in time order first..last."""

    first: int
    last: int
    g_o: np.ndarray  # (n, K)
    dh_out: np.ndarray  # (n, H)
    dh_next: np.ndarray  # (n, H)
    dh: np.ndarray  # (n, H)
    delta: np.ndarray  # (n, G*H) stacked gate deltas
    dh_prev: np.ndarray  # (n, H)
    dc: np.ndarray | None = None  # (n, H) lstm
    dc_next: np.ndarray | None = None  # (n, H) lstm
    dstate_start: tuple[np.ndarray, ...] = field(default_factory=tuple)


def backward_window(cell: ModuleType, fwd: Forward, V: np.ndarray, first: int, last: int,
                    g_o: np.ndarray, H: int) -> Backward:
    """Deltas for t = last..first, error entering only through g_o (rows first..last)."""
    n = last - first + 1
    dh_out = g_o @ V  # (n, H): V^T g_o(t) for every step (V is the same for all of them
    # whenever g_o is nonzero: only the steps new in this window carry a loss)
    gated = cell is lstm
    dh_next_rows: list[Any] = [None] * n
    dh_rows: list[Any] = [None] * n
    delta_rows: list[Any] = [None] * n
    dh_prev_rows: list[Any] = [None] * n
    dc_rows: list[Any] = [None] * n
    dc_next_rows: list[Any] = [None] * n
    dh_next = np.zeros(H)
    dc_next = np.zeros(H)
    dstate_prev: tuple[np.ndarray, ...] = ()
    for row in range(n - 1, -1, -1):
        t = first + row
        dh = dh_out[row] + dh_next
        dstate = (dh, dc_next) if gated else (dh,)
        dstate_prev, delta, extra = cell.step_backward(fwd.packs[fwd.version_of[t]], dstate,
                                                       fwd.caches[t])
        dh_next_rows[row], dh_rows[row], delta_rows[row] = dh_next, dh, delta
        dh_prev_rows[row] = dstate_prev[0]
        if gated:
            dc_rows[row], dc_next_rows[row] = extra["dc"], dc_next
            dc_next = dstate_prev[1]
        dh_next = dstate_prev[0]
    return Backward(
        first=first, last=last, g_o=g_o, dh_out=dh_out, dh_next=np.array(dh_next_rows),
        dh=np.array(dh_rows), delta=np.array(delta_rows), dh_prev=np.array(dh_prev_rows),
        dc=np.array(dc_rows) if gated else None,
        dc_next=np.array(dc_next_rows) if gated else None, dstate_start=dstate_prev,
    )


def gate_rows(cell: ModuleType, stacked: np.ndarray, H: int) -> dict[str, np.ndarray]:
    """Split stacked gate rows (n, G*H) into {gate: (n, H)} views."""
    return {gate: stacked[:, j * H:(j + 1) * H] for j, gate in enumerate(cell.DELTA_KEYS)}


def window_factors(cell: ModuleType, fwd: Forward, bwd: Backward, inputs: np.ndarray,
                   H: int) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Left and right factors of every parameter's per-step contributions in this window."""
    steps = range(bwd.first, bwd.last + 1)
    recorded = {"h_prev": np.array([fwd.caches[t]["h_prev"] for t in steps]),
                "x": inputs[bwd.first - 1:bwd.last]}
    if cell is gru:
        recorded["rh_prev"] = np.array([fwd.caches[t]["rh_prev"] for t in steps])
    deltas = gate_rows(cell, bwd.delta, H)
    factors = {name: (deltas[key], None if right is None else recorded[right])
               for name, (key, right) in cell.GRAD_FACTORS.items()}
    hs = np.array([fwd.caches[t]["h"] for t in steps])
    factors["V"] = (bwd.g_o, hs)
    factors["b_y"] = (bwd.g_o, None)
    return factors


def sum_factors(factors: dict[str, tuple[np.ndarray, np.ndarray | None]]) -> dict[str, np.ndarray]:
    """The window's gradient: sum over steps of left(t) right(t)^T, as one product each."""
    return {name: (left.sum(axis=0) if right is None else left.T @ right)
            for name, (left, right) in factors.items()}


def input_grads(cell: ModuleType, fwd: Forward, bwd: Backward) -> np.ndarray:
    """dL/dx(t) for the window's rows, each with the U of the version its step used."""
    first_version = fwd.version_of[bwd.first]
    if first_version == fwd.version_of[bwd.last]:  # one version (versions only grow in t)
        return cell.input_grad(fwd.packs[first_version], bwd.delta)
    versions = np.array([fwd.version_of[t] for t in range(bwd.first, bwd.last + 1)])
    dx = np.empty((len(versions), fwd.packs[0]["U"].shape[1]))
    for version in np.unique(versions):
        rows = versions == version
        dx[rows] = cell.input_grad(fwd.packs[version], bwd.delta[rows])
    return dx


def run_schedule(problem: Problem, opt_state: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one pass over the sequence; return the trace pieces (events, updates, records).

    ``opt_state`` carries the optimizer's buffers from an earlier pass (training).
    """
    cell = CELLS[problem.cell]
    T, H = problem.T, problem.H
    K = problem.params["V"].shape[0]
    params = problem.params
    fwd = Forward(caches=[None] * (T + 1), version_of=[0] * (T + 1),
                  packs=[cell.pack(params, problem.activation)],
                  outputs=np.zeros((T, K)), yhat=np.zeros((T, K)), step_loss=np.zeros(T),
                  step_grad_o=np.zeros((T, K)))
    if opt_state is None:
        opt_state = optim.init_state(problem.optimizer)
    state = problem.state0
    events: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    backwards: list[Backward] = []
    total_loss = 0.0
    done = 0  # last step already run forward
    for index, (first, last) in enumerate(windows(T, problem.k1, problem.k2)):
        version = index  # one update per window: window i runs on the i-th parameters
        if len(fwd.packs) == version:
            fwd.packs.append(cell.pack(params, problem.activation))
        packed = fwd.packs[version]
        new_steps = range(done + 1, last + 1)
        ux = cell.input_projection(packed, problem.inputs[done:last])
        caches, step_forward, state_of = fwd.caches, cell.step_forward, cell.state_of
        for row, t in enumerate(new_steps):
            cache = step_forward(packed, ux[row], state)
            caches[t] = cache
            state = state_of(cache)
        fwd.version_of[done + 1:last + 1] = [version] * len(new_steps)
        cell.finish_forward(packed, caches[done + 1:last + 1])
        hs = np.array([caches[t]["h"] for t in new_steps])
        o = losses.outputs(params["V"], params["b_y"], hs)
        yhat, step_loss, grad_o = losses.evaluate(problem.loss, o, problem.targets[done:last])
        fwd.outputs[done:last], fwd.yhat[done:last] = o, yhat
        fwd.step_loss[done:last], fwd.step_grad_o[done:last] = step_loss, grad_o
        injected = [t for t in new_steps if t in problem.loss_steps]
        weight = 1.0 / len(injected) if (problem.reduction == "mean" and injected) else 1.0
        window_loss = weight * float(sum(fwd.step_loss[t - 1] for t in injected))
        total_loss += window_loss
        events.extend(forward_events(problem, fwd, new_steps))

        g_o = np.zeros((last - first + 1, K))
        for t in injected:
            g_o[t - first] = weight * fwd.step_grad_o[t - 1]
        bwd = backward_window(cell, fwd, params["V"], first, last, g_o, H)
        backwards.append(bwd)
        factors = window_factors(cell, fwd, bwd, problem.inputs, H)
        grads = sum_factors(factors)
        dx = input_grads(cell, fwd, bwd)
        grad_window = WindowGradients(factors)
        events.extend(backward_events(cell, bwd, grad_window, dx, index, H))

        clipped = optim.clip(grads, problem.clip)
        new_params, opt_state = optim.step(params, clipped.grads, problem.optimizer, opt_state)
        updates.append({
            "t": last, "window": [first, last], "loss": window_loss,
            "grads": grads, "grad_norm": clipped.norm, "clip_coef": clipped.coef,
            "clipped": clipped.clipped, "clipped_grads": clipped.grads,
            "params_before": params, "params_after": new_params,
            "dh_start": bwd.dstate_start[0],
            **({"dc_start": bwd.dstate_start[1]} if cell is lstm else {}),
        })
        events.append({"kind": "update", "t": last, "update": index})
        params = new_params  # packed when the next window starts
        done = last
    return {"events": events, "updates": updates, "loss": total_loss, "forward": fwd,
            "backwards": backwards, "final_params": params, "opt_state": opt_state}


def forward_only(problem: Problem, params: Params, inputs: np.ndarray,
                 state: tuple[np.ndarray, ...]) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Outputs o(t) (n, K) for the given inputs from a state, and the state after them."""
    cell = CELLS[problem.cell]
    packed = cell.pack(params, problem.activation)
    ux = cell.input_projection(packed, inputs)
    hs = []
    for row in range(len(inputs)):
        state = cell.state_of(cell.step_forward(packed, ux[row], state))
        hs.append(state[0])
    return losses.outputs(params["V"], params["b_y"], np.array(hs)), state


def forward_events(problem: Problem, fwd: Forward, steps: range) -> list[dict[str, Any]]:
    """The forward events of consecutive steps; arrays are the caches' or rows of stacks."""
    lo, hi = steps.start - 1, steps.stop - 1  # 0-based rows
    H = problem.H
    xs, outputs, yhats = list(problem.inputs[lo:hi]), list(fwd.outputs[lo:hi]), list(
        fwd.yhat[lo:hi])
    step_losses = fwd.step_loss[lo:hi].tolist()
    targets = (problem.targets[lo:hi].tolist() if problem.loss == "cross_entropy"
               else list(problem.targets[lo:hi]))
    if problem.cell == "lstm":  # per-gate rows of the stacked pre-activations, in bulk
        stacked = np.array([fwd.caches[t]["a"] for t in steps])  # (n, 4H)
        columns = [list(stacked[:, j * H:(j + 1) * H]) for j in range(len(lstm.GATES))]
        lstm_a = [dict(zip(lstm.GATES, rows, strict=True)) for rows in zip(*columns, strict=True)]
    events = []
    for row, t in enumerate(steps):
        cache = fwd.caches[t]
        if problem.cell == "rnn":
            a: Any = cache["a"]
            gates: Any = None
        elif problem.cell == "lstm":
            a = lstm_a[row]
            gates = {"f": cache["f"], "i": cache["i"], "g": cache["g"], "o": cache["o"]}
        else:
            a = {"z": cache["a_z"], "r": cache["a_r"], "n": cache["a_n"]}
            gates = {g: cache[g] for g in gru.GATES}
        event = {
            "kind": "forward", "t": t, "version": fwd.version_of[t], "x": xs[row],
            "h_prev": cache["h_prev"], "a": a, "gates": gates, "h": cache["h"],
            "o": outputs[row], "yhat": yhats[row], "target": targets[row],
            "loss": step_losses[row], "loss_injected": t in problem.loss_steps,
        }
        if problem.cell == "lstm":
            event["c_prev"], event["c"] = cache["c_prev"], cache["c"]
        elif problem.cell == "gru":  # what W_h multiplies, the right factor of dW_h
            event["rh_prev"] = cache["rh_prev"]
        events.append(event)
    return events


def backward_events(cell: ModuleType, bwd: Backward, grad_window: WindowGradients,
                    dx: np.ndarray, index: int, H: int) -> list[dict[str, Any]]:
    """The window's backward events, t = last..first; every array a row view of a stack."""
    n = bwd.last - bwd.first + 1
    window = [bwd.first, bwd.last]
    # list(stack) makes all row views in one call; the events then share the stacks' memory
    columns: dict[str, list[Any]] = {
        "g_o": list(bwd.g_o), "dh_out": list(bwd.dh_out), "dh_next": list(bwd.dh_next),
        "dh": list(bwd.dh)}
    if cell is rnn:
        columns["delta"] = list(bwd.delta)
    else:
        gates = gate_rows(cell, bwd.delta, H)
        gate_lists = {gate: list(rows) for gate, rows in gates.items()}
        columns["deltas"] = [{gate: rows[r] for gate, rows in gate_lists.items()}
                             for r in range(n)]
    if bwd.dc is not None and bwd.dc_next is not None:  # lstm
        columns["dc"], columns["dc_next"] = list(bwd.dc), list(bwd.dc_next)
    columns["dx"], columns["dh_prev"] = list(dx), list(bwd.dh_prev)
    names = list(columns)
    events = []
    for row in range(n - 1, -1, -1):
        event: dict[str, Any] = {"kind": "backward", "t": bwd.first + row, "update": index,
                                 "window": window}
        for name in names:
            event[name] = columns[name][row]
        event["contrib"] = StepGradients(grad_window, row, running=False)
        event["accum"] = StepGradients(grad_window, row, running=True)
        events.append(event)
    return events
