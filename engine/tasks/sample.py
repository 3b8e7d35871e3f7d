"""The text the network writes: sampling from a trained character (or word) model.

    sample({"data": {"preset": "machine"}}, iterations=200, prime="m", length=40,
           temperature=0.8, seed=3)

As min-char-rnn does: the network reads the ``prime`` one token at a time from the initial
state, then draws each next token from its softmax at the ``temperature``,

    p(t) = softmax((o(t) - max o(t)) / temperature),

feeds it back in and draws again, ``length`` times. The shift by the largest output changes
nothing (softmax is shift-invariant) and keeps a small temperature finite: as it goes to 0 the
distribution becomes the arg-max's (ties share it) and the text is the greedy one. A draw is
``searchsorted(cumsum(p), u)`` for u uniform from NumPy's PCG64 seeded with ``seed``: the same
request writes the same text.

Beside the text, on the training sequence itself:

- the perplexity of the text under the network, exp(mean over the T steps of the
  cross-entropy -log softmax(o(t))[y(t)]), at temperature 1 (it is the loss, per token);
- teacher forcing against free running: fed the true text, what the network predicts at each
  step (its arg-max, and the probability it gives the true next token); fed its own samples
  from the text's first token (at the same temperature, from the same seed), what it writes;
  and ``parts_at``, the first step whose token differs from the text's (null when none does:
  until then both runs read the same inputs).

The parameters are the request's (explicit ``params``, or drawn from its seed) after
``iterations`` training passes of /train's loop (engine.train); 0 samples from them as they
are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..bptt.losses import evaluate, outputs
from ..bptt.problem import Problem
from ..cells.protocol import layer_params
from ..planning.plan import Plan, as_plan, problem_of
from ..request.data import Encoded
from ..request.errors import RequestError
from ..request.fields import TraceRequest
from .train import train

TOP = 5  # the alternatives each step reports
MAX_LENGTH = 500
MAX_TEMPERATURE = 100.0


def probabilities(o: np.ndarray, temperature: float) -> np.ndarray:
    """softmax((o - max o) / temperature) of one output vector (K,): finite for any
    temperature > 0."""
    z = (o - o.max()) / temperature
    e = np.exp(z)
    return e / e.sum()


def top(p: np.ndarray, vocab: list[str], k: int = TOP) -> list[dict[str, Any]]:
    """The k most probable tokens, most probable first (ties: the earlier token first)."""
    order = np.argsort(-p, kind="stable")[:k]
    return [{"token": vocab[int(i)], "p": float(p[i])} for i in order]


def check_request(enc: Encoded, prime: str, length: int, temperature: float) -> list[int]:
    """The prime's token ids; RequestError naming the field for anything that cannot be
    sampled."""
    if enc.vocab is None:
        raise RequestError(("data",), "sampling writes tokens: give data.text, data.words or a "
                                      "text preset (machine, sentence), not a series or arrays")
    if enc.loss != "cross_entropy":
        raise RequestError(("loss",), "sampling draws from the softmax of the outputs: it needs "
                                      "the cross_entropy loss")
    if not 1 <= length <= MAX_LENGTH:
        raise RequestError(("length",), f"must be between 1 and {MAX_LENGTH}, got {length}")
    if not 0 < temperature <= MAX_TEMPERATURE:
        raise RequestError(("temperature",), f"must be > 0 and <= {MAX_TEMPERATURE:g}, got "
                                             f"{temperature}")
    tokens = list(prime) if enc.joiner == "" else prime.split()
    if not tokens:
        raise RequestError(("prime",), "needs at least one token to start from")
    index = {token: i for i, token in enumerate(enc.vocab)}
    unknown = [token for token in tokens if token not in index]
    if unknown:
        raise RequestError(("prime",), f"{unknown[0]!r} is not in the vocabulary of the data: "
                                       f"{' '.join(repr(v) for v in enc.vocab)}")
    return [index[token] for token in tokens]


class Reader:
    """The network stepping one token at a time (the parameters packed once)."""

    def __init__(self, problem: Problem, params: dict[str, np.ndarray]) -> None:
        self.cell = problem.cell_module
        # a stack's units, bottom to top (one direction: sampling refuses a bidirectional one)
        self.packs = [self.cell.pack(layer_params(self.cell, params, unit), problem.activation)
                      for unit in problem.stack.units]
        self.V, self.b_y = params["V"], params["b_y"]
        self.D = problem.inputs.shape[1]
        self.states = problem.initial_states()  # each layer's, bottom to top

    def read(self, token: int) -> np.ndarray:
        """Feed one token (its one-hot row) through every layer; the output o(t) (K,)."""
        x = np.zeros((1, self.D))
        x[0, token] = 1.0
        for layer, packed in enumerate(self.packs):
            ux = self.cell.input_projection(packed, x)[0]
            self.states[layer] = self.cell.state_of(self.cell.step_forward(
                packed, ux, self.states[layer]))
            x = self.states[layer][0][None]
        return outputs(self.V, self.b_y, x)[0]


def _draw(p: np.ndarray, rng: np.random.Generator) -> int:
    cumulative = np.cumsum(p)
    return int(min(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"),
                   len(p) - 1))


def sample(request: Plan | TraceRequest | dict[str, Any], iterations: int = 0,
           prime: str | None = None, length: int = 100, temperature: float = 1.0,
           seed: int = 0) -> dict[str, Any]:
    """Train ``iterations`` passes, then write ``length`` tokens after ``prime`` (default: the
    data's first token). See the module docstring for what is returned."""
    job = as_plan(request, "sample", iterations)
    enc = job.data
    first = enc.vocab[int(enc.input_ids[0])] if (enc.vocab and enc.input_ids is not None) else ""
    prime = first if prime is None else prime
    prime_ids = check_request(enc, prime, length, temperature)
    assert enc.vocab is not None
    vocab = enc.vocab
    problem = problem_of(job)
    with np.errstate(all="ignore"):
        params = (train(job.for_task("train", job.iterations))["final_params"]
                  if job.iterations > 0 else problem.params)
        rng = np.random.default_rng(seed)
        writer = Reader(problem, params)
        for token in prime_ids:
            o = writer.read(token)
        steps: list[dict[str, Any]] = []
        written: list[str] = []
        for _ in range(length):
            p = probabilities(o, temperature)
            token = _draw(p, rng)
            written.append(vocab[token])
            steps.append({"token": vocab[token], "p": float(p[token]), "top": top(p, vocab)})
            o = writer.read(token)
        text = enc.joiner.join(written)
        forced, free = teacher_forcing(problem, params, vocab, temperature, seed)
    losses = np.array(forced.pop("losses"))
    mean_loss = float(losses.mean())
    parts_at = next((t + 1 for t, (a, b) in enumerate(zip(free["tokens"], forced["targets"],
                                                          strict=True)) if a != b), None)
    result = {
        "prime": prime, "text": text, "joiner": enc.joiner, "steps": steps, "length": length,
        "temperature": temperature, "sample_seed": seed, "iterations": job.iterations,
        "vocab": vocab, "mean_loss": mean_loss, "perplexity": float(np.exp(mean_loss)),
        "teacher_forcing": forced, "free_running": free, "parts_at": parts_at,
    }
    finite = all(bool(np.isfinite(a).all()) for a in params.values()) and bool(
        np.isfinite(mean_loss))
    result["non_finite"] = not finite
    return result


def teacher_forcing(problem: Problem, params: dict[str, np.ndarray], vocab: list[str],
                    temperature: float, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The network over the training sequence fed the true tokens (teacher forcing: its
    arg-max, the probability of the true next token, the cross-entropy of each step at
    temperature 1) and fed its own samples from the first true token (free running)."""
    inputs = [int(np.argmax(row)) for row in problem.inputs]
    targets = [int(y) for y in problem.targets]
    forced = Reader(problem, params)
    outs = np.array([forced.read(token) for token in inputs])  # (T, K)
    _, step_loss, _ = evaluate("cross_entropy", outs, np.array(targets))
    predicted = [vocab[int(i)] for i in np.argmax(outs, axis=1)]
    p_target = [float(probabilities(o, 1.0)[y]) for o, y in zip(outs, targets, strict=True)]
    rng = np.random.default_rng([seed, 1])  # a stream of its own: the sample's is not moved
    free = Reader(problem, params)
    token, written, p_written = inputs[0], [], []
    for _ in targets:
        p = probabilities(free.read(token), temperature)
        token = _draw(p, rng)
        written.append(vocab[token])
        p_written.append(float(p[token]))
    return ({"inputs": [vocab[i] for i in inputs], "targets": [vocab[y] for y in targets],
             "predicted": predicted, "p_target": p_target, "losses": step_loss.tolist()},
            {"tokens": written, "p": p_written})
