"""BPTT Studio's engine: exact, fully recorded Backpropagation Through Time in NumPy.

    from bptt_studio.engine import plan, run_trace
    result = run_trace({"cell": "lstm", "data": {"text": "machine"}, "hidden_size": 4})
    result["events"][0]["h"]           # h(1)
    result["updates"][0]["grads"]["W_f"]
    plan({"cell": "lstm"}).work        # what a request will cost, before running it
    to_data(result)                    # the same numbers as plain lists and floats (for json)
    torch_script(request)              # a PyTorch script that redoes the pass and compares
    initial_params(request)["params"]  # the parameters a pass starts from, without the pass

Everything takes a request shaped as in docs/CONTRACT.md (a dict or a ``TraceRequest``), or
its ``Plan``. NumPy and the standard library only.
"""

from .cell import Cell, ParamSpec
from .cells import CELLS
from .errors import RequestError
from .gradcheck import gradcheck
from .initial import initial_params
from .neuron import neuron, neuron_view
from .plain import to_data
from .plan import Plan, Work, plan, problem_of
from .presets import PRESETS, list_presets
from .request import TraceRequest
from .run import run_trace
from .tidy import to_csv, write_csv
from .torch_script import torch_script
from .train import train

__all__ = [
    "CELLS",
    "Cell",
    "PRESETS",
    "ParamSpec",
    "Plan",
    "RequestError",
    "TraceRequest",
    "Work",
    "gradcheck",
    "initial_params",
    "list_presets",
    "neuron",
    "neuron_view",
    "plan",
    "problem_of",
    "run_trace",
    "to_csv",
    "to_data",
    "torch_script",
    "train",
    "write_csv",
]
