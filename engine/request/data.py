"""The request's data as the engine runs on it: sizes, loss, vocabulary, scale, and the
numbers, checked.

``encode`` works out T, D and K and checks the data without forming anything larger than the
data itself: token data keeps its token ids, and the one-hot rows (T×D, and T×K for mse on
tokens) are formed by ``Encoded.inputs()`` / ``targets()`` when a pass needs them, after the
server's limits have judged the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import cast

import numpy as np

from .errors import RequestError
from .fields import ArrayData, BatchData, Data, SeriesData, TextData, WordsData

Loc = tuple[str | int, ...]

# Class ids above this cannot be an output size anyone can allocate (int64 room kept).
MAX_CLASS_ID = 2**62


@dataclass(frozen=True, eq=False)  # holds arrays: equal only to itself
class Encoded:
    loss: str  # "cross_entropy" | "mse"
    T: int
    D: int  # the input size
    K: int  # the output size
    input_ids: np.ndarray | None  # (T,) token ids: the inputs are their one-hot rows
    input_values: np.ndarray | None  # (T, D) otherwise
    target_ids: np.ndarray | None  # (T,) class ids (cross_entropy, or mse on one-hot rows)
    target_values: np.ndarray | None  # (T, K) values (mse)
    vocab: list[str] | None
    scale: dict[str, float] | None  # {"mean", "std"} of a series
    loc: Loc  # the data field that sets T and D
    k_loc: Loc  # what set K: ("output_size",), ("params", "V"), or a data field
    joiner: str = ""  # how tokens join back into text: "" for characters, " " for words
    # a mini-batch's examples, each encoded as one sequence with the batch's T, D, K, vocabulary
    # and scale (empty: one sequence, not a batch)
    examples: tuple[Encoded, ...] = ()

    @property
    def n(self) -> int:
        """The number of sequences: the batch's size, 1 for one sequence."""
        return len(self.examples) or 1

    def inputs(self) -> np.ndarray:
        """(T, D) float64: explicit values, z-scores, or one-hot rows of tokens; a batch's
        (n, T, D)."""
        if self.examples:
            return np.stack([example.inputs() for example in self.examples])
        if self.input_ids is not None:
            return _one_hot(self.input_ids, self.D)
        assert self.input_values is not None
        return self.input_values

    def targets(self) -> np.ndarray:
        """(T,) int64 class ids (cross-entropy), or (T, K) float64 values (mse); a batch's
        (n, T) or (n, T, K)."""
        if self.examples:
            return np.stack([example.targets() for example in self.examples])
        if self.target_values is not None:
            return self.target_values
        assert self.target_ids is not None
        if self.loss == "mse":  # regress the one-hot of the next token
            return _one_hot(self.target_ids, self.K)
        return self.target_ids


def _one_hot(ids: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((len(ids), size))  # (T, size)
    out[np.arange(len(ids)), ids] = 1.0
    return out


def encode(data: Data, loss: str | None, output_size: int | None,
           params_k: int | None = None) -> Encoded:
    """Sizes, loss, K, vocabulary and scale of any data shape (a preset already resolved).

    K is ``output_size`` when given, else the rows of the explicit parameters' V
    (``params_k``) when given, else what the data says; text, words, series and target
    vectors fix K themselves, and a different ``output_size`` is refused (a different V is
    refused with the parameters' shapes).
    """
    if isinstance(data, TextData):
        return _vocabulary(list(data.text), ("data", "text"), loss, output_size, "")
    if isinstance(data, WordsData):
        return _vocabulary(data.words.split(), ("data", "words"), loss, output_size, " ")
    if isinstance(data, SeriesData):
        return _series(data, loss)
    if isinstance(data, ArrayData):
        return _arrays(data, loss, output_size, params_k)
    if isinstance(data, BatchData):
        return _batch(data, loss, output_size, params_k)
    raise RequestError(("data",), "unsupported data shape")  # unreachable after planning


def _vocabulary(tokens: list[str], loc: Loc, loss: str | None, output_size: int | None,
                joiner: str) -> Encoded:
    if len(tokens) < 2:
        raise RequestError(loc, f"needs at least two tokens (one input and its next token); "
                                f"got {len(tokens)}")
    return _tokens(tokens, sorted(set(tokens)), loc, loss, output_size, joiner)


def _series(data: SeriesData, loss: str | None) -> Encoded:
    loc = ("data", "series")
    values = np.asarray(data.series, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(values.mean()), float(values.std())
    if not (np.isfinite(mean) and np.isfinite(std)):
        raise RequestError(loc, "values too large to z-score in float64 (their mean or spread "
                                "overflows); rescale the series, e.g. to thousands")
    if std == 0.0:
        raise RequestError(loc, "the series is constant (standard deviation 0), so it cannot "
                                "be z-scored; give at least two different values")
    if (loss or "mse") != "mse":
        raise RequestError(("loss",), "a series is a regression: loss must be 'mse'")
    z = (values - mean) / std
    return Encoded("mse", len(z) - 1, 1, 1, input_ids=None, input_values=z[:-1, None],
                   target_ids=None, target_values=z[1:, None], vocab=None,
                   scale={"mean": mean, "std": std}, loc=loc, k_loc=loc)


def _arrays(data: ArrayData, loss: str | None, output_size: int | None,
            params_k: int | None) -> Encoded:
    inputs = _input_rows(data)
    T = len(inputs)
    if len(data.targets) != T:
        which = "shorter" if len(data.targets) < T else "longer"
        raise RequestError(("data", "targets"), f"targets are {which} than inputs: need one "
                                                f"target per step, T = {T}; got "
                                                f"{len(data.targets)}")
    if isinstance(data.targets[0], list):
        return _target_vectors(data, inputs, loss, output_size)
    return _class_ids(data, inputs, loss, output_size, params_k)


def _input_rows(data: ArrayData) -> np.ndarray:
    width = len(data.inputs[0])
    if width == 0:
        raise RequestError(("data", "inputs", 0), "input vectors need at least one value")
    for t, row in enumerate(data.inputs):
        if len(row) != width:
            raise RequestError(("data", "inputs", t), f"every input vector must have the same "
                                                      f"length D = {width}; got {len(row)}")
    return np.asarray(data.inputs, dtype=float)  # (T, D)


def _target_vectors(data: ArrayData, inputs: np.ndarray, loss: str | None,
                    output_size: int | None) -> Encoded:
    """(T, K) values: a regression."""
    k = len(data.targets[0])  # type: ignore[arg-type]
    for t, row in enumerate(data.targets):
        if not isinstance(row, list) or len(row) != k or k == 0:
            raise RequestError(("data", "targets", t), f"every target vector must have the "
                                                       f"same length K = {k}")
    if (loss or "mse") != "mse":
        raise RequestError(("loss",), "targets given as vectors need loss 'mse'; give class "
                                      "ids for cross_entropy")
    if output_size is not None and output_size != k:
        raise RequestError(("output_size",), f"the target vectors set K = {k}; got "
                                             f"output_size = {output_size}")
    loc = ("data", "inputs")
    return Encoded("mse", len(inputs), inputs.shape[1], k, input_ids=None, input_values=inputs,
                   target_ids=None, target_values=np.asarray(data.targets, dtype=float),
                   vocab=None, scale=None, loc=loc, k_loc=("data", "targets"))


def _class_ids(data: ArrayData, inputs: np.ndarray, loss: str | None,
               output_size: int | None, params_k: int | None) -> Encoded:
    """T class ids; K from output_size, else from params (rows of V), else the largest id."""
    ids: list[int] = data.targets  # type: ignore[assignment]
    for t, cls in enumerate(ids):
        if cls > MAX_CLASS_ID:
            raise RequestError(("data", "targets", t), f"class id {cls} is too large to be "
                                                       f"an output size")
    k_loc: Loc
    if output_size is not None:
        k, k_loc, source = output_size, ("output_size",), ""
    elif params_k is not None:
        k, k_loc, source = params_k, ("params", "V"), " (the rows of params V)"
    else:
        k, k_loc, source = max(ids) + 1, ("data", "targets"), ""
    for t, cls in enumerate(ids):
        if not 0 <= cls < k:
            raise RequestError(("data", "targets", t), f"class id {cls} is outside the output "
                                                       f"size{source}: ids must be in "
                                                       f"0..{k - 1}")
    chosen = loss or "cross_entropy"
    if k < 2 and chosen == "cross_entropy":
        raise RequestError(("output_size",), "cross-entropy needs at least 2 classes; set "
                                             "output_size")
    return Encoded(chosen, len(inputs), inputs.shape[1], k, input_ids=None, input_values=inputs,
                   target_ids=np.asarray(ids, dtype=np.int64), target_values=None, vocab=None,
                   scale=None, loc=("data", "inputs"), k_loc=k_loc)


# ---------------------------------------------------------------------------------------------
# A mini-batch: n sequences of one shape and one length, encoded with one vocabulary (text,
# words), one scale (a series) and one K, so that one network reads them all.


def _batch(data: BatchData, loss: str | None, output_size: int | None,
           params_k: int | None) -> Encoded:
    items = data.batch
    shape = type(items[0])
    for i, item in enumerate(items):
        if type(item) is not shape:
            raise RequestError(("data", "batch", i), f"every example must have the shape of "
                                                     f"example 0 ({_shape_name(shape)}); got "
                                                     f"{_shape_name(type(item))}")
    if shape in (TextData, WordsData):
        examples = _token_batch(cast(list[TextData | WordsData], items), loss, output_size)
    elif shape is SeriesData:
        examples = _series_batch(cast(list[SeriesData], items), loss)
    else:
        examples = _array_batch(cast(list[ArrayData], items), loss, output_size, params_k)
    lengths = [example.T for example in examples]
    for i, length in enumerate(lengths):
        if length != lengths[0]:
            raise RequestError(("data", "batch", i), f"every sequence of a batch must have the "
                                                     f"same length: example 0 has T = "
                                                     f"{lengths[0]} steps, example {i} has "
                                                     f"{length} (sequences of different "
                                                     f"lengths are not padded)")
    first = examples[0]
    for i, example in enumerate(examples):
        if (example.D, example.K) != (first.D, first.K):
            raise RequestError(("data", "batch", i), f"every example must have the sizes of "
                                                     f"example 0 (D = {first.D}, K = "
                                                     f"{first.K}); got D = {example.D}, K = "
                                                     f"{example.K}")
    return Encoded(first.loss, first.T, first.D, first.K, input_ids=None, input_values=None,
                   target_ids=None, target_values=None, vocab=first.vocab, scale=first.scale,
                   loc=("data", "batch"), k_loc=first.k_loc, joiner=first.joiner,
                   examples=tuple(examples))


def _shape_name(shape: type) -> str:
    return {TextData: "text", WordsData: "words", SeriesData: "series",
            ArrayData: "inputs and targets"}.get(shape, shape.__name__)


def _in_batch(i: int, error: RequestError) -> RequestError:
    """An example's error, located inside the batch: ("data", "batch", i, ...)."""
    loc = error.loc
    inner = loc[1:] if loc[:1] == ("data",) else ()
    where = ("data", "batch", i, *inner) if loc[:1] == ("data",) else loc
    return RequestError(where, error.msg)


def _token_batch(items: list[TextData | WordsData], loss: str | None,
                 output_size: int | None) -> list[Encoded]:
    """Text or words: one vocabulary, the sorted distinct tokens of every example."""
    is_text = isinstance(items[0], TextData)
    sequences = [list(item.text) if isinstance(item, TextData) else item.words.split()
                 for item in items]
    vocab = sorted({token for tokens in sequences for token in tokens})
    examples = []
    for i, tokens in enumerate(sequences):
        loc: Loc = ("data", "batch", i, "text" if is_text else "words")
        if len(tokens) < 2:
            raise RequestError(loc, f"needs at least two tokens (one input and its next "
                                    f"token); got {len(tokens)}")
        examples.append(_tokens(tokens, vocab, loc, loss, output_size, "" if is_text else " "))
    return examples


def _series_batch(items: list[SeriesData], loss: str | None) -> list[Encoded]:
    """Series: z-scored with the mean and spread of all the batch's values together."""
    together = SeriesData([value for item in items for value in item.series])
    try:
        scale = _series(together, loss).scale
    except RequestError as error:
        raise RequestError(("data", "batch") if error.loc[:1] == ("data",) else error.loc,
                           error.msg + " (over all the batch's values)") from None
    assert scale is not None
    examples = []
    for i, item in enumerate(items):
        if len(item.series) < 2:
            raise RequestError(("data", "batch", i, "series"),
                               f"needs at least 2 items, got {len(item.series)}")
        z = (np.asarray(item.series, dtype=float) - scale["mean"]) / scale["std"]
        examples.append(Encoded("mse", len(z) - 1, 1, 1, input_ids=None,
                                input_values=z[:-1, None], target_ids=None,
                                target_values=z[1:, None], vocab=None, scale=scale,
                                loc=("data", "batch", i, "series"),
                                k_loc=("data", "batch", i, "series")))
    return examples


def _array_batch(items: list[ArrayData], loss: str | None, output_size: int | None,
                 params_k: int | None) -> list[Encoded]:
    """Inputs and targets: every example checked as one sequence is; class ids with no
    output_size share K = the largest id of the batch + 1."""
    examples = []
    for i, item in enumerate(items):
        try:
            examples.append(_arrays(item, loss, output_size, params_k))
        except RequestError as error:
            raise _in_batch(i, error) from None
    if output_size is None and params_k is None and examples[0].target_ids is not None \
            and examples[0].loss == "cross_entropy":
        k = max(example.K for example in examples)
        examples = [replace(example, K=k) for example in examples]
    return examples


def _tokens(tokens: list[str], vocab: list[str], loc: Loc, loss: str | None,
            output_size: int | None, joiner: str) -> Encoded:
    """One sequence of tokens over a given vocabulary (inputs tokens[:-1], targets [1:])."""
    index = {tok: i for i, tok in enumerate(vocab)}
    ids = np.array([index[tok] for tok in tokens])
    k = len(vocab)
    if output_size is not None and output_size != k:
        raise RequestError(("output_size",), f"text and words set K to the vocabulary size "
                                             f"{k}; got output_size = {output_size}")
    return Encoded(loss or "cross_entropy", len(ids) - 1, k, k, input_ids=ids[:-1],
                   input_values=None, target_ids=ids[1:].astype(np.int64), target_values=None,
                   vocab=vocab, scale=None, loc=loc, k_loc=loc, joiner=joiner)
