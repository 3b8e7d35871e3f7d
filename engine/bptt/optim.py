"""Clipping and the update rules, as torch.nn.utils and torch.optim compute them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..request.fields import Clip, Optimizer

Grads = dict[str, np.ndarray]


@dataclass(frozen=True)
class Clipped:
    grads: Grads
    norm: float  # global L2 norm of the raw gradients
    coef: float  # factor applied (norm mode); 1.0 when nothing was scaled
    clipped: bool  # whether clipping changed any number
    changed: int  # how many entries clipping changed (norm: every nonzero one; value: the
    # entries beyond ±max, each clamped to it)


def global_norm(grads: Grads) -> float:
    return float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))


def clip(grads: Grads, rule: Clip | None) -> Clipped:
    """clip_grad_norm_: coef = max/(norm + 1e-6), applied only when < 1; clip_grad_value_."""
    norm = global_norm(grads)
    if rule is None:
        return Clipped(grads, norm, 1.0, False, 0)
    if rule.mode == "norm":
        coef = rule.max / (norm + 1e-6)
        if coef < 1.0:
            scaled = sum(int(np.count_nonzero(g)) for g in grads.values())
            return Clipped({k: g * coef for k, g in grads.items()}, norm, coef, True, scaled)
        return Clipped(grads, norm, 1.0, False, 0)
    clipped = {k: np.clip(g, -rule.max, rule.max) for k, g in grads.items()}
    # a NaN entry compares false: np.clip keeps it, and it is not counted as clamped
    clamped = sum(int(np.count_nonzero(np.abs(g) > rule.max)) for g in grads.values())
    return Clipped(clipped, norm, 1.0, clamped > 0, clamped)


def init_state(rule: Optimizer) -> dict[str, Any]:
    del rule  # every rule starts from empty buffers; they are created at the first step
    return {"step": 0, "buffers": {}}


def step(params: Grads, grads: Grads, rule: Optimizer, state: dict[str, Any]
         ) -> tuple[Grads, dict[str, Any]]:
    """New parameters and optimizer state after one update (the inputs are not modified)."""
    count = state["step"] + 1
    old = state["buffers"]
    new_params: Grads = {}
    buffers: dict[str, Any] = {}
    lr = rule.lr
    for name, p in params.items():
        g = grads[name]
        if rule.name == "sgd":
            new_params[name] = p - lr * g
        elif rule.name == "momentum":  # torch: buf = g at the first step, then m*buf + g
            buf = g.copy() if name not in old else rule.momentum * old[name] + g
            buffers[name] = buf
            new_params[name] = p - lr * buf
        elif rule.name == "adagrad":  # min-char-rnn's rule, with torch's eps placement
            total = (old[name] if name in old else np.zeros_like(p)) + g * g
            buffers[name] = total
            new_params[name] = p - lr * g / (np.sqrt(total) + rule.eps)
        else:  # adam
            beta1, beta2 = rule.betas
            m_prev, v_prev = old.get(name, (np.zeros_like(p), np.zeros_like(p)))
            m = beta1 * m_prev + (1.0 - beta1) * g
            v = beta2 * v_prev + (1.0 - beta2) * g * g
            buffers[name] = (m, v)
            step_size = lr / (1.0 - beta1 ** count)
            denom = np.sqrt(v) / np.sqrt(1.0 - beta2 ** count) + rule.eps
            new_params[name] = p - step_size * m / denom
    return new_params, {"step": count, "buffers": buffers}
