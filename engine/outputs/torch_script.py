""""Check it in PyTorch": a short Python script that redoes a pass in PyTorch and compares.

``torch_script(request)`` runs the engine on the request and writes a script that stands alone
(it needs torch and nothing else, not even this package): the same network built by hand from
DESIGN.md's equations, the same initial parameters, initial state and data (as the engine
encoded them), the same BPTT(k1, k2) schedule, clipping and torch.optim optimizer, run with
autograd. It compares every hidden state, step loss, window loss, gradient, clipped gradient
and updated parameter with the numbers the engine computed, which the script carries at its
end, prints each comparison, and then "all match" or what differs (exit status 1).

The script is written for a student to read: only the chosen cell, loss, clipping and optimizer
appear, the schedule is one loop with the rule in its comments, and the numbers come last. The
schedule is written from DESIGN.md, not from the engine: each window is replayed from the state
before it (held constant: that is the truncation), each step with its own copy of the
parameters it used on the way forward, so the window's gradient is the sum of the steps' shares
(the sum over the parameter versions when k2 > k1).

A bidirectional network reads the whole sequence before its first output (its reverse networks
start at step T), so its BPTT is one window, 1..T, and one update: its script runs every unit
over the whole sequence at once (``network``: each layer's forward network over t = 1..T, its
reverse one over t = T..1, both reading [h(t); h_rev(t)] of the layer below) with autograd on,
compares every unit's states and every loss, then the window's gradients and the update.

Pure standard library and NumPy; it writes text and never imports torch.
"""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import replace
from typing import Any

import numpy as np

from ..cells.protocol import Stack, Unit
from ..cells.registry import CELLS
from ..planning.plan import Plan, plan
from ..request.fields import TraceRequest
from ..tasks.run import run_trace

__all__ = ["torch_script", "estimate_script_bytes"]

# How close is "the same": float64 on both sides, the same operations in another order, so
# the numbers agree to about 1e-15 of their size; the check allows 1e-9 relative.
RTOL = 1e-9
ATOL = 1e-12

# Bytes per embedded number (a float64 in its shortest repr, about 19 characters, and ", ").
BYTES_PER_NUMBER = 22


def estimate_script_bytes(request: Plan | TraceRequest | dict[str, Any]) -> int:
    """About how large the script of a request (or its plan) is, from the sizes alone, before
    anything runs.

    The embedded numbers: the data and the initial parameters, two states per step (h, and c
    for the LSTM) of every sequence of a mini-batch, and per update its gradients, the
    clipped ones (with clipping) and the parameters after, each as large as the parameters.
    """
    job = request if isinstance(request, Plan) else plan(request)
    per_update = job.parameter_count * (3 if job.request.clip is not None else 2)
    layers = job.request.num_layers
    units = job.work.units  # layers x directions
    per_sequence = (job.T * (job.D + job.K) + 2 * units * job.T * job.H
                    + job.T)  # each example's: its data, states of every unit and losses
    numbers = (job.data.n * per_sequence + job.parameter_count
               + len(job.windows) * per_update)
    # the script's own text: 4 KB, 2 KB more for a mini-batch's loops and comments, 1 KB for
    # a stack's function, 1.5 KB for a bidirectional network's pass over the whole sequence
    return (4000 + (2000 if job.data.examples else 0) + (1000 if layers > 1 else 0)
            + (1500 if job.request.bidirectional else 0) + numbers * BYTES_PER_NUMBER)


def torch_script(request: Plan | TraceRequest | dict[str, Any], *,
                 made_by: str = "BPTT Studio", version: str | None = None) -> str:
    """The PyTorch script that rebuilds ``request``'s pass and checks the engine's numbers.

    ``request`` is a request (a dict or a ``TraceRequest``) or its ``Plan``; ``made_by`` names
    the source of the numbers in the script's text, ``version`` its version. Raises
    ``RequestError`` for a bad request, like ``run_trace``.
    """
    job = request if isinstance(request, Plan) else plan(request)
    # The script compares states, gradients and updates: the diagnostics are not needed.
    job = replace(job, request=replace(job.request, diagnostics=False, jacobian_norms=False,
                                       spectral_radii=False))
    with np.errstate(all="ignore"):
        result = run_trace(job)
    return _Writer(result, made_by, version).script()


def _rule(title: str) -> str:
    """A section heading of the script, ruled to 99 columns."""
    head = f"# ---- {title} "
    return head + "-" * max(4, 99 - len(head)) + "\n"


# ---------------------------------------------------------------------------------------------
# Numbers as Python literals.


def _number(x: Any) -> str:
    if isinstance(x, bool | np.bool_):
        return repr(bool(x))
    if isinstance(x, int | np.integer):
        return str(int(x))
    value = float(x)
    if math.isfinite(value):
        return repr(value)  # the shortest text that reads back as exactly this float64
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _literal(value: Any) -> str:
    """A number, vector or matrix on one line (a matrix as a list of rows)."""
    array = np.asarray(value)
    if array.ndim == 0:
        return _number(array.item())
    return "[" + ", ".join(_literal(item) for item in array) + "]"


def _rows(value: Any, indent: str) -> str:
    """A matrix with one row per line, a vector or number on one line."""
    array = np.asarray(value)
    if array.ndim < 2:
        return _literal(array)
    inner = "".join(f"{indent}    {_literal(row)},\n" for row in array)
    return "[\n" + inner + indent + "]"


def _named(arrays: dict[str, Any], indent: str) -> str:
    """{name: array} with one name per line."""
    inner = "".join(f'{indent}    "{name}": {_literal(value)},\n' for name, value in arrays.items())
    return "{\n" + inner + indent + "}"


def _shape(array: Any) -> str:
    shape = np.shape(array)
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


# ---------------------------------------------------------------------------------------------
# The parts of the script that depend on the scenario.

_LOSS_CODE = {
    "cross_entropy": '''
def step_loss(p, h, y):
    """Softmax cross-entropy of the output o(t) = V h(t) + b_y: L(t) = -log softmax(o(t))[y(t)]."""
    o = p["V"] @ h + p["b_y"]
    return -torch.log_softmax(o, dim=0)[y]
''',
    "mse": '''
def step_loss(p, h, y):
    """Half the squared error of the output o(t) = V h(t) + b_y: L(t) = 1/2 ||o(t) - y(t)||^2."""
    o = p["V"] @ h + p["b_y"]
    return 0.5 * ((o - y) ** 2).sum()
''',
}

def _optimizer_line(optimizer: dict[str, Any]) -> tuple[str, str]:
    """(the constructor call, its description) of torch.optim's rule with the engine's settings."""
    name, lr = optimizer["name"], _number(optimizer["lr"])
    if name == "sgd":
        return f"torch.optim.SGD(live, lr={lr})", f"SGD (lr = {lr})"
    if name == "momentum":
        m = _number(optimizer["momentum"])
        return (f"torch.optim.SGD(live, lr={lr}, momentum={m})",
                f"SGD with momentum (lr = {lr}, momentum = {m})")
    eps = _number(optimizer["eps"])
    if name == "adagrad":
        return f"torch.optim.Adagrad(live, lr={lr}, eps={eps})", f"Adagrad (lr = {lr})"
    b1, b2 = (_number(b) for b in optimizer["betas"])
    return (f"torch.optim.Adam(live, lr={lr}, betas=({b1}, {b2}), eps={eps})",
            f"Adam (lr = {lr}, betas = ({b1}, {b2}))")


def _clip_lines(clip: dict[str, Any] | None) -> tuple[str, str]:
    """(the clipping code inside the update, its description)."""
    if clip is None:
        return "", "no clipping"
    limit = _number(clip["max"])
    if clip["mode"] == "norm":
        code = (f"        # clip_grad_norm_: scale every gradient by {limit} / (norm + 1e-6) when "
                f"that is below 1\n"
                f"        torch.nn.utils.clip_grad_norm_(live, max_norm={limit})\n")
        return code, f"gradients clipped to a global norm of {limit}"
    code = (f"        # clip_grad_value_: clamp every gradient entry to [-{limit}, {limit}]\n"
            f"        torch.nn.utils.clip_grad_value_(live, clip_value={limit})\n")
    return code, f"every gradient entry clipped to [-{limit}, {limit}]"


# The parts of the pass that differ between one sequence and a mini-batch (the script's text).
_ONE_STATES = """\
    states = [tuple(torch.tensor(s) for s in {state0})]  # states[t]: the state after step t
"""
_ONE_FORWARD = """\
        # Forward step t, with the parameters of this moment (no graph is kept here).
        used.append({name: p.detach().clone() for name, p in params.items()})
        with torch.no_grad():
            state = step(used[t], inputs[t - 1], states[t - 1])
            loss = step_loss(used[t], state[0], targets[t - 1])
        states.append(state)
        compare(f"h({t})", state[0], EXPECTED["h"][t - 1], failures)
{checks}        compare(f"L({t})", loss, EXPECTED["step_losses"][t - 1], failures)
"""
_ONE_REPLAY = """\
        state = states[first - 1]
        window_loss = torch.zeros(())
        for s in range(first, t + 1):
{xi}            state = step(copies[s], inputs[s - 1], state)
            if s in injected:
                window_loss = window_loss + step_loss(copies[s], state[0], targets[s - 1])
        if MEAN and injected:
            window_loss = window_loss / len(injected)
"""
_BATCH_STATES = """\
    # states[e][t]: the state of example e after step t; every example starts from h(0)
    states = [[tuple(torch.tensor(s) for s in {state0})] for _ in range(N)]
"""
_BATCH_FORWARD = """\
        # Forward step t of every example, with the parameters of this moment (no graph).
        used.append({name: p.detach().clone() for name, p in params.items()})
        for e in range(N):
            with torch.no_grad():
                state = step(used[t], inputs[e][t - 1], states[e][t - 1])
                loss = step_loss(used[t], state[0], targets[e][t - 1])
            states[e].append(state)
            compare(f"h({t}) of example {e}", state[0], EXPECTED["h"][e][t - 1], failures)
{checks}            compare(f"L({t}) of example {e}", loss, EXPECTED["step_losses"][e][t - 1],
                    failures)
"""
_BATCH_REPLAY = """\
        # Every example's window, replayed with the same copies: autograd adds their shares.
        window_loss = torch.zeros(())
        for e in range(N):
            state = states[e][first - 1]
            for s in range(first, t + 1):
{xi}                state = step(copies[s], inputs[e][s - 1], state)
                if s in injected:
                    window_loss = window_loss + step_loss(copies[s], state[0], targets[e][s - 1])
        if MEAN and injected:  # the mean over the batch's (example, step) loss terms
            window_loss = window_loss / (len(injected) * N)
"""


# A bidirectional network's pass (the script's text): every unit over the whole sequence.
_WHOLE_SEQUENCE = '''

CELL_PARAMS = {names}  # a unit's parameters: these names and its suffix


def network(p, xs, initial):
    """The whole sequence through every unit, in UNITS's order: a layer's forward network over
    t = 1..T, its reverse one over t = T..1 (from its initial state: its state "after step
    T + 1"), both reading what the layer below gives at step t (x(t) for layer 1, the layer
    below's [h(t); h_rev(t)] above it). Returns states[u][t - 1], unit u's state after step t,
    and the top layer's [h(t); h_rev(t)] for t = 1..T (what the output reads)."""
    states = []
    below = list(xs)  # below[t - 1]: what the layer reads at step t
    for u, (layer, reverse, suffix) in enumerate(UNITS):
        weights = {name: p[name + suffix] for name in CELL_PARAMS}
        state, mine = initial[u], [None] * T
        for t in (range(T, 0, -1) if reverse else range(1, T + 1)):
            state = step(weights, below[t - 1], state)
            mine[t - 1] = state
        states.append(mine)
        if reverse:  # the layer's two networks are done: the one above reads both
            below = [torch.cat([ours[0], theirs[0]]) for ours, theirs in zip(states[-2], mine)]
    return states, below
'''

# The whole-sequence pass of main (a bidirectional network's): every example's (or the one
# sequence's) pass with autograd on, each state and loss compared at step t.
_WHOLE_PASS = """\
    # Every unit's state at step t, and the loss, compared; the window's loss adds up the
    # injected ones (autograd keeps the graph: this is the window's pass).
    window_loss = torch.zeros(())
    for t in range(1, T + 1):
        for e, (states, top) in enumerate(passes):
            for u, (layer, reverse, _) in enumerate(UNITS):
                unit = f"of layer {layer}, {'reverse' if reverse else 'forward'}"
{checks}            loss = step_loss(params, top[t - 1], targets{at})
            compare(f"L({t}){of}", loss, EXPECTED["step_losses"]{at}, failures)
            if t in LOSS_STEPS:
                window_loss = window_loss + loss
"""


# The end of an update, once the gradients are compared (written at the update loop's depth).
_UPDATE = """\
        norm = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in live]))
        compare(f"gradient norm (window {first}..{t})", norm, theirs["grad_norm"], failures)

        # The update, with PyTorch's own functions on the live parameters.
{clip_code}{check_clipped}        optimizer.step()
        optimizer.zero_grad()
        for name, p in params.items():
            compare(f"{name} after the update at t = {t}", p.detach(),
                    theirs["params_after"][name], failures)
"""


def _unit_events(events: list[dict[str, Any]], example: int, unit: Unit
                 ) -> list[dict[str, Any]]:
    """The forward events of one example's unit (a one-direction event has no direction, a
    one-layer event no layer)."""
    return [event for event in events if event["kind"] == "forward"
            and event.get("example", 0) == example and event.get("layer", 1) == unit.layer
            and (event.get("direction") == "reverse") == unit.reverse]


def _blocks(value: Any) -> str:
    """A stack of matrices (a mini-batch's), one matrix per example, one row per line."""
    inner = "".join(f"    {_rows(matrix, '    ')},\n" for matrix in np.asarray(value))
    return "[\n" + inner + "]"


class _Writer:
    def __init__(self, result: dict[str, Any], made_by: str, version: str | None) -> None:
        self.r = result
        self.made_by = made_by
        self.version = version
        self.config = result["config"]
        self.cell = CELLS[self.config["cell"]]
        self.states = self.cell.STATE[1:]  # the states beyond h (the LSTM's c)
        # a mini-batch's n sequences (0: one sequence); every example's forward events
        self.n = int(result["sizes"].get("n", 0))
        # a stack's layers (1: one layer, whose script reads as it always has)
        self.layers = int(result["sizes"].get("layers", 1))
        # and whether each layer reads the sequence both ways (its script runs the whole
        # sequence, then its one update: a bidirectional network's BPTT is epochwise)
        self.stack = Stack(self.layers, int(result["sizes"].get("directions", 1)) == 2)
        # [example][unit]: each example's forward events of each unit, in step order (a
        # reverse unit records them in its own time, T first)
        self.by_unit = [[sorted(_unit_events(result["events"], example, unit),
                                key=lambda event: event["t"]) for unit in self.stack.units]
                        for example in range(self.n or 1)]
        # [example][layer]: the forward events of each example's layer (bottom first), of
        # its forward network
        self.stacked = [[events for events, unit in zip(units, self.stack.units, strict=True)
                         if not unit.reverse] for units in self.by_unit]
        self.forwards = [layers[0] for layers in self.stacked]  # each example's layer 1
        self.forward = self.forwards[0]
        self.T = len(self.forward)
        trunc = self.config["truncation"]
        fixed = trunc is not None and trunc.get("mode", "fixed") == "fixed"
        self.k1 = min(trunc["k1"], self.T) if fixed else self.T
        self.k2 = min(trunc["k2"] or trunc["k1"], self.T) if fixed else self.T
        self.clipping = self.config["clip"] is not None
        self.xi = result.get("xi")  # randomized truncation's weights (None: fixed or full)

    # ---- the scenario in words -----------------------------------------------------------

    def describe(self) -> list[str]:
        c, sizes = self.config, self.r["sizes"]
        title = self.cell.TITLE.format(activation=c["activation"])
        data = c["data"]
        items = data.get("batch", [data])  # a mini-batch's sequences are all of one shape
        quoted = ", ".join(json.dumps(item.get("text", item.get("words")), ensure_ascii=False)
                           for item in items)
        if "batch" in data:
            data = items[0]
        if "text" in data:
            what = f'the characters of {quoted}'
        elif "words" in data:
            what = f'the words of {quoted}'
        elif "series" in data:
            what = "a numeric series" if len(items) == 1 else "numeric series"
        elif "preset" in data:
            what = f'the preset "{data["preset"]}"'
        else:
            what = "explicit inputs and targets"
        loss = {"cross_entropy": "softmax cross-entropy", "mse": "1/2 squared error"}[c["loss"]]
        where = "at every step" if c["loss_at"] == "every" else "at the last step only"
        if self.xi is not None:
            schedule = (f"randomized truncation (p = {_number(c['truncation']['p'])}): full BPTT "
                        f"over all {self.T} steps, the error into step t-1 weighted by xi_t "
                        f"(0, or 1/p), one update")
        elif self.k1 == self.k2 == self.T:
            schedule = f"full BPTT: one backward pass over all {self.T} steps, one update"
        else:
            schedule = (f"truncated BPTT(k1 = {self.k1}, k2 = {self.k2}): an update every "
                        f"{self.k1} steps (and after the last), each looking back {self.k2} steps")
        _, optimizer = _optimizer_line(c["optimizer"])
        _, clipping = _clip_lines(c["clip"])
        stacked = (f", {self.layers} layers stacked (layer j reads layer j-1's h(t); the "
                   f"output reads the top layer's)" if self.layers > 1 else "")
        if self.stack.bidirectional:
            stacked = (f"{', ' if self.layers == 1 else f', {self.layers} layers, '}"
                       f"bidirectional (each layer a forward network over t = 1..{self.T} and "
                       f"a reverse one over t = {self.T}..1, the layer above and the output "
                       f"reading [h(t); h_rev(t)])")
        return [
            f"Network: {title}, hidden size H = {sizes['H']}{stacked}, input size D = "
            f"{sizes['D']}, output size K = {sizes['K']}.",
            (f"Data: a mini-batch of n = {self.n} sequences of T = {self.T} steps: {what}; "
             f"every example runs the same schedule, and each update's gradient is the sum "
             f"of the examples' shares." if self.n else
             f"Data: {what}, T = {self.T} steps."),
            f"Loss: {loss} {where} ({c['reduction']} over each window's loss "
            f"{'terms of every example' if self.n else 'steps'}).",
            f"Schedule: {schedule}.",
            f"Update: {optimizer}, {clipping}.",
        ]

    # ---- the script ----------------------------------------------------------------------

    def script(self) -> str:
        return "".join([self.header(), self.constants(), self.functions(), self.main(),
                        self.expected(), self.footer()])

    def header(self) -> str:
        described = "".join(textwrap.fill(line, 95, initial_indent="  ",
                                          subsequent_indent="    ") + "\n"
                            for line in self.describe())
        source = self.made_by + (f" {self.version}" if self.version else "")
        about = textwrap.fill(
            f"This script needs only PyTorch (pip install torch). It builds the same network "
            f"from the same initial parameters and data, runs the same BPTT(k1, k2) schedule "
            f"with PyTorch's autograd, clipping and optimizer, and compares every hidden state, "
            f"loss, gradient and update with the numbers {self.made_by} computed (they are at "
            f"the end of this file). It prints each comparison, then \"all match\" or what "
            f"differs (and exits with status 1). Run it with python, or in a notebook with "
            f"%run or pasted into a cell.", 95)
        if "bug" in self.r:  # named nowhere: the script is a clue, not the answer
            about += "\n\n" + textwrap.fill(
                "The numbers at the end come from a backward pass with a bug planted in it "
                "(the forward pass and the loss are the true ones): the lines marked DIFF say "
                "which gradients it gets wrong.", 95)
        title = (f"Check it in PyTorch: one pass of BPTT redone with autograd, against "
                 f"{self.made_by}.")
        return f'''"""{title}

{described}
{about}

Written by {source}.
"""

import torch

torch.set_default_dtype(torch.float64)  # {self.made_by} computes in float64 too
inf, nan = float("inf"), float("nan")  # in case a number overflowed

'''

    def constants(self) -> str:
        r, c = self.r, self.config
        first = self.forward[0]
        lines = [_rule(f"The network and the data, exactly as {self.made_by} used them"), "\n"]
        if r["vocab"] is not None:
            lines.append(f"VOCAB = {json.dumps(r['vocab'], ensure_ascii=False)}  # x(t) is "
                         f"the one-hot row of token t\n")
        if r["scale"] is not None:
            lines.append(f"# The series is z-scored: (value - {_number(r['scale']['mean'])}) / "
                         f"{_number(r['scale']['std'])}; x(t) is value t, y(t) value t + 1.\n")
        if self.n:  # one block of rows per example
            lines.append(f"N = {self.n}  # the sequences of the mini-batch\n")
            lines.append(f"INPUTS = {_blocks(r['inputs'])}  # {_shape(r['inputs'])}: "
                         f"INPUTS[e][t-1] is x(t) of example e\n")
            if c["loss"] == "cross_entropy":
                lines.append(f"TARGETS = {_rows(r['targets'], '')}  # TARGETS[e][t-1]: the "
                             f"class y(t) of example e\n")
            else:
                lines.append(f"TARGETS = {_blocks(r['targets'])}  # {_shape(r['targets'])}: "
                             f"TARGETS[e][t-1] is y(t) of example e\n")
        else:
            lines.append(f"INPUTS = {_rows(r['inputs'], '')}  # {_shape(r['inputs'])}: row t-1 "
                         f"is x(t)\n")
        if self.n:
            pass
        elif c["loss"] == "cross_entropy":
            lines.append(f"TARGETS = {_literal(r['targets'])}  # the class y(t) of each step\n")
        else:
            lines.append(f"TARGETS = {_rows(r['targets'], '')}  # {_shape(r['targets'])}: "
                         f"row t-1 is y(t)\n")
        if self.stack.bidirectional:  # one row a unit, in PyTorch's order
            for name in self.cell.STATE:
                rows = [events[-1 if unit.reverse else 0][f"{name}_prev"]
                        for events, unit in zip(self.by_unit[0], self.stack.units, strict=True)]
                lines.append(f"{name.upper()}0 = {_rows(rows, '')}  # {name}(0) of each unit "
                             f"(a reverse one's: its state before step T)"
                             f"{', every example' if self.n else ''}\n")
            units = [(unit.layer, unit.reverse, unit.name("")) for unit in self.stack.units]
            lines.append(f"UNITS = {units!r}  # (layer, reverse, suffix of its names) of each "
                         f"network, as H0's rows\n")
        elif self.layers > 1:  # one row a layer, bottom first
            for name in self.cell.STATE:
                rows = [layer[0][f"{name}_prev"] for layer in self.stacked[0]]
                lines.append(f"{name.upper()}0 = {_rows(rows, '')}  # {name}(0) of each "
                             f"layer{' (every example)' if self.n else ''}\n")
            lines.append(f"LAYERS = {self.layers}  # stacked: layer j reads layer j-1's h(t)\n")
        else:
            lines.append(f"H0 = {_literal(first['h_prev'])}  # h(0)"
                         f"{' of every example' if self.n else ''}\n")
            for name in self.states:
                lines.append(f"{name.upper()}0 = {_literal(first[f'{name}_prev'])}  "
                             f"# {name}(0)\n")
        shapes = ", ".join(f"{n} {_shape(v)}" for n, v in r["params"].items())
        lines.append(textwrap.fill(f"The initial parameters: {shapes}", 97,
                                   initial_indent="# ", subsequent_indent="# ") + "\n")
        lines.append("INITIAL = {\n")
        for name, value in r["params"].items():
            lines.append(f'    "{name}": {_rows(value, "    ")},\n')
        lines.append("}\n\n")
        loss_steps = list(r["loss_steps"])
        if loss_steps == list(range(1, self.T + 1)):
            steps = f"set(range(1, {self.T} + 1))  # a loss at every step"
        else:
            steps = "{" + ", ".join(map(str, loss_steps)) + "}  # the steps that have a loss"
        lines.append(f"T = {self.T}  # steps\n")
        if not self.stack.bidirectional:  # whose BPTT is one window, 1..T
            lines.append(f"K1, K2 = {self.k1}, {self.k2}  # BPTT(k1, k2): update every K1 "
                         f"steps, look back K2 steps\n")
        lines.append(f"LOSS_STEPS = {steps}\n")
        if self.xi is not None:
            lines.append(f"XI = {_literal(self.xi)}  # xi_1..xi_T: the weight of the error "
                         f"into step t-1\n")
        if self.n:
            lines.append(f"MEAN = {c['reduction'] == 'mean'}  # a window's loss: the mean "
                         f"(True) or the sum (False) of its (example, step) loss terms\n")
        else:
            lines.append(f"MEAN = {c['reduction'] == 'mean'}  # a window's loss: the mean "
                         f"(True) or the sum (False) of its steps' losses\n")
        lines.append(f"RTOL, ATOL = {RTOL!r}, {ATOL!r}  # float64 both sides, the same "
                     f"operations in another order\n\n")
        return "".join(lines)

    def functions(self) -> str:
        cell = self.cell.torch_step(self.config["activation"])
        if self.stack.bidirectional:
            cell += _WHOLE_SEQUENCE.replace("{names}", repr(list(self.cell.PARAMS)))
        elif self.layers > 1:
            names = list(self.cell.PARAMS)
            cell += f'''

CELL_PARAMS = {names!r}  # layer 1's names; layer j >= 2's end in _l<j>


def stack(p, x, states):
    """One step through every layer: layer 1 reads x(t), layer j reads layer j-1's new h(t)."""
    new = []
    for layer, state in enumerate(states, start=1):
        suffix = "" if layer == 1 else f"_l{{layer}}"
        state = step({{name: p[name + suffix] for name in CELL_PARAMS}}, x, state)
        new.append(state)
        x = state[0]
    return tuple(new)
'''
        return (_rule("The network, from the equations") + "\n" + cell + "\n" +
                _LOSS_CODE[self.config["loss"]] + '''

def compare(what, ours, theirs, failures):
    """Print one comparison and remember it when the numbers differ."""
    theirs = torch.as_tensor(theirs, dtype=torch.float64)
    same = ours.shape == theirs.shape and torch.allclose(ours, theirs, rtol=RTOL, atol=ATOL,
                                                         equal_nan=True)
    gap = (ours - theirs).abs().max().item() if ours.shape == theirs.shape else float("nan")
    print(f"{'ok  ' if same else 'DIFF'} {what:<36} largest difference {gap:.1e}")
    if not same:
        failures.append(what)

''')

    def passes(self, state0: str) -> tuple[str, str, str]:
        """The forward step, the window's replay and the states, in the script's text: of
        one sequence, or of every example of a mini-batch (whose replays all use the same
        copies of the parameters, so autograd sums the examples' shares)."""
        def weighted(indent: str) -> str:  # randomized truncation's xi_s on the recursion
            if self.xi is None:
                return ""
            return (f"{indent}if s > first:  # the error into step s-1 weighted by xi_s: the "
                    f"same value forward,\n{indent}    # its gradient times XI[s-1] backward\n"
                    f"{indent}    state = tuple(XI[s - 1] * v + (1 - XI[s - 1]) * v.detach() "
                    f"for v in state)\n")

        # one sequence, or the batch's loop over examples one level deeper
        forward, replay, states, indent, of, at = (
            (_BATCH_FORWARD, _BATCH_REPLAY, _BATCH_STATES, " " * 12, " of example {e}",
             "[e][t - 1]") if self.n else
            (_ONE_FORWARD, _ONE_REPLAY, _ONE_STATES, " " * 8, "", "[t - 1]"))
        checks = "".join(f'{indent}compare(f"{name}({{t}}){of}", state[{index}], '
                         f'EXPECTED["{name}"]{at}, failures)\n'
                         for index, name in enumerate(self.states, start=1))
        if self.layers == 1:
            return (forward.replace("{checks}", checks),
                    replay.replace("{xi}", weighted(indent + " " * 4)),
                    states.replace("{state0}", state0))
        # a stack: the state is a tuple of each layer's, the loss reads the top layer's h,
        # and every layer's states are compared (EXPECTED's [layer] before [t - 1])
        at = at.replace("[t - 1]", "[j][t - 1]")
        checks = (f'{indent}for j, layer in enumerate(state):\n' + "".join(
            f'{indent}    compare(f"{name}({{t}}) of layer {{j + 1}}{of}", layer[{index}], '
            f'EXPECTED["{name}"]{at}, failures)\n'
            for index, name in enumerate(self.cell.STATE)))
        forward = "".join(line for line in forward.splitlines(keepends=True)
                          if 'compare(f"h(' not in line)
        xi = weighted(indent + " " * 4).replace(
            "state = tuple(XI[s - 1] * v + (1 - XI[s - 1]) * v.detach() for v in state)",
            "state = tuple(tuple(XI[s - 1] * v + (1 - XI[s - 1]) * v.detach() for v in "
            "layer) for layer in state)")
        swap = {"step(": "stack(", "state[0]": "state[-1][0]"}
        for old, new in swap.items():
            forward, replay = forward.replace(old, new), replay.replace(old, new)
        initial = ("tuple(tuple(torch.tensor(s[j]) for s in {state0}) for j in range(LAYERS))"
                   .replace("{state0}", state0))
        states = states.replace("tuple(torch.tensor(s) for s in {state0})", initial)
        return (forward.replace("{checks}", checks), replay.replace("{xi}", xi), states)

    def state0(self) -> str:
        """The initial states' names as a tuple, in the script's text: "(H0, C0)", "(H0,)"."""
        return "(" + ", ".join(f"{name.upper()}0" for name in self.cell.STATE) + (
            "," if len(self.cell.STATE) == 1 else "") + ")"

    def update(self, indent: str = " " * 8) -> str:
        """The end of an update once the gradients are in p.grad and compared: their norm,
        clipping and the optimizer's step, each compared, in the script's text."""
        clip_code, _ = _clip_lines(self.config["clip"])
        check_clipped = ('''        for name, p in params.items():
            compare(f"clipped dL/d{name} (window {first}..{t})", p.grad,
                    theirs["clipped_grads"][name], failures)
''' if self.clipping else "")
        code = _UPDATE.replace("{clip_code}", clip_code).replace("{check_clipped}",
                                                                  check_clipped)
        return textwrap.indent(textwrap.dedent(code), indent, lambda line: bool(line.strip()))

    def main(self) -> str:
        if self.stack.bidirectional:
            return self.whole_sequence_main()
        create, _ = _optimizer_line(self.config["optimizer"])
        state0 = self.state0()
        forward, replay, states = self.passes(state0)
        update = self.update()
        return f'''
def main():
    """The pass, step by step; returns the list of what differs (empty: all match)."""
    failures = []
    inputs, targets = torch.tensor(INPUTS), torch.tensor(TARGETS)
    params = {{name: torch.tensor(value, requires_grad=True) for name, value in INITIAL.items()}}
    live = list(params.values())
    optimizer = {create}

{states}    used = [None]  # used[t]: the parameters step t ran with (they change at every update)
    expected_updates = iter(EXPECTED["updates"])
    last_update = 0
    for t in range(1, T + 1):
{forward}        if t % K1 != 0 and t != T:
            continue

        # After step t, an update: the losses of the steps since the last update are injected
        # and propagated back over the window first..t only. The window is replayed from the
        # state before it, which is held constant: that is the truncation. Each step gets its
        # own copy of the parameters it used on the way forward, so autograd gives each step's
        # share of the gradient, and the window's gradient is the sum of the shares.
        first = max(1, t - K2 + 1)
        injected = [s for s in range(last_update + 1, t + 1) if s in LOSS_STEPS]
        copies = {{s: {{name: v.clone().requires_grad_(True) for name, v in used[s].items()}}
                  for s in range(first, t + 1)}}
{replay}        if injected:
            window_loss.backward()
        theirs = next(expected_updates)
        compare(f"window loss (window {{first}}..{{t}})", window_loss, theirs["loss"], failures)
        for name, p in params.items():
            shares = [copies[s][name].grad for s in copies if copies[s][name].grad is not None]
            p.grad = torch.stack(shares).sum(dim=0) if shares else torch.zeros_like(p)
            compare(f"dL/d{{name}} (window {{first}}..{{t}})", p.grad, theirs["grads"][name],
                    failures)
{update}        last_update = t
    return failures

'''

    def whole_sequence_main(self) -> str:
        """main() of a bidirectional network: its reverse networks start at step T, so the
        pass reads the whole sequence first, and its BPTT is one window, 1..T, one update."""
        create, _ = _optimizer_line(self.config["optimizer"])
        batch = "[e]" if self.n else ""
        of = " of example {e}" if self.n else ""
        checks = "".join(f'                compare(f"{name}({{t}}) {{unit}}{of}", '
                         f'states[u][t - 1][{index}],\n'
                         f'                        EXPECTED["{name}"]{batch}[u][t - 1], '
                         f'failures)\n' for index, name in enumerate(self.cell.STATE))
        whole = (_WHOLE_PASS.replace("{checks}", checks).replace("{of}", of)
                 .replace("{at}", f"{batch}[t - 1]"))
        passes = ("[network(params, inputs[e], initial) for e in range(N)]  # every example's"
                  if self.n else "[network(params, inputs, initial)]  # the one sequence's")
        count = "len(LOSS_STEPS) * N" if self.n else "len(LOSS_STEPS)"
        return f'''
def main():
    """The pass over the whole sequence, then its one update; returns the list of what differs
    (empty: all match)."""
    failures = []
    inputs, targets = torch.tensor(INPUTS), torch.tensor(TARGETS)
    params = {{name: torch.tensor(value, requires_grad=True) for name, value in INITIAL.items()}}
    live = list(params.values())
    optimizer = {create}

    # A bidirectional network's reverse networks start at step T: the pass needs the whole
    # sequence, so its BPTT is one window, 1..T, and one update after it.
    initial = [tuple(torch.tensor(s[u]) for s in {self.state0()}) for u in range(len(UNITS))]
    passes = {passes}

{whole}    if MEAN:
        window_loss = window_loss / ({count})
    window_loss.backward()  # autograd, through every unit's every step

    first, t = 1, T
    theirs = EXPECTED["updates"][0]
    compare(f"window loss (window {{first}}..{{t}})", window_loss, theirs["loss"], failures)
    for name, p in params.items():
        compare(f"dL/d{{name}} (window {{first}}..{{t}})", p.grad, theirs["grads"][name],
                failures)
{self.update(" " * 4)}    return failures

'''

    def expected(self) -> str:
        r = self.r
        lines = ["\n" + _rule(f"What {self.made_by} computed"), "\n", "EXPECTED = {\n"]
        if len(self.stack.units) > 1:  # every unit's states: [unit][t - 1], [e] first
            of = "unit" if self.stack.bidirectional else "layer"  # a one-way stack's units
            for name in self.cell.STATE:
                per = [[[e[name] for e in events] for events in units] for units in self.by_unit]
                value = per if self.n else per[0]
                lines.append(f'    "{name}": {_literal(np.asarray(value).tolist())},  # {name}'
                             f'(1..T) of each {of}{" of each example" if self.n else ""}\n')
            lines.append(f'    "step_losses": {_literal(np.asarray(r["step_losses"]).tolist())},'
                         f'  # L(1..T){" of each example" if self.n else ""}\n')
        elif self.n:  # every example's states, one block each
            for name in self.cell.STATE:
                lines.append(f'    "{name}": ' + _blocks([[e[name] for e in forward]
                                                        for forward in self.forwards])
                             .replace("\n", "\n    ") + f",  # {name}(1..T) of each example\n")
            lines.append(f'    "step_losses": {_rows(r["step_losses"], "    ")},  # L(1..T) of '
                         f'each example\n')
        else:
            lines.append(f'    "h": {_rows([e["h"] for e in self.forward], "    ")},  '
                         f'# h(1..T)\n')
            for name in self.states:
                lines.append(f'    "{name}": {_rows([e[name] for e in self.forward], "    ")},  '
                             f'# {name}(1..T)\n')
            lines.append(f'    "step_losses": {_literal(r["step_losses"])},  # L(1..T)\n')
        lines.append('    "updates": [\n')
        for update in r["updates"]:
            first, last = update["window"]
            lines.append(f"        {{  # the update after step {update['t']}, window "
                         f"{first}..{last}\n")
            lines.append(f'            "loss": {_number(update["loss"])},\n')
            lines.append(f'            "grad_norm": {_number(update["grad_norm"])},\n')
            lines.append(f'            "grads": {_named(update["grads"], " " * 12)},\n')
            if self.clipping:
                lines.append(f'            "clipped_grads": '
                             f'{_named(update["clipped_grads"], " " * 12)},\n')
            lines.append(f'            "params_after": '
                         f'{_named(update["params_after"], " " * 12)},\n')
            lines.append("        },\n")
        lines.append("    ],\n}\n")
        return "".join(lines)

    def footer(self) -> str:
        return '''
if __name__ == "__main__":
    differ = main()
    if differ:
        print(f"{len(differ)} comparison(s) differ: " + ", ".join(differ))
        raise SystemExit(1)
    print("all match")
'''
