"""What the lesson tests need from the lesson files and from the engine.

The lessons' questions are answered in the browser by readers in
static/js/lessons/lesson-readers.js. Here the same questions are answered independently,
straight from the engine's Python result, so a test can check that what the page reveals is
what the engine computed. A step that compares shows set-ups side by side
(static/js/views/compare-plan.js); their scenarios and the one the timeline walks are worked
out here again from the same rules.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from tests.registries import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
LESSONS_DIR = ROOT / "static" / "lessons"
LANGS = LANGUAGES
PLACEHOLDER = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")
FORMULA = re.compile(r"\{\{(.*?)\}\}")


@cache
def structure() -> dict[str, Any]:
    return json.loads((LESSONS_DIR / "lessons.json").read_text(encoding="utf-8"))


@cache
def texts(lang: str) -> dict[str, Any]:
    return json.loads((LESSONS_DIR / f"{lang}.json").read_text(encoding="utf-8"))


def lessons() -> list[dict[str, Any]]:
    return structure()["lessons"]


def request_of(scenario: dict[str, Any]) -> dict[str, Any]:
    """The trace request of a lesson scenario (the page-only field "train" removed)."""
    return {k: v for k, v in scenario.items() if k != "train"}


@cache
def _trace(key: str) -> dict[str, Any]:
    from bptt_studio.engine import run_trace

    return run_trace(json.loads(key))


@cache
def _train(key: str, iterations: int) -> dict[str, Any]:
    from bptt_studio.engine import train

    return train(json.loads(key), iterations, include_trace=True)


def example_view(result: dict[str, Any], example: int = 0) -> dict[str, Any]:
    """A mini-batch's result as the page's views read it (static/js/state/trace.js
    exampleTrace): one example's forward and backward events and the update events, its
    inputs, targets, step losses and diagnostics; the rest (the updates, with every example's
    share) the batch's. One sequence's result as it is."""
    if "n" not in result["sizes"]:
        return result
    view = dict(result)
    view["events"] = [ev for ev in result["events"]
                      if ev["kind"] == "update" or ev.get("example") == example]
    for key in ("inputs", "targets", "step_losses"):
        view[key] = result[key][example]
    if result.get("example_diagnostics"):
        view["diagnostics"] = result["example_diagnostics"][example]
    return view


def trace(scenario: dict[str, Any]) -> dict[str, Any]:
    """The engine's result for a scenario as the page walks it (a mini-batch's first example:
    example_view), trained first when it names "train"."""
    key = json.dumps(request_of(scenario), sort_keys=True)
    if scenario.get("train"):
        return example_view(_train(key, scenario["train"])["trace"])
    return example_view(_trace(key))


def loss_steps_of(result: dict[str, Any], update: int) -> list[int]:
    """The steps whose loss an update injects (trace.js lossStepsOf): the loss steps after the
    update before it, up to its own."""
    windows = result["windows"]
    after = windows[update - 1]["t_update"] if update else 0
    return [t for t in result["loss_steps"] if after < t <= windows[update]["t_update"]]


def training(scenario: dict[str, Any]) -> dict[str, Any] | None:
    key = json.dumps(request_of(scenario), sort_keys=True)
    return _train(key, scenario["train"]) if scenario.get("train") else None


# The compare view's set-ups (compare-plan.js setupsOf): id and the field each one sets.
COMPARE_SETUPS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "cell": [(c, {"cell": c}) for c in ("rnn", "lstm", "gru")],
    "loss_at": [(a, {"loss_at": a}) for a in ("every", "last")],
    "truncation": [("full", {"truncation": None}), ("truncated", {})],
    "reduction": [(r, {"reduction": r}) for r in ("sum", "mean")],
    "bug": [("true", {}), ("bugged", {})],  # the true pass without the bug (compare_setups)
    "depth": [("one", {"num_layers": 1}), ("deep", {})],  # the stack: compare_setups
}
DEFAULT_TRUNCATION = {"k1": 3}  # compare-plan.js: when the scenario has none


def compare_setups(mode: str, scenario: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{set-up id: scenario} of a comparison, in display order."""
    out = {}
    for setup, fields in COMPARE_SETUPS[mode]:
        s = {**scenario, **fields}
        if setup == "truncated":
            s["truncation"] = scenario.get("truncation") or DEFAULT_TRUNCATION
        if setup == "true":  # compare-plan.js: the scenario without its bug
            s.pop("bug", None)
        if setup == "bugged":  # ... beside it with the bug (null when none was planted)
            s["bug"] = scenario.get("bug")
        if mode == "depth":  # one layer beside the scenario's stack (two when it has none);
            deep = scenario.get("num_layers", 1) > 1  # the other shape's weights are dropped
            layers = scenario["num_layers"] if deep else 2
            if setup == "deep":
                s["num_layers"] = layers
                s.pop("bug", None)
            else:
                s.pop("num_layers")
            if (setup == "deep") != deep:
                for key in ("params", "h0", "c0"):
                    s.pop(key, None)
        out[setup] = s
    return out


def leader(mode: str, scenario: dict[str, Any]) -> str:
    """The set-up whose events the timeline walks: the most events, the first on a tie."""
    setups = compare_setups(mode, scenario)
    counts = {k: len(trace(s)["events"]) for k, s in setups.items()}
    return max(counts, key=lambda k: (counts[k], -list(setups).index(k)))


def shown_scenario(scenario: dict[str, Any], mode: str | None,
                   setup: str | None = None) -> dict[str, Any]:
    """The scenario whose trace the page walks (a comparison's leader) or names (setup)."""
    if not mode:
        assert setup is None, "a reader names a set-up outside a comparison"
        return scenario
    return compare_setups(mode, scenario)[setup or leader(mode, scenario)]


def match_event(result: dict[str, Any], kind: str, t: int, n: int = 0) -> tuple[int, bool]:
    """The event of a set-up that goes with the leader's n-th (kind, t) event (compare-plan.js
    matchEvent): its n-th such event (or last), else the nearest t of that kind; (index,
    exact)."""
    events = result["events"]
    same = [i for i, e in enumerate(events) if e["kind"] == kind and e["t"] == t]
    if same:
        return same[min(n, len(same) - 1)], True
    kinds = [i for i, e in enumerate(events) if e["kind"] == kind]
    return min(kinds, key=lambda i: (abs(events[i]["t"] - t), events[i]["t"])), False


def event_index(result: dict[str, Any], target: dict[str, Any]) -> int:
    for i, ev in enumerate(result["events"]):
        if (ev["kind"] == target["kind"] and target.get("t", ev["t"]) == ev["t"]
                and target.get("update", ev.get("update")) == ev.get("update")
                and target.get("layer", ev.get("layer")) == ev.get("layer")):
            return i
    raise LookupError(f"no event {target}")


def event_t(result: dict[str, Any], target: dict[str, Any]) -> int:
    return int(result["events"][event_index(result, target)]["t"])


def _last_row(result: dict[str, Any]) -> list[float]:
    return result["diagnostics"]["error_flow"][-1]


def neuron_view(step: dict[str, Any], convention: str = "gradient") -> dict[str, Any]:
    """The neuron view a step's reveal opens (engine.neuron_view of its trace), as the page's
    runner fetches it from /api/v1/neuron: the unit it names at the reveal's backward event."""
    from bptt_studio.engine import neuron_view as view_of

    rv = step["reveal"]
    shown = rv.get("scenario", step["scenario"])
    result = trace(shown)
    ev = result["events"][event_index(result, rv["event"])]
    return view_of(result, t=ev["t"], unit=rv["neuron"]["unit"], update=ev["update"],
                   convention=convention, layer=ev.get("layer"))


def pick(obj: Any, path: str) -> Any:
    """The value at a dotted path ("dh.terms.0.value"), as lesson-readers.js's pick reads it."""
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def answer(step: dict[str, Any]) -> Any:
    """The engine's answer to a step's question, computed here without the browser."""
    reader = step["question"]["reader"]
    shown = step["reveal"].get("scenario", step["scenario"])
    mode = step["reveal"].get("compare", step.get("compare"))
    result = trace(shown_scenario(shown, mode, reader.get("setup")))
    fn = reader["fn"]
    if fn == "updates":
        return len(result["updates"])
    if fn == "nonzero":
        ev = result["events"][event_index(result, reader["event"])]
        value = ev
        for part in reader["field"].split("."):
            value = value[part]
        return bool(np.any(np.asarray(value) != 0))
    if fn == "flowArgmax":
        k = reader["k"] - 1
        column = {t: result["diagnostics"]["error_flow"][t - 1][k]
                  for t in range(reader["from"], len(result["diagnostics"]["error_flow"]) + 1)}
        return max(column, key=lambda t: (column[t], -t))
    if fn == "flowTrend":
        row = _last_row(result)
        return "fades" if row[0] < row[-1] else "grows"
    if fn == "truncation":
        d = result["diagnostics"]["full_vs_truncated"]
        if d["relative_error"] < 1e-9:
            return "same"
        return "close" if d["cosine"] >= 0.5 else "far"
    if fn == "contribCount":
        return sum(1 for ev in result["events"] if ev["kind"] == "backward"
                   and np.any(np.asarray(ev["contrib"][reader["param"]]) != 0))
    if fn == "hits":
        trained = training(shown)
        assert trained is not None
        vocab, targets = result["vocab"], result["targets"]
        return sum(1 for p, y in zip(trained["predictions"], targets, strict=True)
                   if p == vocab[int(y)])
    if fn == "partingStep":
        return result["bug"]["parting"]["t"]
    if fn == "neuronLarger":
        out, nxt = (term["value"] for term in neuron_view(step)["dh"]["terms"])
        return "out" if abs(out) >= abs(nxt) else "next"
    if fn == "reductionFactor":
        # which count the engine's two gradient norms of the update are apart by
        sides = {k: trace(s) for k, s in compare_setups(mode, shown).items()}
        u = reader["update"]
        ratio = sides["sum"]["updates"][u]["grad_norm"] / sides["mean"]["updates"][u]["grad_norm"]
        n = sides["mean"]["sizes"].get("n", 1)
        steps = len(loss_steps_of(sides["mean"], u))
        factors = {"one": 1, "n": n, "steps": steps, "both": n * steps}
        return min(factors, key=lambda k: abs(np.log(ratio / factors[k])))
    if fn == "errorSources":  # which error vectors reach h(t), by their norms
        norms = result["events"][event_index(result, reader["event"])]["norms"]
        parts = {"out": "dh_out", "above": "dh_above", "next": "dh_next"}
        return "-".join(name for name, key in parts.items() if norms.get(key, 0) > 0)
    if fn == "layerFlowLarger":
        flows = result["diagnostics"]["error_flow_layers"]
        t, k = reader["t"] - 1, reader["k"] - 1
        return "top" if flows[-1][t][k] >= flows[0][t][k] else "bottom"
    if fn == "compareArgmax":
        flows = {k: _last_row(trace(s))[reader["k"] - 1]
                 for k, s in compare_setups(mode, shown).items()}
        return max(flows, key=flows.__getitem__)
    raise AssertionError(f"no Python mirror for reader {fn}")


def correct_option(step: dict[str, Any]) -> int:
    value = answer(step)
    for k, option in enumerate(step["question"]["options"]):
        if "value" in option and str(option["value"]).lower() == str(value).lower():
            return k
        if "min" in option and option["min"] <= value <= option["max"]:
            return k
    raise AssertionError(f"no option matches the engine's answer {value!r}")
