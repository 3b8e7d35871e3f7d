"""The guided lessons as data: every language has every text, the texts keep their placeholders
and formulas, every formula uses known symbols, every scenario runs in the engine, every event
exists, every highlight names a kind of element the page has, and every question's answer,
read from the engine, is one of its options. Browser-free; test_lessons_browser.py walks them.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from lessons_support import (
    COMPARE_SETUPS,
    FORMULA,
    LANGS,
    PLACEHOLDER,
    ROOT,
    answer,
    compare_setups,
    correct_option,
    event_index,
    lessons,
    loss_steps_of,
    match_event,
    neuron_view,
    pick,
    shown_scenario,
    structure,
    texts,
    trace,
)

READER_NAMES = set(re.findall(r"^  (\w+): \(",
                              (ROOT / "static/js/lessons/lesson-readers.js").read_text(),
                              re.MULTILINE))
PARAMS = {
    "rnn": {"W", "U", "b", "V", "b_y", "W_l2", "U_l2", "b_l2"},  # and a stack's layer 2
    "lstm": {f"{k}_{g}" for k in "WUb" for g in "figo"} | {"V", "b_y", "W_k", "U_k", "b_k"},
    "gru": {f"{k}_{g}" for k in "WUb" for g in "zrh"} | {"V", "b_y", "W_k", "U_k", "b_k"},
}
SIGNALS = {"x", "h", "c", "a", "o", "yhat", "y", "L", "delta", "g_o", "dh", "dc"}
GATES = set("figozrnk")
TOKEN = re.compile(r"@([A-Za-z]\w*)|%([A-Za-z][\w.]*)(?:\(([^()]*)\))?")
EQ_IDS = {"inputs", "a", "h", "c", "yhat", "loss", "g_o", "dh", "delta", "contrib", "dc",
          "window-loss", "grad-norm", "clip", "rule"} | {f"gate-{g}" for g in "figozrn"} | {
          f"delta-{g}" for g in "figozrn"}
PAGE_IDS = {"#box-error-flow", "#box-grad-norms", "#box-accum", "#box-loss", "#predictions",
            "#tl-scrubber", "#neuron", "#bughunt", "#batch", "#batch-shares"}
# hooks of the compare view (compare.js): the sentence that says what differs, and its numbers
COMPARE_HOOKS = {".cmp-point"} | {f"[data-num={n}]" for n in (
    "dh", "dh_out", "dh_next", "flow_first", "loss", "updates", "cosine", "relative_error",
    "grad_norm", "divisor")}
# the single view's parts a comparison hides (body[data-compare] in studio.css)
SINGLE_ONLY = {"#box-error-flow", "#box-grad-norms", "#box-accum", "#box-loss", "#predictions",
               "#neuron", "#batch", "#batch-shares"}


def all_steps():
    for lesson in lessons():
        for i, step in enumerate(lesson["steps"]):
            yield pytest.param(lesson, i, step, id=f"{lesson['id']}-{i + 1}")


def text_fields(step: dict, lang: str, lesson_id: str, i: int) -> dict[str, str]:
    entry = texts(lang)["lessons"][lesson_id]["steps"][i]
    fields = {"text": entry["text"]}
    if "question" in step:
        fields["question"] = entry["question"]
        fields["reveal"] = entry["reveal"]
        fields.update({f"option{k}": o for k, o in enumerate(entry["options"])})
    return fields


def test_nine_lessons_of_four_to_seven_steps_each_ending_with_questions():
    ids = [lesson["id"] for lesson in lessons()]
    assert ids == ["recursion", "last-step", "when-update", "lstm", "vanishing", "train-machine",
                   "find-the-bug", "mini-batch", "deep"]
    for lesson in lessons():
        steps = lesson["steps"]
        assert 4 <= len(steps) <= 7, lesson["id"]
        asked = [i for i, s in enumerate(steps) if "question" in s]
        assert 1 <= len(asked) <= 2, lesson["id"]
        assert asked[-1] == len(steps) - 1, f"{lesson['id']} must end with a question"
        assert asked == list(range(len(steps) - len(asked), len(steps))), lesson["id"]


@pytest.mark.parametrize("lang", LANGS)
def test_every_language_has_every_text_aligned_with_the_structure(lang):
    cat = texts(lang)
    assert set(cat["ui"]) == set(texts("en")["ui"])
    assert set(cat["lessons"]) == {lesson["id"] for lesson in lessons()}
    for lesson in lessons():
        entry = cat["lessons"][lesson["id"]]
        assert entry["title"].strip()
        assert len(entry["steps"]) == len(lesson["steps"]), lesson["id"]
        for step, text in zip(lesson["steps"], entry["steps"], strict=True):
            assert text["text"].strip()
            if "question" in step:
                assert set(text) == {"text", "question", "options", "reveal"}
                assert len(text["options"]) == len(step["question"]["options"])
                assert all(o.strip() for o in text["options"])
            else:
                assert set(text) == {"text"}


@pytest.mark.parametrize("lang", LANGS)
def test_placeholders_are_filled_by_readers_of_the_engine(lang):
    for lesson in lessons():
        for i, step in enumerate(lesson["steps"]):
            fields = text_fields(step, lang, lesson["id"], i)
            mine = set(step.get("values", {}))
            for name, text in fields.items():
                used = set(PLACEHOLDER.findall(FORMULA.sub("", text)))
                allowed = mine | (set(step["reveal"].get("values", {})) | {"answer"}
                                  if name == "reveal" else set())
                assert used <= allowed, (lesson["id"], i + 1, name, used - allowed)
            assert text.count("{{") == text.count("}}")
    for key, text in texts(lang)["ui"].items():
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(texts("en")["ui"][key]))


@pytest.mark.parametrize("lang", ["pt-BR", "ru"])
def test_translations_keep_every_formula_and_placeholder_and_are_translated(lang):
    for lesson in lessons():
        for i, step in enumerate(lesson["steps"]):
            en = text_fields(step, "en", lesson["id"], i)
            other = text_fields(step, lang, lesson["id"], i)
            for name, text in en.items():
                where = (lesson["id"], i + 1, name)
                assert sorted(FORMULA.findall(other[name])) == sorted(FORMULA.findall(text)), where
                assert set(PLACEHOLDER.findall(other[name])) == set(
                    PLACEHOLDER.findall(text)), where
                if len(FORMULA.sub("", text)) > 12:
                    assert other[name] != text, where
        assert texts(lang)["lessons"][lesson["id"]]["title"] != texts("en")["lessons"][
            lesson["id"]]["title"]


def test_formulas_use_only_the_notation_symbols():
    for lesson in lessons():
        for i, step in enumerate(lesson["steps"]):
            cell = step.get("formulaCell", step["scenario"].get("cell", "rnn"))
            for lang in LANGS:
                entry = texts(lang)["lessons"][lesson["id"]]
                for text in [*text_fields(step, lang, lesson["id"], i).values(), entry["title"]]:
                    for formula in FORMULA.findall(text):
                        for param, signal, _ in TOKEN.findall(formula):
                            if param:
                                assert param in PARAMS[cell], (lesson["id"], i + 1, param)
                            else:
                                base, _, gate = signal.partition(".")
                                assert (base in SIGNALS and (not gate or base == "delta")) or (
                                    base == "gate" and gate in GATES), (lesson["id"], signal)
                                assert gate in GATES or not gate
                    # symbols outside formulas would not follow the notation switch
                    plain = FORMULA.sub("", text)
                    assert not re.search(r"\b[hxcL]\([t0-9]", plain), (lesson["id"], i + 1, plain)
                    assert not re.search(r"(?<![\w@%])[WUV](?![\w·])", plain), (lesson["id"], plain)


def test_every_reader_named_by_a_lesson_exists_in_the_runner():
    def readers(obj):
        if isinstance(obj, dict):
            if "fn" in obj:
                yield obj["fn"]
            for v in obj.values():
                yield from readers(v)
        elif isinstance(obj, list):
            for v in obj:
                yield from readers(v)

    used = set(readers(structure()))
    assert used <= READER_NAMES, used - READER_NAMES


def check_target(target: str, result: dict, index: int) -> None:
    """A highlight target names a kind of element the page draws for this trace at event index."""
    T = result["sizes"]["T"]
    cell = result["config"]["cell"]
    ev = result["events"][index]
    if target.startswith("node-"):
        name, t = target[5:].rsplit("-", 1)
        assert 0 <= int(t) <= T
        name, _, layer = name.partition("_l")  # a stack's layer j >= 2: node-h_l2-3
        assert not layer or 2 <= int(layer) <= result["sizes"].get("layers", 1), target
        assert name in {"x", "h", "yhat", "L"} or (name == "c" and cell == "lstm") or (
            name.startswith("gate-") and cell != "rnn"), target
    elif "@" in target:
        edge, t = target.split("@")
        field = {"err-out": "dh_out", "err-next": "dh_next", "err-c": "dc_next"}[edge]
        assert ev["kind"] == "backward"
        # the bundle is drawn only when this event's window carries a non-zero error there
        window = [e for e in result["events"][: index + 1] if e["kind"] == "backward"
                  and e["update"] == ev["update"] and e["t"] == int(t)]
        assert window and any(v != 0 for v in window[0][field]), target
    elif target.startswith("eq-"):
        assert target[3:] in EQ_IDS, target
    elif target.startswith("hm-"):
        assert target[3:] in result["params"], target
    elif target.startswith("[data-window="):
        assert int(re.findall(r"\d+", target)[0]) < len(result["windows"])
    else:
        assert target in PAGE_IDS | COMPARE_HOOKS, target


@pytest.mark.parametrize("lesson,i,step", list(all_steps()))
def test_step_scenario_runs_and_targets_exist_in_its_trace(lesson, i, step):
    stages = [(step["scenario"], step.get("compare"), step["event"], step.get("highlight", []))]
    if "reveal" in step:
        rv = step["reveal"]
        stages.append((rv.get("scenario", step["scenario"]), rv.get("compare", step.get("compare")),
                       rv["event"], rv.get("highlight", [])))
    for scenario, mode, event, highlight in stages:
        assert highlight, (lesson["id"], i + 1)
        if not mode:
            result = trace(scenario)
            assert not result["non_finite"]
            for target in highlight:
                assert target not in COMPARE_HOOKS and ":" not in target.split("[")[0], target
                check_target(target, result, event_index(result, event))
            continue
        # side by side: the timeline walks the leader's events, each column shows its match
        assert mode in COMPARE_SETUPS, mode
        lead = trace(shown_scenario(scenario, mode))
        k = event_index(lead, event)
        ev = lead["events"][k]
        n = sum(1 for e in lead["events"][:k] if (e["kind"], e["t"]) == (ev["kind"], ev["t"]))
        columns = {}
        for setup, s in compare_setups(mode, scenario).items():
            result = trace(s)
            assert not result["non_finite"]
            columns[setup] = (result, match_event(result, ev["kind"], ev["t"], n)[0])
        for target in highlight:
            assert target not in SINGLE_ONLY, (target, "hidden while comparing")
            setup, _, name = target.rpartition(":") if not target.startswith(
                ("#", ".", "[")) else ("", "", target)
            if name in COMPARE_HOOKS:
                continue
            named = [setup] if setup else list(columns)
            assert set(named) <= set(columns), target
            # a target without a column must exist in at least one of them
            found = 0
            for column in named:
                try:
                    check_target(name, *columns[column])
                    found += 1
                except AssertionError:
                    if setup:
                        raise
            assert found, target


@pytest.mark.parametrize("lesson,i,step", [p for p in all_steps() if "question" in p.values[2]])
def test_question_answer_read_from_the_engine_is_an_option(lesson, i, step):
    k = correct_option(step)
    assert 0 <= k < len(step["question"]["options"])
    # the texts were written against these numbers: keep them true
    expected = {
        ("recursion", 5): "next", ("recursion", 6): 2, ("last-step", 5): True,
        ("when-update", 4): 3, ("when-update", 5): "close", ("lstm", 4): 5, ("lstm", 5): True,
        ("vanishing", 4): "gru", ("vanishing", 5): "fades", ("train-machine", 4): 6,
        ("find-the-bug", 3): 5, ("find-the-bug", 4): 6, ("mini-batch", 3): "both",
        ("deep", 3): "above-next", ("deep", 4): "top",
    }
    assert answer(step) == expected[(lesson["id"], i)]


def test_the_scenarios_show_what_the_texts_say():
    """Claims the texts make in words, checked against the engine."""
    by_id = {lesson["id"]: lesson for lesson in lessons()}
    vanish = trace(by_id["vanishing"]["steps"][1]["scenario"])["diagnostics"]["error_flow"][-1]
    explode = trace(by_id["vanishing"]["steps"][2]["scenario"])
    assert vanish[0] < 1e-4 * vanish[-1]  # faded away
    assert explode["diagnostics"]["error_flow"][-1][0] > 10 * explode["diagnostics"][
        "error_flow"][-1][-1]  # grew back in time
    assert explode["updates"][0]["grad_norm"] > 100
    clipped = trace(by_id["vanishing"]["steps"][3]["scenario"])["updates"][0]
    assert clipped["clipped"] and clipped["clip_coef"] < 1e-2
    flows = {c: trace({"data": {"preset": "long_range"}, "cell": c})["diagnostics"][
        "error_flow"][-1][0] for c in ("rnn", "lstm", "gru")}
    assert flows["rnn"] < flows["lstm"] / 10  # both gated cells keep far more than the RNN
    haykin = trace(by_id["when-update"]["steps"][1]["scenario"])
    assert [u["t"] for u in haykin["updates"]] == [1, 2, 3, 4, 5, 6]
    assert trace(by_id["when-update"]["steps"][0]["scenario"])["updates"][0]["t"] == 6
    last = trace(by_id["last-step"]["steps"][3]["scenario"])
    assert last["loss_steps"] == [6]
    assert not any(ev["dh_out"].any() for ev in last["events"]
                   if ev["kind"] == "backward" and ev["t"] < 6)


def test_the_mini_batch_lesson_says_what_the_engine_computes():
    """The mini-batch lesson's claims, from the engine's result of the whole batch: X_t is an
    n × d matrix, the examples' shares add up to the update's loss and gradient (and the text's
    rounded sum is right as written), the mean divides by n · steps and so does its gradient."""
    from bptt_studio.engine import run_trace

    steps = next(x for x in lessons() if x["id"] == "mini-batch")["steps"]
    summed = run_trace(steps[1]["scenario"])
    n, T, D = (summed["sizes"][k] for k in ("n", "T", "D"))
    assert (n, T) == (3, 6) and np.asarray(summed["inputs"])[:, 0, :].shape == (n, D)
    update = summed["updates"][0]
    assert sum(s["loss"] for s in update["shares"]) == pytest.approx(update["loss"], rel=1e-12)
    for name, grad in update["grads"].items():
        total = sum(np.asarray(s["grads"][name]) for s in update["shares"])
        np.testing.assert_allclose(total, grad, rtol=1e-12, atol=1e-15)
    rounded = [round(s["loss"], 2) for s in update["shares"]]
    assert round(sum(rounded), 2) == round(update["loss"], 2)  # "{l1} + {l2} + {l3} = {L}"
    averaged = run_trace(steps[2]["scenario"])
    terms = n * len(loss_steps_of(averaged, 0))
    assert terms == 18
    assert averaged["updates"][0]["loss"] == pytest.approx(update["loss"] / terms, rel=1e-12)
    assert update["grad_norm"] / averaged["updates"][0]["grad_norm"] == pytest.approx(terms)


def neuron_steps():
    return [pytest.param(lesson, i, step, id=f"{lesson['id']}-{i + 1}")
            for lesson in lessons() for i, step in enumerate(lesson["steps"])
            if "neuron" in step.get("reveal", {})]


def test_lesson_1_answers_the_mlp_question_with_a_neuron_view():
    ids = [lesson["id"] for lesson in lessons() if any(
        "neuron" in step or "neuron" in step.get("reveal", {}) for step in lesson["steps"])]
    assert ids == ["recursion", "deep"]  # and the deep lesson, a lower layer's unit
    assert [(p.values[0]["id"], p.values[1]) for p in neuron_steps()] == [("recursion", 5),
                                                                            ("deep", 3)]


@pytest.mark.parametrize("lesson,i,step", neuron_steps())
@pytest.mark.parametrize("convention", ["gradient", "haykin"])
def test_neuron_reveal_reads_the_engines_terms_and_they_add_up(lesson, i, step, convention):
    """The reveal's numbers are the engine's neuron view (docs/neuron.md) of the unit it opens,
    and what the text says of them holds: the two parts add up to the error reaching the unit,
    and that error times phi' is its delta, the trace's own number (up to the sign)."""
    view = neuron_view(step, convention)
    values = step["reveal"]["values"]
    assert {r["fn"] for r in values.values()} == {"neuron"}
    got = {name: pick(view, r["path"]) for name, r in values.items()}
    parts = [got[name] for name, r in values.items() if r["path"].startswith("dh.terms.")]
    assert len(parts) == 2 and sum(parts) == pytest.approx(view["dh"]["value"], rel=1e-12)
    result = trace(step["scenario"])
    ev = result["events"][event_index(result, step["reveal"]["event"])]
    sign = -1.0 if convention == "haykin" else 1.0
    unit = step["reveal"]["neuron"]["unit"]
    if "delta" in got:  # and that error times phi' is its delta, the trace's own number
        assert got["phi"] * view["dh"]["value"] == pytest.approx(got["delta"], rel=1e-12)
        assert got["delta"] == sign * ev["delta"][unit]
    else:  # the error reaching the unit is the trace's own dh
        assert got["dh"] == sign * ev["dh"][unit]
    # a step that opens a view of its own opens the same unit at the same event
    if "neuron" in step:
        assert step["neuron"] == step["reveal"]["neuron"]
        assert step["event"] == step["reveal"]["event"]


def test_every_ui_label_the_runner_uses_is_in_the_catalogue():
    # the runner and its panel (lessons.js, lesson-panel.js)
    runner = "".join((ROOT / "static/js/lessons" / name).read_text(encoding="utf-8")
                     for name in ("lessons.js", "lesson-panel.js"))
    used = set(re.findall(r'this\.(?:r\.)?ui\("([\w.]+)"', runner))
    assert used and used <= set(texts("en")["ui"]), used - set(texts("en")["ui"])
