"""The CLI prints exactly the bytes the API returns, and the API's error JSON for bad requests:
every POST endpoint of the registry has its command."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bptt_studio.cli import EXIT_BAD_REQUEST, EXIT_CLOSED_PIPE, build_parser, main
from bptt_studio.core.settings import get_settings
from bptt_studio.endpoints.registry import COMPUTATIONS
from bptt_studio.endpoints.schemas import build_schemas
from tests.registries import ENDPOINT_OPTIONS, POST_ENDPOINTS

CLI = str(Path(sys.executable).parent / "bptt-studio")


def api_bytes(client, path, body):
    response = client.post(path, json=body, headers={"Accept-Encoding": "identity"})
    return response.status_code, response.content


def flags(options: dict) -> list[str]:
    """The command's options that set these body fields (--record-every for record_every)."""
    return [arg for field, value in options.items()
            for arg in (f"--{field.replace('_', '-')}", str(value))]


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_every_post_endpoint_has_a_command_printing_exactly_the_apis_bytes(client, capsysbinary,
                                                                          path):
    options = ENDPOINT_OPTIONS.get(path, {})
    command = COMPUTATIONS[path].command_name
    assert main([command, "--preset", "machine", *flags(options)]) == 0
    status, expected = api_bytes(client, f"/api/v1/{path}",
                                 {"data": {"preset": "machine"}, **options})
    assert status == 200
    assert capsysbinary.readouterr().out == expected


# A request the schema refuses, and one only the engine refuses (k2 < k1)
BAD_REQUESTS = {"schema": {"hidden_size": 65, "cel": "lstm"},
                "engine": {"truncation": {"k1": 3, "k2": 2}}}


@pytest.mark.parametrize("bad", BAD_REQUESTS)
@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_every_commands_bad_request_is_the_apis_error_on_stderr_with_status_2(
        client, capsysbinary, tmp_path, path, bad):
    body = {**ENDPOINT_OPTIONS.get(path, {}), **BAD_REQUESTS[bad]}
    request = tmp_path / "request.json"
    request.write_text(json.dumps(body))
    assert main([COMPUTATIONS[path].command_name, "--request", str(request)]) == EXIT_BAD_REQUEST
    captured = capsysbinary.readouterr()
    status, expected = api_bytes(client, f"/api/v1/{path}", body)
    assert status == 422
    assert captured.out == b""
    assert captured.err.rstrip(b"\n") == expected


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_every_option_of_a_command_is_a_field_of_its_endpoints_body(path):
    endpoint = COMPUTATIONS[path]
    settings = get_settings()
    body = endpoint.body(build_schemas(settings), settings)
    assert {option.field for option in endpoint.command.options} <= set(body.model_fields)


def test_cli_trace_request_file_with_detail_prints_the_api_response(client, capsysbinary,
                                                                    tmp_path):
    request = {"cell": "gru", "hidden_size": 5, "data": {"words": "a b c a b"}}
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    assert main(["trace", "--request", str(path), "--detail", "norms"]) == 0
    _, expected = api_bytes(client, "/api/v1/trace", {**request, "detail": "norms"})
    assert capsysbinary.readouterr().out == expected


def test_cli_train_switch_includes_the_trace_as_the_api_does(client, capsysbinary):
    assert main(["train", "--preset", "series", "--iterations", "25", "--record-every", "5",
                 "--include-trace"]) == 0
    _, expected = api_bytes(client, "/api/v1/train", {"data": {"preset": "series"},
                                                      "iterations": 25, "record_every": 5,
                                                      "include_trace": True})
    assert capsysbinary.readouterr().out == expected


def test_cli_non_json_request_exits_non_zero_with_error_json(capsysbinary, tmp_path):
    path = tmp_path / "request.json"
    path.write_text("{not json")
    assert main(["trace", "--request", str(path)]) == EXIT_BAD_REQUEST
    error = json.loads(capsysbinary.readouterr().err)["detail"][0]
    assert error["type"] == "json_invalid"


def test_cli_missing_request_file_exits_non_zero(capsys, tmp_path):
    assert main(["trace", "--request", str(tmp_path / "missing.json")]) == EXIT_BAD_REQUEST
    assert "cannot read the request" in capsys.readouterr().err


def test_cli_preset_and_request_are_mutually_exclusive(capsys):
    assert main(["trace", "--preset", "machine", "--request", "r.json"]) == EXIT_BAD_REQUEST
    assert "not allowed with argument" in capsys.readouterr().err


def test_cli_serve_keeps_its_options():
    args = build_parser().parse_args(["serve", "--port", "9001", "--workers", "2"])
    assert (args.port, args.workers, args.host) == (9001, 2, "127.0.0.1")


def test_console_script_reads_the_request_from_stdin(client):
    request = {"data": {"text": "hello"}, "hidden_size": 3}
    completed = subprocess.run([CLI, "trace", "--request", "-"], input=json.dumps(request),
                               capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    _, expected = api_bytes(client, "/api/v1/trace", request)
    assert completed.stdout.encode() == expected


def test_cli_request_that_is_not_an_object_gives_the_api_error(client, capsysbinary, tmp_path):
    path = tmp_path / "request.json"
    path.write_text("[1, 2]")
    assert main(["trace", "--request", str(path)]) == EXIT_BAD_REQUEST
    _, expected = api_bytes(client, "/api/v1/trace", [1, 2])
    assert capsysbinary.readouterr().err.rstrip(b"\n") == expected


# ---------------------------------------------------------------------------------------------
# Every bad invocation: one line on stderr, exit status 2, no traceback.


def one_line_error(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bptt-studio: error: "), err
    assert "Traceback" not in err
    return err


def test_cli_bad_port_in_the_environment_is_one_line_even_with_help(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "abc")
    assert main(["serve", "--help"]) == EXIT_BAD_REQUEST
    assert "PORT" in one_line_error(capsys)


def test_cli_bad_web_concurrency_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv("WEB_CONCURRENCY", "0")
    assert main(["serve"]) == EXIT_BAD_REQUEST
    assert "WEB_CONCURRENCY" in one_line_error(capsys)


def test_cli_bad_setting_in_the_environment_is_one_line_naming_it(monkeypatch, capsys):
    monkeypatch.setenv("BPTT_MAX_HIDDEN_SIZE", "sixty-four")
    get_settings.cache_clear()
    try:
        assert main(["trace", "--preset", "machine"]) == EXIT_BAD_REQUEST
    finally:
        monkeypatch.delenv("BPTT_MAX_HIDDEN_SIZE")
        get_settings.cache_clear()
    assert "BPTT_MAX_HIDDEN_SIZE='sixty-four'" in one_line_error(capsys)


def test_cli_port_out_of_range_is_one_line(capsys):
    assert main(["serve", "--port", "99999"]) == EXIT_BAD_REQUEST
    assert "'99999' is not a port number" in one_line_error(capsys)


def test_cli_without_a_command_is_one_line(capsys):
    assert main([]) == EXIT_BAD_REQUEST
    one_line_error(capsys)


def test_cli_reads_at_most_the_body_limit_from_an_endless_file(capsysbinary):
    assert main(["trace", "--request", "/dev/zero"]) == EXIT_BAD_REQUEST
    error = json.loads(capsysbinary.readouterr().err)["detail"][0]
    assert error["type"] == "body_too_large"


def test_cli_request_from_a_closed_standard_input_is_one_line():
    # `<&-`: the shell starts the command with file descriptor 0 closed
    completed = subprocess.run(["sh", "-c", f'exec "{CLI}" trace --request - <&-'],
                               capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == EXIT_BAD_REQUEST
    assert completed.stderr == ("bptt-studio: error: --request -: standard input is closed; "
                                "give a file, or send the request on standard input\n")


def test_cli_output_into_a_closed_pipe_ends_quietly():
    read_end, write_end = os.pipe()
    os.close(read_end)  # as `| head` does once it has read enough
    try:
        completed = subprocess.run([CLI, "trace", "--preset", "machine"], stdout=write_end,
                                   stderr=subprocess.PIPE, timeout=60, check=False)
    finally:
        os.close(write_end)
    assert completed.returncode == EXIT_CLOSED_PIPE
    assert completed.stderr == b""


def test_cli_deeply_nested_request_is_the_api_error_not_a_traceback(client, capsysbinary,
                                                                   tmp_path):
    path = tmp_path / "request.json"
    body = '{"params": {"W": ' + "[" * 500 + "]" * 500 + "}}"
    path.write_text(body)
    assert main(["trace", "--request", str(path)]) == EXIT_BAD_REQUEST
    expected = client.post("/api/v1/trace", content=body,
                           headers={"Content-Type": "application/json"}).content
    assert capsysbinary.readouterr().err.rstrip(b"\n") == expected


def test_serve_leaves_numpy_and_the_endpoints_to_its_workers():
    # the supervisor of several workers never computes: the registry (NumPy, the engine, every
    # endpoint's models) is imported by the workers alone
    program = ("import contextlib, sys\n"
               "from bptt_studio.cli import main\n"
               "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(None):\n"
               "    main(['serve', '--help'])\n"
               "print(sorted(m for m in ('numpy', 'bptt_studio.endpoints.registry')"
               " if m in sys.modules))\n")
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                               timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
