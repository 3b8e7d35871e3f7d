"""The server's limits on work, checked before the engine allocates or computes anything.

The schemas bound what a field can hold (hidden_size, text and series lengths, ...). What they
cannot see is checked here from the data itself, cheaply: the number of steps of a word text,
the vocabulary size (the input size D of text and words), the largest class id (which sets the
output size K), and the work of a training run or a gradient check. A request over a limit is
an ``engine.RequestError`` naming the field, like every other bad request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bptt_studio.engine import RequestError
from bptt_studio.engine.bptt import windows
from bptt_studio.engine.gradcheck import evaluations_needed
from bptt_studio.engine.presets import PRESETS
from bptt_studio.settings import Settings


@dataclass(frozen=True)
class Sizes:
    steps: int  # T
    width: int  # D, the input size
    classes: int | None  # K, the output size, when the data sets it
    loc: tuple[str, ...]  # the data field that sets T


def data_sizes(request: dict[str, Any]) -> Sizes | None:
    """T, D and K of the request's data without encoding it (None when the engine will
    reject the data anyway, or it is a preset the engine will resolve)."""
    data = request.get("data", {"preset": "machine"})
    if isinstance(data, dict) and set(data) == {"preset"}:
        preset = PRESETS.get(data["preset"])
        if preset is None:
            return None
        data = preset.settings["data"]
    if not isinstance(data, dict):
        return None
    if "text" in data:
        tokens: list[Any] = list(data["text"])
        return Sizes(len(tokens) - 1, len(set(tokens)), len(set(tokens)), ("data", "text"))
    if "words" in data:
        tokens = data["words"].split()
        return Sizes(len(tokens) - 1, len(set(tokens)), len(set(tokens)), ("data", "words"))
    if "series" in data:
        return Sizes(len(data["series"]) - 1, 1, 1, ("data", "series"))
    if "inputs" in data and data["inputs"]:
        targets = data.get("targets") or []
        if targets and isinstance(targets[0], list):
            k: int | None = len(targets[0])
        else:
            ids = [t for t in targets if isinstance(t, int)]
            k = max(ids) + 1 if ids else None
        return Sizes(len(data["inputs"]), len(data["inputs"][0]), k, ("data", "inputs"))
    return None


def check_sizes(request: dict[str, Any], settings: Settings) -> Sizes | None:
    """Steps, input size and output size within the server's limits, or a RequestError."""
    sizes = data_sizes(request)
    if sizes is None:
        return None
    if sizes.steps > settings.max_seq_len:
        raise RequestError(sizes.loc, f"{sizes.steps} steps; the server takes at most "
                                      f"{settings.max_seq_len} (max_seq_len, environment "
                                      f"variable BPTT_MAX_SEQ_LEN)")
    if sizes.width > settings.max_input_size:
        what = {"text": "distinct characters", "words": "distinct words"}.get(
            sizes.loc[-1], "input values per step")
        raise RequestError(sizes.loc, f"{sizes.width} {what} (the input size D); the server takes "
                                      f"at most {settings.max_input_size} (max_input_size, "
                                      f"environment variable BPTT_MAX_INPUT_SIZE)")
    k = request.get("output_size") or sizes.classes
    if k is not None and k > settings.max_input_size:
        loc = ("data", "targets")
        if sizes.loc == ("data", "inputs") and not request.get("output_size"):
            targets = request["data"]["targets"]
            if not isinstance(targets[0], list):  # name the first class id over the limit
                first = next(i for i, t in enumerate(targets) if t >= settings.max_input_size)
                raise RequestError((*loc, first), f"class id {targets[first]} needs an output "
                                                  f"size of {targets[first] + 1}; the server "
                                                  f"takes at most {settings.max_input_size} "
                                                  f"classes, ids 0..{settings.max_input_size - 1}"
                                                  f" (BPTT_MAX_INPUT_SIZE)")
        raise RequestError(loc, f"output size K = {k}; the server takes at most "
                                f"{settings.max_input_size} (BPTT_MAX_INPUT_SIZE)")
    return sizes


def backward_steps(request: dict[str, Any], steps: int) -> tuple[int, tuple[int, int] | None]:
    """The backward steps of one pass (the sum of its windows' lengths) and (k1, k2)."""
    truncation = request.get("truncation")
    data = request.get("data")
    if "truncation" not in request and isinstance(data, dict) and set(data) == {"preset"}:
        preset = PRESETS.get(data["preset"])
        truncation = preset.settings.get("truncation") if preset else None
    if not isinstance(truncation, dict) or not isinstance(truncation.get("k1"), int):
        return steps, None
    k1 = truncation["k1"]
    k2 = truncation.get("k2") or k1
    if k1 < 1 or k2 < k1:
        return steps, None  # the engine names the field
    total = sum(last - first + 1 for first, last in windows(steps, min(k1, steps),
                                                              min(k2, steps)))
    return total, (k1, k2)


def check_schedule_work(request: dict[str, Any], settings: Settings) -> int | None:
    """The backward steps of one pass within max_backward_steps; returns them.

    Overlapping truncation windows (k2 > k1) replay steps: BPTT(1, 200) over 200 steps runs
    20,100 backward steps, and each is an event of the trace."""
    sizes = data_sizes(request)
    if sizes is None:
        return None
    total, ks = backward_steps(request, sizes.steps)
    if total > settings.max_backward_steps and ks is not None:
        raise RequestError(("truncation", "k2"), f"BPTT({ks[0]}, {ks[1]}) over {sizes.steps} "
                                                 f"steps runs {total} backward steps; the "
                                                 f"server runs at most "
                                                 f"{settings.max_backward_steps} per pass "
                                                 f"(max_backward_steps, environment variable "
                                                 f"BPTT_MAX_BACKWARD_STEPS): use a smaller k2, "
                                                 f"a larger k1 or a shorter sequence")
    return total


def check_train_work(request: dict[str, Any], iterations: int, settings: Settings) -> None:
    """iterations x backward steps within max_train_steps: training time grows with both."""
    per_pass = check_schedule_work(request, settings)
    if per_pass is None:
        return
    steps = iterations * max(per_pass, 1)
    if steps > settings.max_train_steps:
        most = max(settings.max_train_steps // max(per_pass, 1), 1)
        raise RequestError(("iterations",), f"{iterations} passes of {per_pass} backward "
                                            f"steps is {steps} steps of training; the server "
                                            f"runs at most {settings.max_train_steps} per "
                                            f"request (max_train_steps, environment variable "
                                            f"BPTT_MAX_TRAIN_STEPS): ask for at most {most} "
                                            f"iterations, or a shorter sequence")


def check_gradcheck_work(problem: Any, settings: Settings) -> None:
    """The finite-difference check replays 2 x (parameter entries) x (window steps) cell
    steps (engine.gradcheck); bound that by max_gradcheck_evaluations."""
    evaluations = evaluations_needed(problem)
    if evaluations > settings.max_gradcheck_evaluations:
        raise RequestError(("hidden_size",), f"too large for a finite-difference check here: "
                                             f"{evaluations} cell evaluations; the server runs "
                                             f"at most {settings.max_gradcheck_evaluations} "
                                             f"(BPTT_MAX_GRADCHECK_EVALUATIONS): use a smaller "
                                             f"hidden_size or a shorter sequence")


def _size(shape: tuple[int, ...]) -> int:
    total = 1
    for n in shape:
        total *= n
    return total
