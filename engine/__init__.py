"""BPTT Studio's engine: exact, fully recorded Backpropagation Through Time in NumPy.

    from engine import run_trace
    result = run_trace({"cell": "lstm", "data": {"text": "machine"}, "hidden_size": 4})
    result["events"][0]["h"]           # h(1)
    result["updates"][0]["grads"]["W_f"]

Everything takes a request shaped as in CONTRACT.md (a dict or a ``TraceRequest``).
"""

from engine.errors import RequestError
from engine.gradcheck import gradcheck
from engine.presets import PRESETS, list_presets
from engine.request import TraceRequest, parse_request
from engine.run import prepare, run_trace
from engine.train import train

__all__ = [
    "PRESETS",
    "RequestError",
    "TraceRequest",
    "gradcheck",
    "list_presets",
    "parse_request",
    "prepare",
    "run_trace",
    "train",
]
