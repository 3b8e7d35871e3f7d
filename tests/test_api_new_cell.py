"""Every endpoint serves a cell that exists only in the tests (tests/mgu_cell.py).

The app is started in a process of its own with ``BPTT_CELLS=mgu_cell``, so the cell is
registered before the request models are made and in the computation processes the server
forks (they import the engine afresh); there it is asked for on every POST endpoint
in-process (FastAPI's TestClient), and each answer must be a 200 with the cell's own numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.registries import ENDPOINT_OPTIONS, POST_ENDPOINTS

TESTS = Path(__file__).resolve().parent

# The process's script: every POST endpoint asked for the cell (the bodies in argv), (status,
# media type, body) of each answer on stdout as JSON, and the OpenAPI document's cell names.
SCRIPT = """
import json, sys
from fastapi.testclient import TestClient
from bptt_studio.main import create_app

bodies = json.loads(sys.argv[1])
answers = {}
with TestClient(create_app()) as client:
    for endpoint, body in bodies.items():
        response = client.post(f"/api/v1/{endpoint}", json=body)
        answers[endpoint] = [response.status_code, response.headers.get("content-type"),
                             response.text]
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    answers["enum"] = schema["TraceApiRequest"]["properties"]["cell"]["enum"]
print(json.dumps(answers))
"""
REQUEST = {"cell": "mgu", "hidden_size": 3, "data": {"text": "hello"},
           "truncation": {"k1": 2, "k2": 3}}
# /train with the trace of its last pass too
BODIES = {path: {**REQUEST, **ENDPOINT_OPTIONS.get(path, {}),
                 **({"include_trace": True} if path == "train" else {})}
          for path in POST_ENDPOINTS}


@pytest.fixture(scope="module")
def answers() -> dict:
    env = {**os.environ, "BPTT_CELLS": "mgu_cell",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS),
                                                       os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(BODIES)], env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_every_endpoint_answers_the_new_cell_with_a_200(answers, endpoint):
    status, _, text = answers[endpoint]
    assert status == 200, text[:2000]


def test_the_request_schema_lists_the_registered_cell(answers):
    assert answers["enum"] == ["rnn", "lstm", "gru", "mgu"]


def test_the_trace_carries_the_cells_description_with_its_diagonal(answers):
    result = json.loads(answers["trace"][2])
    assert result["config"]["cell"] == "mgu"
    assert result["cell_spec"]["gates"] == ["f", "n"]
    assert result["cell_spec"]["params"]["p_f"]["kind"] == "diagonal"


def test_the_gradcheck_of_the_new_cell_passes(answers):
    assert json.loads(answers["gradcheck"][2])["ok"] is True


def test_the_neuron_view_of_the_new_cell_has_its_gates(answers):
    view = json.loads(answers["neuron"][2])
    assert view["cell"] == "mgu" and set(view["deltas"]) == {"f", "n"}


def test_the_exports_hold_the_new_cells_parameters(answers):
    assert 'p["p_f"] * h' in answers["export/torch"][2]
    assert ",contrib.p_f,f," in answers["export/csv"][2]
    assert answers["export/csv"][1].startswith("text/csv")
