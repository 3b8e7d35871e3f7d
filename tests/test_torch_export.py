""""Check it in PyTorch": the exported script rebuilds the pass in PyTorch and agrees with us.

The script comes from the engine (engine.torch_script), the API (POST /api/v1/export/torch),
the CLI (bptt-studio export-torch) and the page's button, the same bytes from each. The tests
that run it need PyTorch, which the project's venv never has: they use the interpreter named
by TORCH_PYTHON (as `make golden` does), are skipped with the reason where it is not set, and
fail in CI (CI=true), whose .ci/run makes that interpreter.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bptt_studio.core.settings import Settings
from bptt_studio.core.version import __version__
from bptt_studio.engine import run_trace, torch_script
from bptt_studio.engine.outputs.torch_script import estimate_script_bytes
from bptt_studio.main import create_app

BIN = Path(sys.executable).parent

# One per cell; full BPTT and truncation (k2 > k1: windows that reach back across an update);
# every optimizer; clipping by norm and by value; losses at every step and at the last only.
SCENARIOS: dict[str, dict] = {
    "rnn_machine_full_bptt_sgd": {"data": {"preset": "machine"}},
    "lstm_words_truncated_bptt_2_3_momentum": {
        "cell": "lstm", "hidden_size": 3, "data": {"words": "the cat sat on the mat"},
        "truncation": {"k1": 2, "k2": 3}, "optimizer": {"name": "momentum", "lr": 0.1}},
    "gru_series_chunked_adam_clip_norm": {
        "cell": "gru", "hidden_size": 5, "data": {"series": [2, 4, 6, 8, 10, 12, 14]},
        "truncation": {"k1": 2}, "optimizer": {"name": "adam", "lr": 0.05},
        "clip": {"mode": "norm", "max": 0.5}},
    "rnn_relu_loss_at_last_mean_adagrad_clip_value": {
        "activation": "relu", "hidden_size": 3, "loss_at": "last", "reduction": "mean",
        "data": {"inputs": [[1, 0], [0, 1], [1, 1], [0, 0], [1, 0]], "targets": [0, 1, 1, 0, 1]},
        "truncation": {"k1": 1, "k2": 3}, "optimizer": {"name": "adagrad", "lr": 0.1},
        "clip": {"mode": "value", "max": 0.05}},
    # mini-batches: every example's states and losses, the shares summed by autograd
    "lstm_batch_of_texts_truncated_bptt_2_3_mean_adam_clip_norm": {
        "cell": "lstm", "hidden_size": 3, "reduction": "mean",
        "data": {"batch": [{"text": "machine"}, {"text": "learner"}, {"text": "network"}]},
        "truncation": {"k1": 2, "k2": 3}, "optimizer": {"name": "adam", "lr": 0.05},
        "clip": {"mode": "norm", "max": 0.5}},
    "rnn_randomized_truncation_p_half": {
        "hidden_size": 3, "seed": 3, "data": {"text": "machine learning"},
        "truncation": {"mode": "randomized", "p": 0.5}},
    "gru_batch_of_series_full_bptt_sum": {
        "cell": "gru", "hidden_size": 4,
        "data": {"batch": [{"series": [1, 2, 3, 4, 5]}, {"series": [2, 4, 6, 8, 10]}]}},
    # stacks: every layer's states, layer j reading layer j-1's h(t)
    "lstm_three_layers_truncated_bptt_2_3_adam_clip_norm": {
        "cell": "lstm", "num_layers": 3, "hidden_size": 3, "truncation": {"k1": 2, "k2": 3},
        "optimizer": {"name": "adam", "lr": 0.05}, "clip": {"mode": "norm", "max": 0.5}},
    "gru_two_layers_batch_randomized_mean": {
        "cell": "gru", "num_layers": 2, "hidden_size": 3, "reduction": "mean", "seed": 3,
        "data": {"batch": [{"text": "machine"}, {"text": "learner"}]},
        "truncation": {"mode": "randomized", "p": 0.5}},
    "rnn_four_layers_series_with_h0_rows": {
        "num_layers": 4, "hidden_size": 2, "data": {"series": [1, 2, 3, 4, 5, 6]},
        "h0": [[0.1, -0.2], [0.3, 0.0], [-0.1, 0.2], [0.0, 0.4]]},
    # bidirectional: each layer's reverse network over t = T..1, the whole sequence at once
    "lstm_two_layers_bidirectional_adam_clip_norm": {
        "cell": "lstm", "num_layers": 2, "bidirectional": True, "hidden_size": 3,
        "data": {"words": "the cat sat on the mat"}, "optimizer": {"name": "adam", "lr": 0.05},
        "clip": {"mode": "norm", "max": 0.5}},
    "gru_bidirectional_batch_mean": {
        "cell": "gru", "bidirectional": True, "hidden_size": 3, "reduction": "mean",
        "data": {"batch": [{"text": "machine"}, {"text": "learner"}]}},
    "rnn_bidirectional_series_loss_at_last_momentum_clip_value": {
        "bidirectional": True, "hidden_size": 3, "loss_at": "last",
        "data": {"series": [1, 2, 3, 4, 5, 6]}, "optimizer": {"name": "momentum", "lr": 0.1},
        "clip": {"mode": "value", "max": 0.05}},
    "rnn_tanh_two_layers_bidirectional_batch_of_series_with_h0_rows": {
        "num_layers": 2, "bidirectional": True, "hidden_size": 2,
        "data": {"batch": [{"series": [1, 2, 3, 4]}, {"series": [4, 3, 2, 1]}]},
        "h0": [[0.1, -0.2], [0.3, 0.0], [-0.1, 0.2], [0.0, 0.4]]},
}


def export(client, request: dict):
    return client.post("/api/v1/export/torch", json=request)


def comparisons(request: dict) -> list[str]:
    """What the script must compare, in order, from the engine's own result."""
    result = run_trace(request)
    names = list(result["params"])
    clipped = result["config"]["clip"] is not None
    expected = []
    updates = iter(result["updates"])
    steps: list[dict] = []  # the forward events since the last update
    # the unit whose state comes last at step t, before the loss: the top layer's (reverse)
    top = (result["sizes"].get("layers", 1), "reverse" if "directions" in result["sizes"]
           else None)
    for event in result["events"]:
        if event["kind"] == "forward":
            steps.append(event)
        elif event["kind"] == "update":
            # the script steps every example at step t before step t + 1, through every
            # layer of a stack (each layer's forward network, then its reverse one) before
            # the loss
            for step in sorted(steps, key=lambda e: (e["t"], e.get("example", 0),
                                                     e.get("layer", 1),
                                                     e.get("direction") == "reverse")):
                t = step["t"]
                of = f" of example {step['example']}" if "example" in step else ""
                layer = f" of layer {step['layer']}" if "layer" in step else ""
                if "direction" in step:
                    layer = f" of layer {step.get('layer', 1)}, {step['direction']}"
                expected += [f"h({t}){layer}{of}"] + (
                    [f"c({t}){layer}{of}"] if "c" in step else [])
                if (step.get("layer", 1), step.get("direction")) == top:
                    expected += [f"L({t}){of}"]
            steps = []
            update = next(updates)
            first, t = update["window"][0], update["t"]
            span = f"(window {first}..{t})"
            expected += [f"window loss {span}"] + [f"dL/d{n} {span}" for n in names]
            expected += [f"gradient norm {span}"]
            expected += [f"clipped dL/d{n} {span}" for n in names] if clipped else []
            expected += [f"{n} after the update at t = {t}" for n in names]
    return expected


# ---- the script, without PyTorch ------------------------------------------------------------


@pytest.mark.parametrize("name", SCENARIOS)
def test_script_is_python_that_imports_only_torch(name):
    tree = ast.parse(torch_script(SCENARIOS[name]))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"torch"}


def test_script_writes_only_the_chosen_cell_loss_clipping_and_optimizer():
    text = torch_script(SCENARIOS["gru_series_chunked_adam_clip_norm"])
    assert "torch.optim.Adam(" in text and "torch.optim.SGD(" not in text
    assert "clip_grad_norm_(live, max_norm=0.5)" in text and "clip_grad_value_" not in text
    assert '"W_z"' in text and '"W_f"' not in text  # the GRU's parameters, not the LSTM's
    assert "0.5 * ((o - y) ** 2).sum()" in text and "log_softmax" not in text


def test_script_embeds_the_engines_numbers_exactly():
    request = SCENARIOS["lstm_words_truncated_bptt_2_3_momentum"]
    result = run_trace(request)
    text = torch_script(request)
    namespace: dict = {}
    data_only = text.split("\nimport torch\n", 1)[1].replace("torch.set_default_dtype", "#")
    exec(compile(data_only.split("\ndef step(")[0], "script", "exec"), namespace)  # constants
    assert namespace["INPUTS"] == result["inputs"].tolist()
    assert namespace["INITIAL"] == {n: v.tolist() for n, v in result["params"].items()}
    assert (namespace["K1"], namespace["K2"]) == (2, 3)
    expected = text.split("\nEXPECTED = ", 1)[1].split("\nif __name__", 1)[0]
    updates = ast.literal_eval(expected)["updates"]
    assert updates[1]["grads"]["W_f"] == result["updates"][1]["grads"]["W_f"].tolist()
    assert updates[1]["params_after"]["V"] == result["updates"][1]["params_after"]["V"].tolist()


@pytest.mark.parametrize("name", SCENARIOS)
def test_size_estimate_is_within_a_third_of_the_script(name):
    size = len(torch_script(SCENARIOS[name]).encode())
    assert size / 1.33 <= estimate_script_bytes(SCENARIOS[name]) <= size * 1.33


# ---- the API and the CLI --------------------------------------------------------------------


def test_post_export_torch_answers_the_engines_script_as_a_python_download(client):
    request = SCENARIOS["lstm_words_truncated_bptt_2_3_momentum"]
    response = export(client, request)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/x-python; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="bptt_check_in_pytorch.py"')
    assert response.content == torch_script(request, version=__version__).encode()


def test_post_export_torch_takes_the_trace_body_detail_included(client):
    request = SCENARIOS["rnn_machine_full_bptt_sgd"]
    plain = export(client, request)
    assert export(client, {**request, "detail": "norms"}).content == plain.content


def test_post_export_torch_rejects_a_bad_request_as_trace_does(client):
    bad = {"cell": "lstm", "truncation": {"k1": 3, "k2": 2}}
    response = export(client, bad)
    assert response.status_code == 422
    assert response.json() == client.post("/api/v1/trace", json=bad).json()


def test_post_export_torch_refuses_a_script_over_the_response_limit_with_413():
    from fastapi.testclient import TestClient

    with TestClient(create_app(Settings(max_response_bytes=20_000))) as small:
        response = export(small, SCENARIOS["lstm_words_truncated_bptt_2_3_momentum"])
    assert response.status_code == 413
    (error,) = response.json()["detail"]
    assert error["type"] == "response_too_large"
    assert "BPTT_MAX_RESPONSE_BYTES" in error["msg"] and "hidden_size" in error["msg"]


def test_cli_export_torch_prints_the_apis_bytes(client, tmp_path):
    request = SCENARIOS["gru_series_chunked_adam_clip_norm"]
    path = tmp_path / "req.json"
    path.write_text(json.dumps(request))
    run = subprocess.run([str(BIN / "bptt-studio"), "export-torch", "--request", str(path)],
                         capture_output=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr.decode()
    assert run.stdout == export(client, request).content


def test_cli_export_torch_bad_request_prints_the_error_json_and_exits_2(client):
    run = subprocess.run([str(BIN / "bptt-studio"), "export-torch", "--request", "-"],
                         input=b'{"cell": "lstmx"}', capture_output=True, timeout=60,
                         check=False)
    assert run.returncode == 2 and run.stdout == b""
    assert json.loads(run.stderr) == export(client, {"cell": "lstmx"}).json()


# ---- running it in PyTorch ------------------------------------------------------------------


@pytest.fixture(scope="session")
def torch_python() -> str:
    path = os.environ.get("TORCH_PYTHON")
    if not path:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the PyTorch check: .ci/run makes a torch venv and sets "
                        "TORCH_PYTHON")
        pytest.skip("PyTorch check not run: TORCH_PYTHON is not set. Make an interpreter with "
                    "torch (python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install "
                    "torch==2.13.0 numpy) and run TORCH_PYTHON=/tmp/torchvenv/bin/python make test")
    probe = subprocess.run([path, "-c", "import torch; print(torch.__version__)"],
                           capture_output=True, text=True, timeout=120, check=False)
    if probe.returncode != 0:
        pytest.fail(f"TORCH_PYTHON={path} cannot import torch:\n{probe.stderr}")
    return path


def run_script(torch_python: str, text: str, folder: Path) -> subprocess.CompletedProcess:
    script = folder / "bptt_check_in_pytorch.py"
    script.write_text(text, encoding="utf-8")
    # from an empty folder, with nothing of this project on the path: the script stands alone
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([torch_python, script.name], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENARIOS)
def test_exported_script_run_in_pytorch_prints_every_comparison_and_all_match(
        client, torch_python, tmp_path, name):
    request = SCENARIOS[name]
    run = run_script(torch_python, export(client, request).text, tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert lines[-1] == "all match"
    shown = [re.sub(r"\s+largest difference .*$", "", line[5:]) for line in lines[:-1]]
    assert all(line.startswith("ok   ") for line in lines[:-1])
    assert [line.strip() for line in shown] == comparisons(request)


def test_the_clipping_scenarios_really_clip():
    for name in ("gru_series_chunked_adam_clip_norm",
                 "rnn_relu_loss_at_last_mean_adagrad_clip_value"):
        assert any(u["clipped"] for u in run_trace(SCENARIOS[name])["updates"]), name


@pytest.mark.slow
def test_exported_script_names_what_differs_and_exits_1(client, torch_python, tmp_path):
    text = export(client, SCENARIOS["rnn_machine_full_bptt_sgd"]).text
    # Change one number BPTT Studio "computed": the first entry of V after the update.
    tampered, count = re.subn(r'("params_after": \{\s*"W": \[\[)(-?[0-9.e+-]+)',
                              lambda m: m.group(1) + repr(float(m.group(2)) + 1e-3), text,
                              count=1)
    assert count == 1
    run = run_script(torch_python, tampered, tmp_path)
    assert run.returncode == 1
    differ = [line for line in run.stdout.splitlines() if line.startswith("DIFF")]
    assert len(differ) == 1 and "W after the update at t = 6" in differ[0]
    assert run.stdout.splitlines()[-1] == "1 comparison(s) differ: W after the update at t = 6"


@pytest.mark.slow
def test_a_bidirectional_script_names_a_reverse_networks_gradient_that_differs(
        client, torch_python, tmp_path):
    text = export(client, SCENARIOS["lstm_two_layers_bidirectional_adam_clip_norm"]).text
    # Change one gradient BPTT Studio "computed": the first entry of layer 2's reverse W_f.
    tampered, count = re.subn(r'("grads": \{.*?"W_f_l2_rev": \[\[)(-?[0-9.e+-]+)',
                              lambda m: m.group(1) + repr(float(m.group(2)) + 1e-3), text,
                              count=1, flags=re.DOTALL)
    assert count == 1
    run = run_script(torch_python, tampered, tmp_path)
    assert run.returncode == 1
    differ = [line for line in run.stdout.splitlines() if line.startswith("DIFF")]
    assert len(differ) == 1 and "dL/dW_f_l2_rev (window 1..5)" in differ[0]
    assert run.stdout.splitlines()[-1] == "1 comparison(s) differ: dL/dW_f_l2_rev (window 1..5)"


# ---- the page's button ----------------------------------------------------------------------


@pytest.mark.browser
def test_page_button_downloads_the_apis_script_for_the_shown_scenario(page, live_server,
                                                                      console_errors, client):
    page.goto(f"{live_server}/?text=abcab&cell=gru&H=3&k1=2&k2=3")
    page.wait_for_selector("#studio[data-ready=true]", timeout=20_000)
    with page.expect_response("**/api/v1/export/torch") as answer, \
            page.expect_download() as download:
        page.click("#btn-export-torch")
    sent = answer.value.request.post_data_json
    assert download.value.suggested_filename == "bptt_check_in_pytorch.py"
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert sent["cell"] == "gru"
    assert text == export(client, sent).text
    page.wait_for_selector("#torch-status[data-i18n='check.torchDone']")
    assert page.locator("#btn-export-torch").is_enabled()
    assert console_errors == []
