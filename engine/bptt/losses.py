"""Output layer and losses, for a block of steps at once (rows are steps).

    o(t) = V h(t) + b_y
    cross_entropy: yhat(t) = softmax(o(t)),  L(t) = -log yhat(t)[y(t)],  dL/do = yhat - onehot(y)
    mse:           yhat(t) = o(t),           L(t) = 1/2 ||o(t) - y(t)||^2, dL/do = o - y
"""

from __future__ import annotations

import numpy as np


def outputs(V: np.ndarray, b_y: np.ndarray, hs: np.ndarray) -> np.ndarray:
    return hs @ V.T + b_y  # (n, K)


def evaluate(loss: str, o: np.ndarray, targets: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(yhat, L per step, dL(t)/do(t) per step) for rows o (n, K) and their targets."""
    if loss == "cross_entropy":
        shifted = o - o.max(axis=1, keepdims=True)  # softmax is shift-invariant; avoids overflow
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        yhat = exp / total
        rows = np.arange(len(o))
        step_loss = np.log(total[:, 0]) - shifted[rows, targets]  # -log softmax(o)[y]
        grad = yhat.copy()
        grad[rows, targets] -= 1.0
        return yhat, step_loss, grad
    diff = o - targets
    return o, 0.5 * np.sum(diff * diff, axis=1), diff
