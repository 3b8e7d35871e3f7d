"""The BPTT(k1, k2) schedule: forward, backward over each window, update — as a trace.

One rule covers every variant (Williams & Peng 1990). Forward step t uses the parameters
current at that time. After step t, when t is a multiple of k1 or t = T, the losses of the
steps since the last update are injected, deltas flow back over the window
max(1, t-k2+1)..t only (the state before it is a constant), and one update is applied.
Full epochwise BPTT is k1 = k2 = T; Haykin's online BPTT(h) is k1 = 1, k2 = h. Within a
window each step uses the parameter version its own forward pass used, so the window's
gradient sums over the versions it touched. Time is 1-based.

Each window's new steps run forward as one block (``cell.forward_steps``) into the record
store (engine.record), and each window's backward pass is one ``cell.backward_steps`` over
the window's rows; engine.events turns the records into the trace's events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..cells.memory import packed_with_views
from ..cells.protocol import Cell, Params, layer_name, layer_params, split_gates
from ..request import bugs
from . import events, losses, optim
from .lazy import Factors, WindowGradients
from .problem import Problem
from .record import Backward, Forward, StepRecord


def windows(T: int, k1: int, k2: int) -> list[tuple[int, int]]:
    """(first, last) of every window: an update after each multiple of k1 and after T."""
    return [(max(1, t - k2 + 1), t) for t in range(1, T + 1) if t % k1 == 0 or t == T]


@dataclass
class Layer:
    """One layer of one sequence's pass: its forward record and each window's backward pass."""

    forward: Forward
    backwards: list[Backward] = field(default_factory=list)  # one per window (when recorded)


@dataclass
class Recorded:
    """What one sequence's pass recorded: each layer's records, bottom to top (one layer: the
    network's own). The top layer holds the outputs and losses; ``forward`` and ``backwards``
    are its records."""

    layers: list[Layer]

    @property
    def forward(self) -> Forward:
        return self.layers[-1].forward

    @property
    def backwards(self) -> list[Backward]:
        return self.layers[-1].backwards


@dataclass
class Run:
    """One pass, recorded: the trace's events and updates, and the records they view."""

    events: list[Mapping[str, Any]]  # in the order a student should see them
    updates: list[dict[str, Any]]  # one per window: CONTRACT.md's ``updates`` entries
    loss: float  # the sum of every injected (reduced) window loss
    examples: list[Recorded]  # one per sequence: the one sequence, or each example's
    final_params: Params  # after the last update
    opt_state: dict[str, Any]  # the optimizer's buffers after the last update

    @property
    def forward(self) -> Forward:
        """The first (for one sequence, the only) sequence's forward record (its top layer's)."""
        return self.examples[0].forward

    @property
    def backwards(self) -> list[Backward]:
        return self.examples[0].backwards


def run_schedule(problem: Problem, opt_state: dict[str, Any] | None = None,
                 record: bool = True) -> Run:
    """Run one pass over the sequence (or every sequence of a mini-batch) and record it.

    ``opt_state`` carries the optimizer's buffers from an earlier pass (training).
    ``record``: keep the trace (events, every window's backward pass, every update's arrays);
    a training pass that only needs the loss, the gradient norms and the parameters after it
    passes False, and holds no more than the windows still running need (the numbers are the
    same).

    A mini-batch runs each window over every example with the same parameter version; the
    update's gradient is the sum of the examples' shares (each already carries the
    reduction's weight), and one update follows, as one optimizer step on a batch does.

    A stack of layers runs each window's new steps through layer 1, then layer 2 reading
    layer 1's h(t), and so on (as PyTorch's num_layers, layer after layer); the window's
    backward pass runs the top layer first, and each layer below takes the error its upper
    neighbour sends down, dL/dh(t) through that layer's input matrices, at every step of the
    window (engine.schedule.backward_layers).
    """
    cell = problem.cell_module
    T, K, layers = problem.T, problem.K, problem.layers
    examples = problem.examples()
    # every example's forward pass reads the same parameter versions: one list a layer
    packs: list[list[Any]] = [[] for _ in range(layers)]
    outputs = [Outputs(T, K) for _ in examples]  # the network's, shared by its layers

    def layer_record(e: int, layer: int) -> Layer:
        out = outputs[e]
        return Layer(Forward(version_of=[0] * (T + 1), packs=packs[layer], outputs=out.o,
                             yhat=out.yhat, step_loss=out.step_loss,
                             step_grad_o=out.step_grad_o))

    run = Run(events=[], updates=[], loss=0.0, examples=[
        Recorded([layer_record(e, layer) for layer in range(layers)])
        for e in range(len(examples))],
        final_params=problem.params,
        opt_state=optim.init_state(problem.optimizer) if opt_state is None else opt_state)
    states = [problem.initial_states() for _ in examples]  # [example][layer]
    done = 0  # the last step already run forward
    for index, (first, last) in enumerate(problem.windows):
        params = run.final_params  # window i runs on the i-th parameter version
        new = range(done + 1, last + 1)
        shares: list[Share] = []
        for e, (example, recorded) in enumerate(zip(examples, run.examples, strict=True)):
            tag = e if problem.batch else None
            inputs = example.inputs
            for layer, rec in enumerate(recorded.layers, start=1):
                stacks, states[e][layer - 1] = forward_block(
                    example, rec.forward, layer_params(cell, params, layer), index, new,
                    states[e][layer - 1], inputs)
                if record:
                    run.events.extend(events.forward_events(
                        example, rec.forward, new, stacks, inputs, tag,
                        layer if layers > 1 else None))
                inputs = rec.forward.joined["h"]  # what the layer above reads
            fwd = recorded.forward
            evaluate_outputs(example, fwd, params, new)
            g_o, example_loss = inject_losses(example, fwd, params, new, first, len(examples))
            passes = backward_layers(example, recorded, params, first, last, g_o)
            grads: dict[str, np.ndarray] = {}
            for layer, (rec, bwd, factors) in enumerate(passes, start=1):
                grads.update(window_gradient(cell, bwd, factors, problem.H, layer))
                if record:  # dL/dx(t) is shown, never used: a training pass skips it
                    dx = input_grads(cell, rec.forward, bwd)
                    run.events.extend(events.backward_events(
                        cell, bwd, WindowGradients(factors), dx, index, problem.H, tag,
                        layer if layers > 1 else None))
                    rec.backwards.append(bwd)
            grads = {name: grads[name] for name in problem.params}  # the parameters' order
            grads = bugs.returned_gradient(problem.bug, grads,
                                           problem.clip.max if problem.clip else None)
            shares.append(Share(grads, example_loss, [bwd for _, bwd, _ in passes]))
        apply_update(problem, run, index, shares, record)
        done = last
        if not record:
            for rec in run.examples[0].layers:
                release_packs(rec.forward, problem.windows, index)
    return run


class Outputs:
    """The network's outputs, losses and dL(t)/do(t) of one sequence, rows t-1."""

    def __init__(self, T: int, K: int) -> None:
        self.o, self.yhat = np.zeros((T, K)), np.zeros((T, K))
        self.step_loss, self.step_grad_o = np.zeros(T), np.zeros((T, K))


@dataclass
class Share:
    """One example's part of a window: its gradient and loss (with the reduction's weight)
    and its backward pass (each layer's, bottom to top)."""

    grads: dict[str, np.ndarray]
    loss: float
    layers: list[Backward]

    @property
    def backward(self) -> Backward:
        """The top layer's backward pass."""
        return self.layers[-1]


def summed(shares: list[Share]) -> tuple[dict[str, np.ndarray], float]:
    """The window's gradient and loss: the sum of the examples' shares (one sequence's own)."""
    if len(shares) == 1:
        return shares[0].grads, shares[0].loss
    grads = {name: sum((share.grads[name] for share in shares[1:]),
                       start=shares[0].grads[name].copy()) for name in shares[0].grads}
    return grads, float(sum(share.loss for share in shares))


def release_packs(fwd: Forward, spans: tuple[tuple[int, int], ...], index: int) -> None:
    """Drop the packs of the versions no window after ``index`` runs on (an unrecorded pass
    keeps no parameter version it no longer needs)."""
    if index + 1 >= len(spans):
        return
    first, last = spans[index + 1][0], spans[index][1]
    oldest = fwd.version_of[first] if first <= last else index + 1
    for version in range(oldest):
        fwd.packs[version] = {}


def forward_block(problem: Problem, fwd: Forward, params: Params, version: int, new: range,
                  state: tuple[np.ndarray, ...], inputs: np.ndarray
                  ) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, ...]]:
    """Run the window's new steps of one layer forward from ``state`` with its parameters of
    version ``version`` (``params``: the layer's, under the cell's names), reading
    ``inputs`` (x(t) rows, or the layer below's h(t) rows), recording them; returns the
    block's stacks and the state after it."""
    cell = problem.cell_module
    if len(fwd.packs) == version:  # version 0 (the others were packed by their update)
        fwd.packs.append(cell.pack(params, problem.activation))
    lo, hi = new.start - 1, new.stop - 1  # 0-based rows of the new steps
    stacks = fwd.add_block(new.start, cell.forward_steps(fwd.packs[version], inputs[lo:hi],
                                                         state))
    fwd.version_of[new.start:new.stop] = [version] * len(new)
    return stacks, cell.state_of(StepRecord(stacks, len(new) - 1))


def evaluate_outputs(problem: Problem, fwd: Forward, params: Params, new: range) -> None:
    """The outputs, losses and dL(t)/do(t) of the new steps, read from the top layer's h."""
    lo, hi = new.start - 1, new.stop - 1
    o = losses.outputs(params["V"], params["b_y"], fwd.rows("h", new.start, new.stop - 1))
    yhat, step_loss, grad_o = losses.evaluate(problem.loss, o, problem.targets[lo:hi])
    fwd.outputs[lo:hi], fwd.yhat[lo:hi] = o, yhat
    fwd.step_loss[lo:hi], fwd.step_grad_o[lo:hi] = step_loss, grad_o


def inject_losses(problem: Problem, fwd: Forward, params: Params, new: range, first: int,
                  examples: int = 1) -> tuple[np.ndarray, float]:
    """g_o for the window first..new[-1] (error enters only at the new, injected steps) and
    the window's loss (their sum, or mean: over the window's loss terms of all ``examples``
    sequences of a mini-batch, as PyTorch's reduction="mean" over (n, T) outputs)."""
    lo, hi = new.start - 1, new.stop - 1
    injected = np.array([t in problem.loss_steps for t in new], dtype=bool)
    count = int(injected.sum())
    weight = 1.0 / (count * examples) if (problem.reduction == "mean" and count) else 1.0
    weight = bugs.loss_weight(problem.bug, weight, count)  # the same without a bug
    g_o = np.zeros((new.stop - first, problem.K))  # (n, K)
    g_o[new.start - first:][injected] = weight * fwd.step_grad_o[lo:hi][injected]
    return g_o, weight * float(fwd.step_loss[lo:hi][injected].sum())


def backward_layers(problem: Problem, recorded: Recorded, params: Params, first: int,
                    last: int, g_o: np.ndarray) -> list[tuple[Layer, Backward, Factors]]:
    """One window's backward pass through every layer, top first: (layer, its backward
    pass, its contribution factors under the network's names), bottom to top.

    The error enters the top layer through the output (V^T g_o(t)); each layer below takes,
    at every step of the window, what its upper neighbour's deltas send down through that
    neighbour's input matrices (dL/dh(t) of this layer: ``input_grads`` of the one above)."""
    cell, H, bug = problem.cell_module, problem.H, problem.bug
    passes: list[tuple[Layer, Backward, Factors]] = []
    dh_above = None
    for layer in range(problem.layers, 0, -1):
        rec = recorded.layers[layer - 1]
        inputs = problem.inputs if layer == 1 else recorded.layers[layer - 2].forward.joined["h"]
        bwd = backward_window(cell, rec.forward, params["V"], first, last, g_o, H, bug,
                              problem.activation, problem.carry, dh_above)
        factors = window_factors(cell, rec.forward, bwd, inputs, H, bug,
                                 output=layer == problem.layers)
        if layer > 1:
            factors = {(layer_name(name, layer) if name in cell.PARAMS else name): value
                       for name, value in factors.items()}
            dh_above = input_grads(cell, rec.forward, bwd)
        passes.append((rec, bwd, factors))
    return passes[::-1]


def apply_update(problem: Problem, run: Run, index: int, shares: list[Share],
                 record: bool = True) -> None:
    """Sum the examples' shares, clip, step the optimizer, and record the update (its entry
    and its event).

    The new parameters are packed here when a window runs on them, and kept as views into
    their pack (engine.memory.packed_with_views): one copy of each version, not two."""
    grads, window_loss = summed(shares)
    bwd = shares[0].backward
    params = run.final_params
    clipped = optim.clip(grads, problem.clip)
    new_params, run.opt_state = optim.step(params, clipped.grads, problem.optimizer,
                                           run.opt_state)
    if index + 1 < len(problem.windows):  # the next window runs on them
        new_params = dict(new_params)
        for layer, rec in enumerate(run.examples[0].layers, start=1):
            packed, views = packed_with_views(problem.cell_module,
                                              layer_params(problem.cell_module, new_params,
                                                           layer), problem.activation)
            new_params.update({layer_name(name, layer): view for name, view in views.items()})
            rec.forward.packs.append(packed)
    if record:
        entry = {
            "t": bwd.last, "window": [bwd.first, bwd.last], "loss": window_loss,
            "grads": grads, "grad_norm": clipped.norm, "clip_coef": clipped.coef,
            "clipped": clipped.clipped, "clipped_entries": clipped.changed,
            "clipped_grads": clipped.grads,
            "params_before": params, "params_after": new_params,
        }
        for s, name in enumerate(problem.cell_module.STATE):  # dL/dh(first-1) (and dc)
            entry[f"d{name}_start"] = window_start(problem, shares, s)
        if problem.batch:  # each example's part, adding up to the loss and the gradient
            entry["shares"] = [{"example": e, "loss": share.loss, "grads": share.grads}
                               for e, share in enumerate(shares)]
        run.updates.append(entry)
        run.events.append({"kind": "update", "t": bwd.last, "update": index})
    else:  # what a training pass reads: no arrays
        run.updates.append({"t": bwd.last, "window": [bwd.first, bwd.last],
                            "loss": window_loss, "grad_norm": clipped.norm,
                            "clip_coef": clipped.coef, "clipped": clipped.clipped})
    run.loss += window_loss
    run.final_params = new_params


def window_start(problem: Problem, shares: list[Share], s: int) -> np.ndarray:
    """dL/d(state s before the window): (H,) of one sequence's one layer; a stack's is
    (layers, H), bottom to top; a mini-batch's has each example's first, (n, ...)."""
    def one(share: Share) -> np.ndarray:
        if problem.layers == 1:
            return share.backward.dstate_start[s]
        return np.stack([bwd.dstate_start[s] for bwd in share.layers])
    return np.stack([one(share) for share in shares]) if problem.batch else one(shares[0])


# ---------------------------------------------------------------------------------------------
# One window's backward pass and its gradient.


def backward_window(cell: Cell, fwd: Forward, V: np.ndarray, first: int, last: int,
                    g_o: np.ndarray, H: int, bug: str | None = None,
                    activation: str = "tanh", carry: np.ndarray | None = None,
                    dh_above: np.ndarray | None = None) -> Backward:
    """Deltas for t = last..first, error entering only through g_o (rows first..last), or,
    for a layer under another, only from the layer above (``dh_above``, rows first..last);
    ``bug``: a planted mistake (engine.bugs), a factor replaced or a term the cell drops;
    ``carry``: randomized truncation's xi_1..xi_T (the window's rows are passed)."""
    if dh_above is None:
        dh_out = g_o @ V  # (n, H): V^T g_o(t) for every step (V is the same for all of them
        # whenever g_o is nonzero: only the steps new in this window carry a loss)
        dh_in = dh_out
    else:  # a lower layer: no output of its own
        dh_out, dh_in = np.zeros_like(dh_above), dh_above
    stacks = {key: fwd.rows(key, first, last) for key in cell.BACKWARD_KEYS}
    Ws = [cell.recurrent(fwd.packs[version]) for version in fwd.version_of[first:last + 1]]
    if carry is not None:  # (a planted bug is refused with randomized truncation)
        out = cell.backward_steps(Ws, stacks, dh_in, carry=carry[first - 1:last])
    elif bug is None:
        out = cell.backward_steps(Ws, stacks, dh_in)
    else:
        stacks = bugs.backward_stacks(bug, cell.NAME, lambda key: fwd.rows(key, first, last),
                                      stacks, activation)
        out = cell.backward_steps(Ws, stacks, dh_in, bug)
    return Backward(first=first, last=last, g_o=g_o, dh_out=dh_out, dh_next=out["dh_next"],
                    dh=out["dh"], delta=out["delta"], dh_prev=out["dh_prev"],
                    recorded={key: out[key] for key in cell.BACKWARD_RECORDED},
                    dstate_start=tuple(out[f"d{name}_prev"][0] for name in cell.STATE),
                    dh_above=dh_above)


def window_factors(cell: Cell, fwd: Forward, bwd: Backward, inputs: np.ndarray, H: int,
                   bug: str | None = None, output: bool = True) -> Factors:
    """Left and right factors of every parameter's per-step contributions in this window,
    as the cell declares them (``PARAMS``; the output layer's V and b_y take g_o, when
    ``output``: the top layer's). A diagonal
    parameter's contribution is the elementwise product left * right: it is its left factor,
    with no right one, as a bias's is. ``bug`` may plant another right factor
    (engine.bugs.right_factor). ``inputs``: the layer's x(t) rows (the layer below's h)."""
    def right_rows(declared: str | None) -> np.ndarray | None:
        key = bugs.right_factor(bug, declared)
        if key is None:
            return None
        if key == "x":
            return inputs[bwd.first - 1:bwd.last]
        return fwd.rows(key, bwd.first, bwd.last)

    deltas = split_gates(cell, bwd.delta, H)
    factors: Factors = {
        name: ((deltas[spec.delta] * right_rows(spec.right), None) if spec.kind == "diagonal"
               else (deltas[spec.delta], right_rows(spec.right)))
        for name, spec in cell.PARAMS.items()}
    if output:
        factors["V"] = (bwd.g_o, right_rows("h"))
        factors["b_y"] = (bwd.g_o, None)
    return factors


def sum_factors(factors: Factors) -> dict[str, np.ndarray]:
    """The window's gradient: sum over steps of left(t) right(t)^T, as one product each."""
    return {name: (left.sum(axis=0) if right is None else left.T @ right)
            for name, (left, right) in factors.items()}


def window_gradient(cell: Cell, bwd: Backward, factors: Factors, H: int, layer: int = 1
                    ) -> dict[str, np.ndarray]:
    """``sum_factors`` with the gates that share a right factor (h(t-1), x(t), none) summed
    as one product of the stacked deltas, then split by rows: an LSTM window is three
    products instead of twelve. Gradients are row blocks of those products (views). A group
    whose gates are not adjacent in the stack, in order, and a diagonal parameter, are summed
    one parameter at a time. ``factors`` are layer ``layer``'s, under the network's names."""
    gate_index = {key: j for j, key in enumerate(cell.DELTA_KEYS)}
    groups: dict[str | None, list[tuple[str, int]]] = {}
    alone: list[str] = [name for name in ("V", "b_y") if name in factors]
    for base, spec in cell.PARAMS.items():
        name = layer_name(base, layer)
        if spec.kind == "diagonal":
            alone.append(name)
        else:
            groups.setdefault(spec.right, []).append((name, gate_index[spec.delta]))
    grads: dict[str, np.ndarray] = {}
    for members in groups.values():
        lo = members[0][1]
        if [j for _, j in members] != list(range(lo, lo + len(members))):
            alone += [name for name, _ in members]
            continue
        left = bwd.delta[:, lo * H:(lo + len(members)) * H]  # (n, m*H)
        right_rows = factors[members[0][0]][1]
        total = left.sum(axis=0) if right_rows is None else left.T @ right_rows
        for name, j in members:
            grads[name] = total[(j - lo) * H:(j - lo + 1) * H]
    grads.update(sum_factors({name: factors[name] for name in alone}))
    return {name: grads[name] for name in factors}  # the order of the parameters


def input_grads(cell: Cell, fwd: Forward, bwd: Backward) -> np.ndarray:
    """dL/dx(t) for the window's rows, each with the U of the version its step used."""
    first_version = fwd.version_of[bwd.first]
    if first_version == fwd.version_of[bwd.last]:  # one version (versions only grow in t)
        return cell.input_grad(fwd.packs[first_version], bwd.delta)
    versions = np.array([fwd.version_of[t] for t in range(bwd.first, bwd.last + 1)])
    dx = np.empty((len(versions), fwd.packs[first_version]["U"].shape[1]))
    for version in np.unique(versions):
        rows = versions == version
        dx[rows] = cell.input_grad(fwd.packs[version], bwd.delta[rows])
    return dx


def forward_only(problem: Problem, params: Params, inputs: np.ndarray,
                 states: list[tuple[np.ndarray, ...]]
                 ) -> tuple[np.ndarray, list[tuple[np.ndarray, ...]]]:
    """Outputs o(t) (n, K) for the given inputs from each layer's state (bottom to top), and
    the states after them."""
    cell = problem.cell_module
    after = []
    for layer, state in enumerate(states, start=1):
        packed = cell.pack(layer_params(cell, params, layer), problem.activation)
        ux = cell.input_projection(packed, inputs)
        hs = []
        for row in range(len(inputs)):
            state = cell.state_of(cell.step_forward(packed, ux[row], state))
            hs.append(state[0])
        inputs = np.array(hs)  # what the layer above reads
        after.append(state)
    return losses.outputs(params["V"], params["b_y"], inputs), after
