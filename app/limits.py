"""The server's limits, judged on the engine's plan of a request before any costly work.

The schemas bound what a field can hold (hidden_size, text and series lengths, ...). The plan
(``engine.plan``) knows what the request will do: the sizes T, D and K as the data and the
parameters set them, the backward steps of a pass, the training passes, the cell steps of a
gradient check. ``check`` judges those, each from the plan, and refuses with an
``engine.RequestError`` naming the field to change and saying what to reduce, like every
other bad request. (The plan's ``work`` record holds every count a cost model needs; the
limits below are on counts.)
"""

from __future__ import annotations

from bptt_studio.engine import Plan, RequestError
from bptt_studio.settings import Settings


def check(plan: Plan, settings: Settings) -> None:
    """Every limit that applies to the plan's task, or a RequestError."""
    check_sizes(plan, settings)
    check_schedule_work(plan, settings)
    if plan.task == "train":
        check_train_work(plan, settings)
    if plan.task == "gradcheck":
        check_gradcheck_work(plan, settings)


def check_sizes(plan: Plan, settings: Settings) -> None:
    """Steps, input size and output size within the server's limits."""
    data = plan.data
    steps, width, classes = plan.T, plan.D, plan.K
    if steps > settings.max_seq_len:
        raise RequestError(data.loc, f"{steps} steps; the server takes at most "
                                     f"{settings.max_seq_len} (max_seq_len, environment "
                                     f"variable BPTT_MAX_SEQ_LEN)")
    if width > settings.max_input_size:
        what = {"text": "distinct characters", "words": "distinct words"}.get(
            str(data.loc[-1]), "input values per step")
        raise RequestError(data.loc, f"{width} {what} (the input size D); the server takes "
                                     f"at most {settings.max_input_size} (max_input_size, "
                                     f"environment variable BPTT_MAX_INPUT_SIZE)")
    if classes > settings.max_input_size:
        _too_many_classes(plan, settings)


def _too_many_classes(plan: Plan, settings: Settings) -> None:
    most = settings.max_input_size
    if plan.data.k_loc == ("data", "targets") and plan.data.target_ids is not None:
        ids = plan.data.target_ids  # name the first class id over the limit
        first = int((ids >= most).argmax())
        raise RequestError(("data", "targets", first),
                           f"class id {int(ids[first])} needs an output size of "
                           f"{int(ids[first]) + 1}; the server takes at most {most} classes, "
                           f"ids 0..{most - 1} (BPTT_MAX_INPUT_SIZE)")
    what = _K_SOURCES.get(plan.data.k_loc, "output_size")
    raise RequestError(plan.data.k_loc, f"output size K = {plan.K} ({what}); the server takes "
                                        f"at most {most} (BPTT_MAX_INPUT_SIZE)")


_K_SOURCES: dict[tuple[str | int, ...], str] = {
    ("params", "V"): "the rows of params V", ("data", "targets"): "the length of each target"}


def check_schedule_work(plan: Plan, settings: Settings) -> None:
    """The backward steps of one pass within max_backward_steps.

    Overlapping truncation windows (k2 > k1) replay steps: BPTT(1, 200) over 200 steps runs
    20,100 backward steps, and each is an event of the trace."""
    truncation = plan.request.truncation
    if plan.backward_steps > settings.max_backward_steps and truncation is not None:
        raise RequestError(("truncation", "k2"), f"BPTT({truncation.k1}, {truncation.k2}) over "
                                                 f"{plan.T} steps runs {plan.backward_steps} "
                                                 f"backward steps; the server runs at most "
                                                 f"{settings.max_backward_steps} per pass "
                                                 f"(max_backward_steps, environment variable "
                                                 f"BPTT_MAX_BACKWARD_STEPS): use a smaller k2, "
                                                 f"a larger k1 or a shorter sequence")


def check_train_work(plan: Plan, settings: Settings) -> None:
    """iterations x backward steps within max_train_steps: training time grows with both."""
    per_pass = max(plan.backward_steps, 1)
    steps = plan.iterations * per_pass
    if steps > settings.max_train_steps:
        most = max(settings.max_train_steps // per_pass, 1)
        raise RequestError(("iterations",), f"{plan.iterations} passes of {per_pass} backward "
                                            f"steps is {steps} steps of training; the server "
                                            f"runs at most {settings.max_train_steps} per "
                                            f"request (max_train_steps, environment variable "
                                            f"BPTT_MAX_TRAIN_STEPS): ask for at most {most} "
                                            f"iterations, or a shorter sequence")


def check_gradcheck_work(plan: Plan, settings: Settings) -> None:
    """The finite-difference check replays 2 x (parameter entries) x (window steps) cell
    steps (``plan.evaluations``); bound that by max_gradcheck_evaluations."""
    if plan.evaluations > settings.max_gradcheck_evaluations:
        raise RequestError(("hidden_size",), f"too large for a finite-difference check here: "
                                             f"{plan.evaluations} cell evaluations; the server "
                                             f"runs at most "
                                             f"{settings.max_gradcheck_evaluations} "
                                             f"(BPTT_MAX_GRADCHECK_EVALUATIONS): use a smaller "
                                             f"hidden_size or a shorter sequence")
