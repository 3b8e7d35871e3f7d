"""Named scenarios. Each is a partial request; ids are stable, titles and descriptions are the
English source texts the page's catalogues translate (keys preset.<id>.title/.description)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# The kinds of data a preset can hold, by the request field that holds it; explicit
# {"inputs", "targets"} arrays are the kind "arrays".
DATA_KINDS = ("text", "words", "series")


@dataclass(frozen=True)
class Preset:
    id: str
    title: str
    description: str
    settings: dict[str, Any]  # request fields, "data" included

    @property
    def kind(self) -> str:
        """The kind of its data, as the page's "your own data" names it: "text" (characters),
        "words", "series" or "arrays" (explicit inputs and targets)."""
        data = self.settings["data"]
        return next((k for k in DATA_KINDS if k in data), "arrays")

    def request(self) -> dict[str, Any]:
        """The request that reproduces this scenario (the preset named, its settings shown)."""
        return {**self.settings, "data": {"preset": self.id}}


def _sine(n: int = 24, period: int = 12) -> list[float]:
    return [round(math.sin(2 * math.pi * t / period), 6) for t in range(n)]


# Remember the first symbol: "A", then 19 distractors (x, y and two B's), then "A" again. As a
# character model the inputs are the first 20 characters and the target of the last step is
# the 21st, the first symbol; with the loss at the last step only, that is the whole task.
# One sequence cannot prove that a network remembers (a bias alone can learn to answer "A");
# what it shows honestly is whether the error of that loss reaches step 1, where the answer
# came in. The tests measure both: the error reaching h(1) (RNN against LSTM) and training.
RECALL_TEXT = "AxyxBxyyxBxyxxyxByxyA"

# The course's series: what comes after 2, 4, 6, 8, 10? To say 12, 14, 16 the network must
# produce values past any it was trained on, feeding each prediction back in. A tanh (or
# sigmoid, LSTM, GRU) hidden state is bounded, so its output V h + b_y is too: the forecast
# levels off near 11. ReLU is not bounded: trained 100 passes (the page's default) with H = 4
# and seed 0 it says 11.93, 13.85, 15.83 (300 passes: 11.92, 13.76, 15.60).
SERIES = [2, 4, 6, 8, 10]

# The explosion scenario: ReLU passes the error on unchanged where a unit is active, so with
# W at spectral radius 2 it grows at every step back (the seed is one whose active units
# stay active); the same scenario with tanh saturates and fades instead.
EXPLODING_TEXT = "machine learning"


PRESETS: dict[str, Preset] = {
    p.id: p
    for p in [
        Preset("machine", "machine",
               'Character model: from "machin" predict "achine", one letter ahead.',
               {"data": {"text": "machine"}}),
        Preset("series", "2, 4, 6, 8, 10",
               "Continue a numeric series: regression of the next value, squared error. ReLU, "
               "so that the trained network can go on past 10 (about 12, 14, 16); tanh "
               "saturates and its forecast levels off.",
               {"data": {"series": SERIES}, "activation": "relu", "hidden_size": 4}),
        Preset("sentence", "Matias tinha um cachorro…",
               "Word model on a Portuguese sentence: why the context before the blank matters.",
               {"data": {"words": "Matias tinha um cachorro e ele gostava de beber água"},
                "hidden_size": 8, "optimizer": {"name": "adagrad", "lr": 0.1}}),
        Preset("sine", "Sine wave",
               "Predict the next point of a sine wave, 24 steps (two periods).",
               {"data": {"series": _sine()}, "hidden_size": 6}),
        Preset("long_range", "Remember the first symbol",
               "The first symbol, A, must be recalled at the last of 20 steps, after 19 "
               "distractors (loss at the last step only). One sequence cannot prove memory, but "
               "it shows whether the error of that loss reaches step 1, where the answer came "
               "in: the plain RNN's vanishes, the LSTM's arrives.",
               {"data": {"text": RECALL_TEXT}, "hidden_size": 8, "loss_at": "last",
                "forget_bias": 3.0}),
        Preset("exploding", "Exploding gradient (ReLU)",
               "ReLU with W at spectral radius 2: the error grows at every step back and the "
               "update's gradient is huge. Switch the activation to tanh: it saturates, and the "
               "error fades instead.",
               {"data": {"text": EXPLODING_TEXT}, "activation": "relu", "spectral_radius": 2.0,
                "hidden_size": 8, "seed": 4}),
    ]
}


def list_presets() -> list[dict[str, Any]]:
    """id, title, description, kind of data and the reproducing request of every preset."""
    return [{"id": p.id, "title": p.title, "description": p.description, "kind": p.kind,
             "request": p.request()} for p in PRESETS.values()]
