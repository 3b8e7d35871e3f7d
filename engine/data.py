"""Turns the request's data into the arrays the engine runs on, and checks them."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .errors import RequestError
from .presets import PRESETS
from .request import (
    ArrayData,
    Data,
    PresetData,
    SeriesData,
    TextData,
    WordsData,
    _convert,
)


@dataclass(frozen=True)
class Encoded:
    inputs: np.ndarray  # (T, D)
    targets: np.ndarray  # (T,) int class ids, or (T, K) values
    loss: str  # "cross_entropy" | "mse"
    output_size: int  # K
    vocab: list[str] | None
    scale: dict[str, float] | None
    joiner: str = ""  # how tokens join back into text: "" for characters, " " for words


def resolve_preset(data: Data) -> Data:
    if isinstance(data, PresetData):
        return _convert(PRESETS[data.preset].settings["data"], Data, ("data",))
    return data


def _one_hot(ids: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((len(ids), size))  # (T, V)
    out[np.arange(len(ids)), ids] = 1.0
    return out


def _tokens(tokens: list[str], loc: tuple) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if len(tokens) < 2:
        raise RequestError(loc, f"needs at least two tokens (one input and its next token); "
                                f"got {len(tokens)}")
    vocab = sorted(set(tokens))
    index = {tok: i for i, tok in enumerate(vocab)}
    ids = np.array([index[tok] for tok in tokens])
    return _one_hot(ids[:-1], len(vocab)), ids[1:], vocab


def encode(data: Data, loss: str | None, output_size: int | None) -> Encoded:
    """inputs, targets, default loss, K, vocabulary and scale of any data shape."""
    data = resolve_preset(data)
    if isinstance(data, TextData):
        return _vocabulary(list(data.text), ("data", "text"), loss, output_size)
    if isinstance(data, WordsData):
        return replace(_vocabulary(data.words.split(), ("data", "words"), loss, output_size),
                       joiner=" ")
    if isinstance(data, SeriesData):
        values = np.asarray(data.series, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            mean, std = float(values.mean()), float(values.std())
        if not (np.isfinite(mean) and np.isfinite(std)):
            raise RequestError(("data", "series"), "values too large to z-score in float64 "
                                                   "(their mean or spread overflows); rescale "
                                                   "the series, e.g. to thousands")
        if std == 0.0:
            raise RequestError(("data", "series"), "the series is constant (standard deviation "
                                                   "0), so it cannot be z-scored; give at least "
                                                   "two different values")
        z = (values - mean) / std
        chosen = loss or "mse"
        if chosen != "mse":
            raise RequestError(("loss",), "a series is a regression: loss must be 'mse'")
        return Encoded(z[:-1, None], z[1:, None], "mse", 1, None, {"mean": mean, "std": std})
    if isinstance(data, ArrayData):
        return _arrays(data, loss, output_size)
    raise RequestError(("data",), "unsupported data shape")  # unreachable after parsing


def _vocabulary(tokens: list[str], loc: tuple, loss: str | None,
                output_size: int | None) -> Encoded:
    inputs, targets, vocab = _tokens(tokens, loc)
    k = len(vocab)
    if output_size is not None and output_size != k:
        raise RequestError(("output_size",), f"text and words set K to the vocabulary size "
                                             f"{k}; got output_size = {output_size}")
    return _classification(inputs, targets, loss, k, vocab)


def _classification(inputs: np.ndarray, targets: np.ndarray, loss: str | None,
                    k: int, vocab: list[str] | None) -> Encoded:
    chosen = loss or "cross_entropy"
    if chosen == "mse":  # regress the one-hot of the next token
        return Encoded(inputs, _one_hot(targets, k), "mse", k, vocab, None)
    return Encoded(inputs, targets.astype(np.int64), "cross_entropy", k, vocab, None)


def _arrays(data: ArrayData, loss: str | None, output_size: int | None) -> Encoded:
    width = len(data.inputs[0])
    if width == 0:
        raise RequestError(("data", "inputs", 0), "input vectors need at least one value")
    for t, row in enumerate(data.inputs):
        if len(row) != width:
            raise RequestError(("data", "inputs", t), f"every input vector must have the same "
                                                      f"length D = {width}; got {len(row)}")
    inputs = np.asarray(data.inputs, dtype=float)  # (T, D)
    T = len(inputs)
    if len(data.targets) != T:
        which = "shorter" if len(data.targets) < T else "longer"
        raise RequestError(("data", "targets"), f"targets are {which} than inputs: need one "
                                                f"target per step, T = {T}; got "
                                                f"{len(data.targets)}")
    if isinstance(data.targets[0], list):  # (T, K) values: regression
        k = len(data.targets[0])
        for t, row in enumerate(data.targets):
            if not isinstance(row, list) or len(row) != k or k == 0:
                raise RequestError(("data", "targets", t), f"every target vector must have the "
                                                           f"same length K = {k}")
        if (loss or "mse") != "mse":
            raise RequestError(("loss",), "targets given as vectors need loss 'mse'; give "
                                          "class ids for cross_entropy")
        if output_size is not None and output_size != k:
            raise RequestError(("output_size",), f"the target vectors set K = {k}; got "
                                                 f"output_size = {output_size}")
        return Encoded(inputs, np.asarray(data.targets, dtype=float), "mse", k, None, None)
    ids = np.asarray(data.targets, dtype=np.int64)
    k = output_size if output_size is not None else int(ids.max()) + 1
    for t, cls in enumerate(data.targets):
        if not 0 <= cls < k:
            raise RequestError(("data", "targets", t), f"class id {cls} is outside the output "
                                                       f"size: ids must be in 0..{k - 1}")
    if k < 2 and (loss or "cross_entropy") == "cross_entropy":
        raise RequestError(("output_size",), "cross-entropy needs at least 2 classes; set "
                                             "output_size")
    return _classification(inputs, ids, loss, k, None)
