"""Named scenarios. Each is a partial request; ids are stable, titles and descriptions are the
English source texts the page's catalogues translate (keys preset.<id>.title/.description)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Preset:
    id: str
    title: str
    description: str
    settings: dict[str, Any]  # request fields, "data" included

    def request(self) -> dict[str, Any]:
        """The request that reproduces this scenario (the preset named, its settings shown)."""
        return {**self.settings, "data": {"preset": self.id}}


def _sine(n: int = 24, period: int = 12) -> list[float]:
    return [round(math.sin(2 * math.pi * t / period), 6) for t in range(n)]


def _long_range(length: int = 20) -> dict[str, Any]:
    # Symbols: 0 = "A", 1 = "B", 2 = filler. The first symbol must be recalled at the last step.
    inputs = [[1.0, 0.0, 0.0]] + [[0.0, 0.0, 1.0]] * (length - 1)
    targets = [0] * length
    return {"inputs": inputs, "targets": targets}


PRESETS: dict[str, Preset] = {
    p.id: p
    for p in [
        Preset("machine", "machine",
               'Character model: from "machin" predict "achine", one letter ahead.',
               {"data": {"text": "machine"}}),
        Preset("series", "2, 4, 6, 8, 10",
               "Continue a numeric series: regression of the next value, squared error.",
               {"data": {"series": [2, 4, 6, 8, 10]}, "hidden_size": 4}),
        Preset("sentence", "Matias tinha um cachorro…",
               "Word model on a Portuguese sentence: why the context before the blank matters.",
               {"data": {"words": "Matias tinha um cachorro e ele gostava de beber água"},
                "hidden_size": 8, "optimizer": {"name": "adagrad", "lr": 0.1}}),
        Preset("sine", "Sine wave",
               "Predict the next point of a sine wave, 24 steps (two periods).",
               {"data": {"series": _sine()}, "hidden_size": 6}),
        Preset("long_range", "Remember the first symbol",
               "Recall the first symbol at the last of 20 steps (loss at the last step only): "
               "the plain RNN's gradient vanishes, the LSTM's does not.",
               {"data": _long_range(), "hidden_size": 8, "loss_at": "last", "output_size": 2,
                "forget_bias": 3.0}),
    ]
}


def list_presets() -> list[dict[str, Any]]:
    """id, title, description and the reproducing request of every preset."""
    return [{"id": p.id, "title": p.title, "description": p.description,
             "request": p.request()} for p in PRESETS.values()]
