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

from .cells.protocol import Cell, ParamSpec
from .cells.registry import CELLS
from .outputs.neuron import neuron, neuron_view
from .outputs.plain import to_data
from .outputs.tidy import to_csv, write_csv
from .outputs.torch_script import torch_script
from .planning.plan import Plan, Work, plan, problem_of
from .request.errors import RequestError
from .request.fields import TraceRequest
from .request.presets import PRESETS, list_presets
from .tasks.gradcheck import gradcheck
from .tasks.initial import initial_params
from .tasks.run import run_trace
from .tasks.train import train

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
