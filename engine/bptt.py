"""The BPTT(k1, k2) schedule: forward, backward over each window, update — as a trace.

One rule covers every variant (Williams & Peng 1990). Forward step t uses the parameters
current at that time. After step t, when t is a multiple of k1 or t = T, the losses of the
steps since the last update are injected, deltas flow back over the window
max(1, t-k2+1)..t only (the state before it is a constant), and one update is applied.
Full epochwise BPTT is k1 = k2 = T; Haykin's online BPTT(h) is k1 = 1, k2 = h. Within a
window each step uses the parameter version its own forward pass used, so the window's
gradient sums over the versions it touched. Time is 1-based: caches[t] is step t.
Each window's new steps run forward as one block (``cell.forward_steps``) into stacks, and
each window's backward pass is one ``cell.backward_steps`` over the window's rows.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from . import events, gru, losses, lstm, optim, rnn
from .lazy import StepGradients, WindowGradients
from .params import Params
from .request import Clip, Optimizer

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


class StepRecord(Mapping[str, np.ndarray]):
    """What step t recorded, under the names of its cell's ``step_forward`` cache (plus the
    backward factors): row views of its forward block's stacks."""

    __slots__ = ("_stacks", "_row")

    def __init__(self, stacks: dict[str, np.ndarray], row: int) -> None:
        self._stacks = stacks
        self._row = row

    def __getitem__(self, key: str) -> np.ndarray:
        return self._stacks[key][self._row]

    def __iter__(self) -> Iterator[str]:
        return iter(self._stacks)

    def __len__(self) -> int:
        return len(self._stacks)

    def __contains__(self, key: object) -> bool:
        return key in self._stacks


@dataclass
class Forward:
    """What the forward pass recorded. Steps run in blocks (the new steps of each window);
    ``blocks`` holds each block's first step t and its stacks (rows in time order)."""

    version_of: list[int]  # parameter version step t used (index 0 unused)
    packs: list[dict[str, Any]]  # packed parameters of each version
    outputs: np.ndarray  # (T, K) o(t) in row t-1
    yhat: np.ndarray  # (T, K)
    step_loss: np.ndarray  # (T,)
    step_grad_o: np.ndarray  # (T, K) dL(t)/do(t) of each step's own loss, unweighted
    blocks: list[tuple[int, dict[str, np.ndarray]]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)  # first step of each block

    def add_block(self, first: int, stacks: dict[str, np.ndarray]) -> None:
        self.blocks.append((first, stacks))
        self.starts.append(first)

    @property
    def caches(self) -> StepCaches:
        """caches[t]: step t's record as a mapping (1-based; caches[0] is None)."""
        return StepCaches(self.blocks, self.starts)

    def rows(self, key: str, first: int, last: int) -> np.ndarray:
        """Rows first..last (1-based t, inclusive) of a recorded quantity: a view when they lie
        in one block, else the blocks' rows joined."""
        index = bisect.bisect_right(self.starts, first) - 1
        parts = []
        while index < len(self.blocks) and self.blocks[index][0] <= last:
            start, stacks = self.blocks[index]
            stack = stacks[key]
            parts.append(stack[max(first, start) - start:last - start + 1])
            index += 1
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


class StepCaches(Sequence[Any]):
    """The per-step view of the forward blocks: ``caches[t]`` is a StepRecord."""

    def __init__(self, blocks: list[tuple[int, dict[str, np.ndarray]]], starts: list[int]
                 ) -> None:
        self._blocks = blocks
        self._starts = starts

    def __len__(self) -> int:
        if not self._blocks:
            return 1
        start, stacks = self._blocks[-1]
        return start + len(stacks["h"])

    def __getitem__(self, t: Any) -> Any:
        if isinstance(t, slice):
            return [self[i] for i in range(*t.indices(len(self)))]
        if t < 0:
            t += len(self)
        if t == 0:
            return None
        if not 0 < t < len(self):
            raise IndexError(t)
        start, stacks = self._blocks[bisect.bisect_right(self._starts, t) - 1]
        return StepRecord(stacks, t - start)


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
    dh_out = g_o @ V  # (n, H): V^T g_o(t) for every step (V is the same for all of them
    # whenever g_o is nonzero: only the steps new in this window carry a loss)
    stacks = {key: fwd.rows(key, first, last) for key in cell.BACKWARD_KEYS}
    Ws = [cell.recurrent(fwd.packs[version]) for version in fwd.version_of[first:last + 1]]
    out = cell.backward_steps(Ws, stacks, dh_out)
    dh_prev = out["dh_prev"]
    dstate_start: tuple[np.ndarray, ...] = (dh_prev[0],)
    if "dc" in out:
        dstate_start = (dh_prev[0], out["dc_prev"][0])
    return Backward(first=first, last=last, g_o=g_o, dh_out=dh_out, dh_next=out["dh_next"],
                    dh=out["dh"], delta=out["delta"], dh_prev=dh_prev, dc=out.get("dc"),
                    dc_next=out.get("dc_next"), dstate_start=dstate_start)


def gate_rows(cell: ModuleType, stacked: np.ndarray, H: int) -> dict[str, np.ndarray]:
    """Split stacked gate rows (n, G*H) into {gate: (n, H)} views."""
    return {gate: stacked[:, j * H:(j + 1) * H] for j, gate in enumerate(cell.DELTA_KEYS)}


def window_factors(cell: ModuleType, fwd: Forward, bwd: Backward, inputs: np.ndarray,
                   H: int) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Left and right factors of every parameter's per-step contributions in this window."""
    recorded = {"h_prev": fwd.rows("h_prev", bwd.first, bwd.last),
                "x": inputs[bwd.first - 1:bwd.last]}
    if cell is gru:
        recorded["rh_prev"] = fwd.rows("rh_prev", bwd.first, bwd.last)
    deltas = gate_rows(cell, bwd.delta, H)
    factors = {name: (deltas[key], None if right is None else recorded[right])
               for name, (key, right) in cell.GRAD_FACTORS.items()}
    factors["V"] = (bwd.g_o, fwd.rows("h", bwd.first, bwd.last))
    factors["b_y"] = (bwd.g_o, None)
    return factors


def sum_factors(factors: dict[str, tuple[np.ndarray, np.ndarray | None]]) -> dict[str, np.ndarray]:
    """The window's gradient: sum over steps of left(t) right(t)^T, as one product each."""
    return {name: (left.sum(axis=0) if right is None else left.T @ right)
            for name, (left, right) in factors.items()}


def window_gradient(cell: ModuleType, bwd: Backward,
                    factors: dict[str, tuple[np.ndarray, np.ndarray | None]], H: int
                    ) -> dict[str, np.ndarray]:
    """``sum_factors`` with the gates that share a right factor (h(t-1), x(t), none) summed
    as one product of the stacked deltas, then split by rows: an LSTM window is three
    products instead of twelve. Gradients are row blocks of those products (views)."""
    gate_index = {gate: j for j, gate in enumerate(cell.DELTA_KEYS)}
    groups: dict[str | None, list[tuple[str, int]]] = {}
    for name, (gate, right) in cell.GRAD_FACTORS.items():
        groups.setdefault(right, []).append((name, gate_index[gate]))
    grads: dict[str, np.ndarray] = {}
    for members in groups.values():
        lo = members[0][1]  # every cell lists a right factor's gates adjacent, in stack order
        left = bwd.delta[:, lo * H:(lo + len(members)) * H]  # (n, m*H)
        right_rows = factors[members[0][0]][1]
        total = left.sum(axis=0) if right_rows is None else left.T @ right_rows
        for name, j in members:
            grads[name] = total[(j - lo) * H:(j - lo + 1) * H]
    grads.update(sum_factors({name: factors[name] for name in ("V", "b_y")}))
    return {name: grads[name] for name in factors}  # the order of the parameters


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
    fwd = Forward(version_of=[0] * (T + 1),
                  packs=[cell.pack(params, problem.activation)],
                  outputs=np.zeros((T, K)), yhat=np.zeros((T, K)), step_loss=np.zeros(T),
                  step_grad_o=np.zeros((T, K)))
    if opt_state is None:
        opt_state = optim.init_state(problem.optimizer)
    state = problem.state0
    trace_events: list[Mapping[str, Any]] = []
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
        stacks = cell.forward_steps(packed, problem.inputs[done:last], state)
        fwd.add_block(done + 1, stacks)
        state = cell.state_of(StepRecord(stacks, len(new_steps) - 1))
        fwd.version_of[done + 1:last + 1] = [version] * len(new_steps)
        hs = stacks["h"]
        o = losses.outputs(params["V"], params["b_y"], hs)
        yhat, step_loss, grad_o = losses.evaluate(problem.loss, o, problem.targets[done:last])
        fwd.outputs[done:last], fwd.yhat[done:last] = o, yhat
        fwd.step_loss[done:last], fwd.step_grad_o[done:last] = step_loss, grad_o
        injected = np.array([t in problem.loss_steps for t in new_steps], dtype=bool)
        count = int(injected.sum())
        weight = 1.0 / count if (problem.reduction == "mean" and count) else 1.0
        window_loss = weight * float(step_loss[injected].sum())
        total_loss += window_loss
        trace_events.extend(forward_events(problem, fwd, new_steps, stacks))

        g_o = np.zeros((last - first + 1, K))  # error enters only at the new, injected steps
        g_o[done + 1 - first:][injected] = weight * grad_o[injected]
        bwd = backward_window(cell, fwd, params["V"], first, last, g_o, H)
        backwards.append(bwd)
        factors = window_factors(cell, fwd, bwd, problem.inputs, H)
        grads = window_gradient(cell, bwd, factors, H)
        dx = input_grads(cell, fwd, bwd)
        grad_window = WindowGradients(factors)
        trace_events.extend(backward_events(cell, bwd, grad_window, dx, index, H))

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
        trace_events.append({"kind": "update", "t": last, "update": index})
        params = new_params  # packed when the next window starts
        done = last
    return {"events": trace_events, "updates": updates, "loss": total_loss, "forward": fwd,
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


def forward_events(problem: Problem, fwd: Forward, steps: range,
                   stacks: dict[str, np.ndarray]) -> list[Mapping[str, Any]]:
    """The forward events of a block of steps, each a view of the block's stacks."""
    first, lo = steps.start, steps.start - 1  # 1-based t of row 0, and its 0-based index
    H, targets = problem.H, problem.targets
    fields: events.Fields = {
        "kind": events.constant("forward"),
        "t": lambda row: first + row,
        "version": lambda row: fwd.version_of[first + row],
        "x": events.rows_of(problem.inputs, lo),
        "h_prev": events.rows_of(stacks["h_prev"]),
    }
    if problem.cell == "rnn":
        fields["a"] = events.rows_of(stacks["a"])
        fields["gates"] = events.constant(None)
    elif problem.cell == "lstm":  # the stacked pre-activations (4H,) split per gate
        fields["a"] = events.gate_rows_of({gate: stacks["a"][:, j * H:(j + 1) * H]
                                           for j, gate in enumerate(lstm.GATES)})
        fields["gates"] = events.gate_rows_of({gate: stacks[gate] for gate in lstm.GATES})
    else:
        fields["a"] = events.gate_rows_of({"z": stacks["a_z"], "r": stacks["a_r"],
                                           "n": stacks["a_n"]})
        fields["gates"] = events.gate_rows_of({gate: stacks[gate] for gate in gru.GATES})
    fields["h"] = events.rows_of(stacks["h"])
    fields["o"] = events.rows_of(fwd.outputs, lo)
    fields["yhat"] = events.rows_of(fwd.yhat, lo)
    fields["target"] = ((lambda row: int(targets[lo + row])) if problem.loss == "cross_entropy"
                        else events.rows_of(targets, lo))
    fields["loss"] = lambda row: float(fwd.step_loss[lo + row])
    fields["loss_injected"] = lambda row: first + row in problem.loss_steps
    if problem.cell == "lstm":
        fields["c_prev"] = events.rows_of(stacks["c_prev"])
        fields["c"] = events.rows_of(stacks["c"])
    elif problem.cell == "gru":  # what W_h multiplies, the right factor of dW_h
        fields["rh_prev"] = events.rows_of(stacks["rh_prev"])
    return events.block_events(fields, len(steps))


def backward_events(cell: ModuleType, bwd: Backward, grad_window: WindowGradients,
                    dx: np.ndarray, index: int, H: int) -> list[Mapping[str, Any]]:
    """The window's backward events, t = last..first; every array a row view of a stack."""
    first, last = bwd.first, bwd.last
    fields: events.Fields = {
        "kind": events.constant("backward"),
        "t": lambda row: first + row,
        "update": events.constant(index),
        "window": lambda row: [first, last],
        "g_o": events.rows_of(bwd.g_o),
        "dh_out": events.rows_of(bwd.dh_out),
        "dh_next": events.rows_of(bwd.dh_next),
        "dh": events.rows_of(bwd.dh),
    }
    if cell is rnn:
        fields["delta"] = events.rows_of(bwd.delta)
    else:
        fields["deltas"] = events.gate_rows_of(gate_rows(cell, bwd.delta, H))
    if bwd.dc is not None and bwd.dc_next is not None:  # lstm
        fields["dc"] = events.rows_of(bwd.dc)
        fields["dc_next"] = events.rows_of(bwd.dc_next)
    fields["dx"] = events.rows_of(dx)
    fields["dh_prev"] = events.rows_of(bwd.dh_prev)
    fields["contrib"] = lambda row: StepGradients(grad_window, row, running=False)
    fields["accum"] = lambda row: StepGradients(grad_window, row, running=True)
    return events.block_events(fields, last - first + 1, reverse=True)
