"""Diagnostics that show how error travels back in time (read from a recorded pass).

- error_flow[t][k] = ||dL(t)/dh(k)||_F for k <= t, as far as the run's truncation lets the
  error of L(t) travel (0 beyond its window; rows of steps without a loss are 0; null above
  the diagonal). Vanishing gradients are the fade away from the diagonal.
- weight_flow[t][k] = ||dL(t)/dtheta through step k||: the norm of step k's contribution
  to every gradient made by L(t) alone (its weight-side twin).
- jacobian_norms[t][k] = ||dh(t)/dh(k)||_F with the cell state held fixed (k <= t): the
  product J(t) ... J(k+1) of one-step Jacobians J(s) = dh(s)/dh(s-1) taken with c(s-1)
  constant, so for an LSTM it shows the path through h alone (the error_flow includes the
  cell path); for RNN and GRU it is the whole Jacobian. Exact for all pairs, so O(T^2 H^3):
  computed only when asked for (request.jacobian_norms), else null.
- step_grad_norms[t] = norm of step t's contribution to every gradient, over all windows.
- full_vs_truncated: the sum of the truncated window gradients against the gradient of the
  same injected losses flowing all the way back to t = 1 (same parameter versions).
Rows and columns are 0-based lists: error_flow[0][0] is t = k = 1.
"""

from __future__ import annotations

import bisect
from dataclasses import replace
from typing import Any

import numpy as np

from ..cells.protocol import ONE_UNIT, Cell, Unit, right_factors
from .problem import Problem
from .record import Forward
from .schedule import Run, backward_units, sum_factors, unit_inputs


def compute(problem: Problem, run: Run, truncated: bool | None = None,
            jacobian: bool = False) -> dict[str, Any]:
    """All diagnostics of a recorded pass. ``truncated``: whether the request asked for
    truncation (then full_vs_truncated is given, even when k1 = k2 = T cuts nothing);
    None decides from the schedule. ``jacobian``: also the exact Jacobian norms.

    A stack of layers: ``error_flow`` is the top layer's (the h(k) the output reads), and
    ``error_flow_layers`` each layer's, bottom to top (how much of L(t)'s error reaches
    layer j at step k); the weight flow and the step norms count every layer's parameters;
    the Jacobian norms are the top layer's own recursion. Bidirectional: the reverse
    networks' error flows are ``error_flow_reverse`` (and ``error_flow_layers_reverse``):
    L(t)'s error reaches their h(k) for k >= t (null below the diagonal), and the weight
    flow, which holds both directions' contributions, is whole (no nulls)."""
    cell = problem.cell_module
    fwd = run.forward
    units = units_of(problem, run)
    readout = run.examples[0].readout(problem.layers)  # what the output read, in time order
    flows, weight_flow = _error_flow(cell, problem, units, readout, run.updates)
    forward = [flows[unit] for unit in problem.stack.units if not unit.reverse]
    both = problem.stack.bidirectional
    result = {
        "error_flow": _lower(forward[-1]),
        "weight_flow": weight_flow.tolist() if both else _lower(weight_flow),
        "jacobian_norms": _lower(jacobian_norms(cell, problem, fwd)) if jacobian else None,
        "step_grad_norms": _step_grad_norms(cell, problem, run, units, readout).tolist(),
        "full_vs_truncated": None,
    }
    if problem.layers > 1:
        result["error_flow_layers"] = [_lower(flow) for flow in forward]
    if both:
        reverse = [flows[unit] for unit in problem.stack.units if unit.reverse]
        result["error_flow_reverse"] = _upper(reverse[-1])
        if problem.layers > 1:
            result["error_flow_layers_reverse"] = [_upper(flow) for flow in reverse]
    if truncated is None:
        truncated = problem.k1 < problem.T or problem.k2 < problem.T
    if truncated:
        result["full_vs_truncated"] = _full_vs_truncated(problem, run)
    return result


def units_of(problem: Problem, run: Run) -> list[tuple[Unit, Forward, np.ndarray]]:
    """Each unit of the first sequence, its forward record and the rows it read (x(t), or
    the layer below's readout), in the unit's own time order; in the stack's order."""
    recorded = run.examples[0]
    return [(rec.unit, rec.forward, unit_inputs(problem, recorded, rec.unit))
            for rec in recorded.units]


def _upper(matrix: np.ndarray) -> list[list[float | None]]:
    """Rows t, columns k: values for k >= t, None below the diagonal (a reverse network's
    error flows from L(t) to the steps after t)."""
    rows: list[list[float | None]] = matrix.tolist()
    for t, row in enumerate(rows):
        row[:t] = [None] * t
    return rows


def _lower(matrix: np.ndarray) -> list[list[float | None]]:
    """Rows t, columns k: values for k <= t, None above the diagonal (nothing flows forward)."""
    rows: list[list[float | None]] = matrix.tolist()
    for t, row in enumerate(rows):
        row[t + 1:] = [None] * (len(row) - t - 1)
    return rows


def _gate_weights(cell: Cell, problem: Problem, fwd: Forward, inputs: np.ndarray
                  ) -> np.ndarray:
    """(T, G): for step t (row t-1) and each gate, the sum over the parameters that gate's
    delta feeds (W_*, U_*, b_*) of their right factor's squared norm (1 for a bias), so that
    ||contributions of step t||^2 = sum over gates of ||delta_gate(t)||^2 * weight.
    ``inputs``: the rows x(t) the layer read."""
    T = problem.T
    right_rows = {key: inputs if key == "x" else fwd.rows(key, 1, T)
                  for key in right_factors(cell)}
    norms_sq = {name: np.einsum("ti,ti->t", rows, rows) for name, rows in right_rows.items()}
    gates = cell.DELTA_KEYS
    weights = np.zeros((T, len(gates)))
    for spec in cell.PARAMS.values():
        if spec.kind != "diagonal":  # a diagonal's norm is not a product of norms: _diagonal
            weights[:, gates.index(spec.delta)] += (1.0 if spec.right is None
                                                    else norms_sq[spec.right])
    return weights


def _add_diagonal_norm_sq(cell: Cell, fwd: Forward, first: int, last: int,
                          delta: np.ndarray, norm_sq: np.ndarray) -> None:
    """Add to ``norm_sq`` the diagonal parameters' share of the contributions' squared norm,
    sum over them of ||delta_gate * right||^2, for stacked deltas (..., G*H) of steps
    first..last (one row per step, or rows all of step first = last)."""
    H = delta.shape[-1] // len(cell.DELTA_KEYS)
    for spec in cell.PARAMS.values():
        if spec.kind == "diagonal":
            j = cell.DELTA_KEYS.index(spec.delta)
            share = delta[..., j * H:(j + 1) * H] * fwd.rows(str(spec.right), first, last)
            norm_sq += np.sum(share * share, axis=-1)


def _param_norm_sq(cell: Cell, delta: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sum over parameters of ||delta_gate||^2 * ||right||^2 for rows of stacked deltas
    (..., G*H), with the gate weights of ``_gate_weights`` (rows of them, or one for all)."""
    squares = delta * delta
    per_gate = squares.reshape(*squares.shape[:-1], len(cell.DELTA_KEYS), -1).sum(axis=-1)
    return np.asarray((per_gate * weights).sum(axis=-1))


def _error_flow(cell: Cell, problem: Problem, units: list[tuple[Unit, Forward, np.ndarray]],
                readout: np.ndarray, updates: list[dict[str, Any]]
                ) -> tuple[dict[Unit, np.ndarray], np.ndarray]:
    """Each unit's ||dL(t)/dh(k)|| ([t][k], in time order) and the weight flow over every
    unit.

    Every loss L(t) of a window is a row of its own, run back step by step through the top
    layer's units (a reverse unit's steps run from 1 up: its "back" is forward in time);
    each row's deltas at step k, sent down through the layer's input matrices, are what
    reaches the layer below at step k from L(t), and so on down the stack."""
    T, H, stack = problem.T, problem.H, problem.stack
    # squared norms, rooted once at the end (the same bits as a root per step: elementwise)
    flow_sq = {unit: np.zeros((T, T)) for unit, _, _ in units}
    weight_sq = np.zeros((T, T))
    weights = {unit: _gate_weights(cell, problem, fwd, inputs) for unit, fwd, inputs in units}
    records = {unit: fwd for unit, fwd, _ in units}
    diagonal = any(spec.kind == "diagonal" for spec in cell.PARAMS.values())
    top_unit = ONE_UNIT if stack.layers == 1 else Unit(stack.layers)
    done = 0
    for index, (first, last) in enumerate(problem.windows):
        losses = [t for t in range(done + 1, last + 1) if t in problem.loss_steps]
        done = last
        if not losses:
            continue
        V = updates[index]["params_before"]["V"]
        rows = np.array(losses) - 1  # 0-based rows of the losses' steps
        n = last - first + 1
        # below the top layer: (steps of the window, losses, H or 2H), the error the layer
        # above sent down to each row at each step, in time order
        entering: np.ndarray | None = None
        for layer in range(stack.layers, 0, -1):
            below = (np.zeros((n, len(losses), H * stack.directions)) if layer > 1 else None)
            for unit in (u for u, _, _ in units if u.layer == layer):
                fwd = records[unit]
                half = slice(H, 2 * H) if unit.reverse else slice(0, H)
                caches, packs, version_of = fwd.caches, fwd.packs, fwd.version_of
                # one row per loss L(t), for each state vector (dh, and dc for LSTM)
                dnext = [np.zeros((len(losses), H)) for _ in cell.STATE]
                for k in range(last, first - 1, -1):  # the unit's own steps, back
                    t_k = T + 1 - k if unit.reverse else k  # the step in time order
                    # rows of the losses whose error has reached step k: t >= k forward,
                    # t <= t_k for a reverse unit
                    active = (slice(0, bisect.bisect_right(losses, t_k)) if unit.reverse
                              else slice(bisect.bisect_left(losses, t_k), None))
                    if active.start == len(losses) or active.stop == 0:
                        continue
                    if entering is not None:  # from the layer above
                        dh = dnext[0][active] + entering[t_k - first, active, half]
                    else:
                        dh = dnext[0][active].copy()
                        at = 0 if not unit.reverse else -1  # the row of L(t_k), if any
                        if losses[active][at] == t_k:  # it enters h(t_k) through the output
                            dh[at] += (grad_o_of(fwd, t_k) @ V)[half]
                    flow_sq[unit][rows[active], t_k - 1] = np.sum(dh * dh, axis=1)
                    dstate = (dh, *(d[active] for d in dnext[1:]))
                    pack = packs[version_of[k]]
                    dstate_prev, delta, _ = cell.step_backward(pack, dstate, caches[k])
                    w_sq = _param_norm_sq(cell, delta, weights[unit][k - 1])
                    if diagonal:
                        _add_diagonal_norm_sq(cell, fwd, k, k, delta, w_sq)
                    if unit == top_unit and losses[active][0] == t_k:
                        # the output layer's own contribution, V and b_y, at k = t
                        g = grad_o_of(fwd, t_k)
                        h = readout[t_k - 1]
                        w_sq[0] += float(g @ g) * (float(h @ h) + 1.0)
                    weight_sq[rows[active], t_k - 1] += w_sq
                    if below is not None:
                        below[t_k - first, active] += cell.input_grad(pack, delta)
                    for d, d_prev in zip(dnext, dstate_prev, strict=True):
                        d[active] = d_prev
            if below is not None:
                entering = below
    return {unit: np.sqrt(flow) for unit, flow in flow_sq.items()}, np.sqrt(weight_sq)


def grad_o_of(fwd: Forward, t: int) -> np.ndarray:
    """dL(t)/do(t) of step t's own loss, unweighted (the records share the network's)."""
    return fwd.step_grad_o[t - 1]


def jacobian_norms(cell: Cell, problem: Problem, fwd: Forward) -> np.ndarray:
    """Products J(t) ... J(k+1) for all k < t, batched over t: one GEMM per column k.

    This is O(T^2 H^3) by nature (all pairs of steps): the one costly diagnostic.
    """
    T, H = problem.T, problem.H
    norms = np.zeros((T, T))
    np.fill_diagonal(norms, np.sqrt(H))  # dh(t)/dh(t) = I
    identity = np.eye(H)
    dstate = (identity, *(np.zeros((H, H)) for _ in cell.STATE[1:]))  # the cell state fixed
    # products[j] = dh(j+1)/dh(k) for rows j = k..T-1; two buffers take turns holding them,
    # so each column costs one GEMM and no copy
    products, spare = np.zeros((T, H, H)), np.zeros((T, H, H))
    for k in range(T - 1, 0, -1):  # columns: h(k), k = T-1..1
        # step_backward maps a row dh(t) to dh(t) @ J(t): on the identity it returns J(t)
        jac = cell.step_backward(fwd.packs[fwd.version_of[k + 1]], dstate,
                                 fwd.caches[k + 1])[0][0]  # J(k+1) = dh(k+1)/dh(k), (H, H)
        if k + 1 < T:  # products held for t = k+2..T move one step further back
            np.matmul(products[k + 1:].reshape(-1, H), jac, out=spare[k + 1:].reshape(-1, H))
        spare[k] = jac
        products, spare = spare, products
        norms[k:, k - 1] = np.sqrt(np.einsum("tij,tij->t", products[k:], products[k:]))
    return norms


def _step_grad_norms(cell: Cell, problem: Problem, run: Run,
                     units: list[tuple[Unit, Forward, np.ndarray]], readout: np.ndarray
                     ) -> np.ndarray:
    """||every parameter's contribution of step t||, over all windows and units."""
    T, H = problem.T, problem.H
    fwd = run.forward  # the top forward unit's: the output's
    K = fwd.outputs.shape[1]
    total = np.zeros(T)
    for (unit, unit_fwd, inputs), rec in zip(units, run.examples[0].units, strict=True):
        delta_sum = np.zeros((T, len(cell.DELTA_KEYS) * H))
        for bwd in rec.backwards:  # a step's contributions over all windows share their
            delta_sum[bwd.first - 1:bwd.last] += bwd.delta  # right factor
        own = _param_norm_sq(cell, delta_sum, _gate_weights(cell, problem, unit_fwd, inputs))
        _add_diagonal_norm_sq(cell, unit_fwd, 1, T, delta_sum, own)
        total += own[::-1] if unit.reverse else own  # in time order
    g_o_sum = np.zeros((T, K))
    for bwd in run.backwards:
        g_o_sum[bwd.first - 1:bwd.last] += bwd.g_o
    hs = readout
    total += np.einsum("tk,tk->t", g_o_sum, g_o_sum) * (np.einsum("ti,ti->t", hs, hs) + 1.0)
    return np.sqrt(total)


def _full_vs_truncated(problem: Problem, run: Run) -> dict[str, float]:
    """The truncated gradient (the windows' gradients summed) against the full one (the same
    injected losses of each window flowing back to t = 1), both summed one window at a time:
    a window's full gradient is formed, added and dropped (holding every window's would be
    updates x parameters numbers: 92 MB for an LSTM with H = 64 and D = K = 128 under
    BPTT(1, 2) over 200 steps)."""
    truncated = WindowSum()
    full = WindowSum()
    true_full = replace(problem, carry=None)  # every flow whole (randomized truncation's too)
    for update, bwd in zip(run.updates, run.backwards, strict=True):
        first, last = update["window"]
        g_o = np.zeros((last, bwd.g_o.shape[1]))
        g_o[first - 1:] = bwd.g_o  # the same injected losses, now free to reach t = 1
        whole: dict[str, np.ndarray] = {}
        for _, _, factors in backward_units(true_full, run.examples[0],
                                             update["params_before"], 1, last, g_o):
            whole.update(sum_factors(factors))
        full.add({name: whole[name] for name in update["grads"]})
        truncated.add(update["grads"])
    sum_a, sum_b = truncated.total(), full.total()
    names = list(sum_a)
    a = np.concatenate([sum_a[n].ravel() for n in names])
    b = np.concatenate([sum_b[n].ravel() for n in names])
    norm_a, norm_b = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    cosine = float(a @ b) / (norm_a * norm_b) if norm_a > 0 and norm_b > 0 else 1.0
    rel = float(np.linalg.norm(a - b)) / norm_b if norm_b > 0 else 0.0
    return {"cosine": cosine, "relative_error": rel}


class WindowSum:
    """{name: np.sum([g[name] for g in windows], axis=0)} of a sequence of gradients,
    formed one window at a time, to the same bits.

    NumPy sums a stack of arrays over its first axis element by element, in window order,
    when each array holds more than one number: a running sum is that sum. An array of one
    number (a bias of one unit, V of a 1 x 1 model) it sums pairwise instead, so those few
    numbers are kept and summed as the stack they were (tests/test_cost_memory.py holds the
    two forms to the same bits).
    """

    def __init__(self) -> None:
        self._order: list[str] = []  # the names, in the order they first came
        self._sums: dict[str, np.ndarray] = {}
        self._singles: dict[str, list[np.ndarray]] = {}

    def add(self, grads: dict[str, np.ndarray]) -> None:
        for name, grad in grads.items():
            if name not in self._sums and name not in self._singles:
                self._order.append(name)
            if grad.size == 1:
                self._singles.setdefault(name, []).append(grad)
            elif name in self._sums:
                self._sums[name] += grad
            else:
                self._sums[name] = np.array(grad, dtype=float)  # a copy: summed into

    def total(self) -> dict[str, np.ndarray]:
        """The sums, in the order the names first came."""
        return {name: (self._sums[name] if name in self._sums
                       else np.sum(self._singles[name], axis=0)) for name in self._order}
