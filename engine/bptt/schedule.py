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
from ..cells.protocol import ONE_UNIT, Cell, Params, Unit, layer_params, split_gates
from ..request import bugs
from . import events, losses, optim
from .lazy import Factors, WindowGradients
from .problem import Problem
from .record import Backward, Forward, StepRecord


def windows(T: int, k1: int, k2: int) -> list[tuple[int, int]]:
    """(first, last) of every window: an update after each multiple of k1 and after T."""
    return [(max(1, t - k2 + 1), t) for t in range(1, T + 1) if t % k1 == 0 or t == T]


@dataclass
class Record:
    """One unit of one sequence's pass (a layer, or one direction of it): its forward record,
    in its own time order (a reverse unit's row 1 is step T), and each window's backward
    pass."""

    unit: Unit
    forward: Forward
    backwards: list[Backward] = field(default_factory=list)  # one per window (when recorded)


@dataclass
class Recorded:
    """What one sequence's pass recorded: each unit's records, in the stack's order (one
    layer of one direction: the network's own). ``forward`` and ``backwards`` are the top
    layer's forward unit's: the one that reads the outputs and losses (all units share
    them)."""

    units: list[Record]

    @property
    def forward(self) -> Forward:
        return self.top.forward

    @property
    def backwards(self) -> list[Backward]:
        return self.top.backwards

    @property
    def top(self) -> Record:
        layers = self.units[-1].unit.layer
        return next(rec for rec in self.units if rec.unit == Unit(layers))

    def layer(self, layer: int) -> list[Record]:
        """The units of one layer: its forward one, and its reverse one when bidirectional."""
        return [rec for rec in self.units if rec.unit.layer == layer]

    def readout(self, layer: int) -> np.ndarray:
        """What layer ``layer`` gives the layer above (or the output): its h(t), rows in time
        order, [h(t); h_rev(t)] when bidirectional (T, H or 2H); layer 0 gives nothing."""
        recs = self.layer(layer)
        if len(recs) == 1:
            return recs[0].forward.joined["h"]  # a view: filled window after window
        forward, reverse = recs
        return np.hstack([forward.forward.joined["h"], reverse.forward.joined["h"][::-1]])


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
    window (``backward_units``). A bidirectional layer is two units: the reverse one runs
    the same cell over the rows from T back to 1 (in its own time order), and the layer
    above and the output read both, [h(t); h_rev(t)]; it has one window, the whole sequence.
    """
    cell = problem.cell_module
    T, K, stack = problem.T, problem.K, problem.stack
    examples = problem.examples()
    # every example's forward pass reads the same parameter versions: one list a unit
    packs: dict[Unit, list[Any]] = {unit: [] for unit in stack.units}
    outputs = [Outputs(T, K) for _ in examples]  # the network's, shared by its units

    def unit_record(e: int, unit: Unit) -> Record:
        out = outputs[e]
        return Record(unit, Forward(version_of=[0] * (T + 1), packs=packs[unit], outputs=out.o,
                                    yhat=out.yhat, step_loss=out.step_loss,
                                    step_grad_o=out.step_grad_o))

    run = Run(events=[], updates=[], loss=0.0, examples=[
        Recorded([unit_record(e, unit) for unit in stack.units]) for e in range(len(examples))],
        final_params=problem.params,
        opt_state=optim.init_state(problem.optimizer) if opt_state is None else opt_state)
    states = [problem.initial_states() for _ in examples]  # [example][unit]
    done = 0  # the last step already run forward
    for index, (first, last) in enumerate(problem.windows):
        params = run.final_params  # window i runs on the i-th parameter version
        new = range(done + 1, last + 1)
        shares: list[Share] = []
        for e, (example, recorded) in enumerate(zip(examples, run.examples, strict=True)):
            tag = e if problem.batch else None
            for u, rec in enumerate(recorded.units):
                inputs = unit_inputs(example, recorded, rec.unit)
                stacks, states[e][u] = forward_block(
                    example, rec.forward, layer_params(cell, params, rec.unit), index, new,
                    states[e][u], inputs)
                if record:
                    run.events.extend(events.forward_events(
                        example, rec.forward, new, stacks, inputs, tag, rec.unit))
            fwd = recorded.forward
            evaluate_outputs(example, fwd, params, new, recorded.readout(stack.layers))
            g_o, example_loss = inject_losses(example, fwd, params, new, first, len(examples))
            passes = backward_units(example, recorded, params, first, last, g_o)
            grads: dict[str, np.ndarray] = {}
            for rec, bwd, factors in passes:  # as computed: the top layer first
                grads.update(window_gradient(cell, bwd, factors, problem.H, rec.unit))
                if record:  # dL/dx(t) is shown, never used: a training pass skips it
                    dx = input_grads(cell, rec.forward, bwd)
                    run.events.extend(events.backward_events(
                        cell, bwd, WindowGradients(factors), dx, index, problem.H, tag,
                        rec.unit, stack, T))
                    rec.backwards.append(bwd)
            grads = {name: grads[name] for name in problem.params}  # the parameters' order
            grads = bugs.returned_gradient(problem.bug, grads,
                                           problem.clip.max if problem.clip else None)
            shares.append(Share(grads, example_loss, {rec.unit: bwd for rec, bwd, _ in passes}))
        apply_update(problem, run, index, shares, record)
        done = last
        if not record:
            for rec in run.examples[0].units:
                release_packs(rec.forward, problem.windows, index)
    return run


def unit_inputs(problem: Problem, recorded: Recorded, unit: Unit) -> np.ndarray:
    """The rows a unit reads, in its own time order: x(t) for layer 1, the layer below's
    readout above it; a reverse unit's from T back to 1 (views: nothing is copied but a
    bidirectional layer's readout)."""
    rows = problem.inputs if unit.layer == 1 else recorded.readout(unit.layer - 1)
    return rows[::-1] if unit.reverse else rows


class Outputs:
    """The network's outputs, losses and dL(t)/do(t) of one sequence, rows t-1."""

    def __init__(self, T: int, K: int) -> None:
        self.o, self.yhat = np.zeros((T, K)), np.zeros((T, K))
        self.step_loss, self.step_grad_o = np.zeros(T), np.zeros((T, K))


@dataclass
class Share:
    """One example's part of a window: its gradient and loss (with the reduction's weight)
    and its backward pass (each unit's, in the stack's order)."""

    grads: dict[str, np.ndarray]
    loss: float
    units: dict[Unit, Backward]

    @property
    def backward(self) -> Backward:
        """A backward pass of the window (every unit's spans the same steps)."""
        return next(iter(self.units.values()))


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


def evaluate_outputs(problem: Problem, fwd: Forward, params: Params, new: range,
                     readout: np.ndarray) -> None:
    """The outputs, losses and dL(t)/do(t) of the new steps, read from the top layer's
    ``readout`` (its h(t) rows, [h; h_rev] when bidirectional) into ``fwd``'s arrays."""
    lo, hi = new.start - 1, new.stop - 1
    o = losses.outputs(params["V"], params["b_y"], readout[lo:hi])
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


def backward_units(problem: Problem, recorded: Recorded, params: Params, first: int,
                   last: int, g_o: np.ndarray) -> list[tuple[Record, Backward, Factors]]:
    """One window's backward pass through every unit, top layer first: (unit, its backward
    pass, its contribution factors under the network's names), in the order computed.

    The error enters the top layer through the output, V^T g_o(t) (split between the two
    directions' halves when bidirectional); each layer below takes, at every step of the
    window, what its upper neighbour's deltas send down through that neighbour's input
    matrices (dL/d(readout)(t) of this layer: ``input_grads`` of the units above, summed).
    The output layer's V and b_y take their factors from the readout the output read, and
    are the top forward unit's."""
    cell, H, bug, stack = problem.cell_module, problem.H, problem.bug, problem.stack
    n = last - first + 1
    dh_in = g_o @ params["V"]  # (n, H or 2H): V^T g_o(t) for every step of the window
    passes: dict[Unit, tuple[Record, Backward, Factors]] = {}
    for layer in range(stack.layers, 0, -1):
        # what this layer sends down to the readout of the one below (rows in time order)
        sent = np.zeros((n, H * stack.directions)) if layer > 1 else None
        for rec in recorded.layer(layer):
            unit = rec.unit
            part = dh_in[:, H:][::-1] if unit.reverse else dh_in[:, :H]
            top = layer == stack.layers
            bwd = backward_window(cell, rec.forward, params["V"], first, last,
                                  g_o[::-1] if unit.reverse else g_o, H, bug,
                                  problem.activation, problem.carry,
                                  dh_out=part if top else None,
                                  dh_above=None if top else part)
            output = unit == Unit(stack.layers)  # the top forward unit holds V and b_y
            factors = window_factors(cell, rec.forward, bwd, unit_inputs(problem, recorded, unit),
                                     H, bug, output=output)
            factors = {(unit.name(name) if name in cell.PARAMS else name): value
                       for name, value in factors.items()}
            if output and stack.bidirectional:  # V reads both directions: [h(t); h_rev(t)]
                factors["V"] = (g_o, recorded.readout(stack.layers)[first - 1:last])
            if sent is not None:
                dx = input_grads(cell, rec.forward, bwd)
                sent += dx[::-1] if unit.reverse else dx
            passes[unit] = (rec, bwd, factors)
        dh_in = sent if sent is not None else dh_in  # what layer - 1 receives
    return list(passes.values())  # in the order computed


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
        for rec in run.examples[0].units:
            packed, views = packed_with_views(problem.cell_module,
                                              layer_params(problem.cell_module, new_params,
                                                           rec.unit), problem.activation)
            new_params.update({rec.unit.name(name): view for name, view in views.items()})
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
    """dL/d(state s before the window): (H,) of one sequence's one unit; a stack's is
    (units, H), in the stack's order (a reverse unit's: after its step 1, which is step T);
    a mini-batch's has each example's first, (n, ...)."""
    def one(share: Share) -> np.ndarray:
        if len(share.units) == 1:
            return share.backward.dstate_start[s]
        return np.stack([share.units[unit].dstate_start[s] for unit in problem.stack.units])
    return np.stack([one(share) for share in shares]) if problem.batch else one(shares[0])


# ---------------------------------------------------------------------------------------------
# One window's backward pass and its gradient.


def backward_window(cell: Cell, fwd: Forward, V: np.ndarray, first: int, last: int,
                    g_o: np.ndarray, H: int, bug: str | None = None,
                    activation: str = "tanh", carry: np.ndarray | None = None,
                    dh_out: np.ndarray | None = None,
                    dh_above: np.ndarray | None = None) -> Backward:
    """Deltas for t = last..first, error entering only through g_o (rows first..last; V^T
    g_o, or its part ``dh_out`` when given), or, for a layer under another, only from the
    layer above (``dh_above``, rows first..last);
    ``bug``: a planted mistake (engine.bugs), a factor replaced or a term the cell drops;
    ``carry``: randomized truncation's xi_1..xi_T (the window's rows are passed)."""
    if dh_above is None:
        if dh_out is None:  # (n, H): V^T g_o(t) for every step (V is the same for all of
            dh_out = g_o @ V  # them whenever g_o is nonzero: only the new steps carry a loss)
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


def window_gradient(cell: Cell, bwd: Backward, factors: Factors, H: int,
                    unit: Unit = ONE_UNIT) -> dict[str, np.ndarray]:
    """``sum_factors`` with the gates that share a right factor (h(t-1), x(t), none) summed
    as one product of the stacked deltas, then split by rows: an LSTM window is three
    products instead of twelve. Gradients are row blocks of those products (views). A group
    whose gates are not adjacent in the stack, in order, and a diagonal parameter, are summed
    one parameter at a time. ``factors`` are ``unit``'s, under the network's names."""
    gate_index = {key: j for j, key in enumerate(cell.DELTA_KEYS)}
    groups: dict[str | None, list[tuple[str, int]]] = {}
    alone: list[str] = [name for name in ("V", "b_y") if name in factors]
    for base, spec in cell.PARAMS.items():
        name = unit.name(base)
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
    """dL/dx(t) for the window's rows (of the unit's own inputs, in its time order), each
    with the U of the version its step used."""
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
    """Outputs o(t) (n, K) for the given inputs from each unit's state (in the stack's
    order), and the states after them (a reverse unit's: after it read the rows back to the
    first)."""
    cell = problem.cell_module
    after = []
    units = problem.stack.units
    readout: dict[int, list[np.ndarray]] = {}  # layer -> its units' h rows, in time order
    for unit, state in zip(units, states, strict=True):
        rows = inputs if unit.layer == 1 else np.hstack(readout[unit.layer - 1])
        packed = cell.pack(layer_params(cell, params, unit), problem.activation)
        ux = cell.input_projection(packed, rows[::-1] if unit.reverse else rows)
        hs = []
        for row in range(len(rows)):
            state = cell.state_of(cell.step_forward(packed, ux[row], state))
            hs.append(state[0])
        readout.setdefault(unit.layer, []).append(np.array(hs[::-1] if unit.reverse else hs))
        after.append(state)
    top = np.hstack(readout[problem.stack.layers])
    return losses.outputs(params["V"], params["b_y"], top), after
