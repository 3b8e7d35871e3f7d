"""The ``bptt-studio`` command.

    bptt-studio serve [--host H] [--port P] [--workers N]     the web app and the JSON API
    bptt-studio trace --preset machine [--detail norms]        POST /api/v1/trace, offline
    bptt-studio trace --request req.json   (or - for stdin)
    bptt-studio train --preset machine --iterations 200        POST /api/v1/train, offline
    bptt-studio neuron --preset machine --t 3 --unit 1         POST /api/v1/neuron, offline
    bptt-studio export-torch --request req.json > check.py     POST /api/v1/export/torch
    bptt-studio sample --preset machine --iterations 200       POST /api/v1/sample

Every POST endpoint of the API has its command, named as its path (export/csv is export-csv),
made from its declaration (app/endpoints/registry.py): it prints exactly the bytes the API
would answer for the same request (same validation, limits, serialiser); a bad request prints
the API's error JSON on stderr and exits with status 2. Every other bad invocation (an option,
an environment variable such as PORT or BPTT_MAX_HIDDEN_SIZE, a closed standard input) prints
one line, ``bptt-studio: error: ...``, and exits with status 2 too. Output into a pipe that
closes early (``| head``) ends quietly with the status of a filter stopped by SIGPIPE (141).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from bptt_studio.endpoints.endpoint import Computation

EXIT_BAD_REQUEST = 2
EXIT_CLOSED_PIPE = 128 + 13  # what a shell reports for a filter ended by SIGPIPE
EXIT_INTERRUPTED = 128 + 2
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")

# One BLAS thread per process, set before NumPy is imported. Under concurrent requests a
# multi-threaded BLAS in every request oversubscribes the cores (the LSTM H=64 T=100 trace:
# 4.2 requests/s on one worker with OpenBLAS's default threads, 9.5 with one); and the last
# bits of a threaded GEMM depend on the thread count, so pinning it keeps the same request
# byte-identical across replicas on machines of any size. Parallelism comes from workers.
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bptt_studio.serving.protocol import PROTOCOL  # slow clients, JSON 400

    if args.workers > 1:
        return _serve_workers(args)
    uvicorn.run(
        "bptt_studio.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        proxy_headers=True,
        http=PROTOCOL,
    )
    return 0


def _serve_workers(args: argparse.Namespace) -> int:
    """uvicorn.run's multi-worker path, with a listening socket that says it is TCP.

    uvicorn binds the shared socket with proto 0; the connections it accepts inherit that,
    asyncio then does not set TCP_NODELAY on them, and every keep-alive response waits for
    the client's delayed ACK: 44 ms per request here with 2 workers against 1.7 ms with one
    (uvicorn issue #3149). The same socket, re-wrapped as IPPROTO_TCP, fixes that.
    """
    import inspect
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from bptt_studio.serving.protocol import PROTOCOL

    config = uvicorn.Config("bptt_studio.main:app", host=args.host, port=args.port,
                            workers=args.workers, log_level=args.log_level, proxy_headers=True,
                            http=PROTOCOL)
    sock = config.bind_socket()
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto != socket.IPPROTO_TCP:
        sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        sock.set_inheritable(True)
    if "target" in inspect.signature(Multiprocess).parameters:  # uvicorn before 0.36
        supervisor = Multiprocess(  # type: ignore[call-arg]
            config, target=uvicorn.Server(config).run, sockets=[sock])
    else:
        supervisor = Multiprocess(config, sockets=[sock])
    with contextlib.suppress(KeyboardInterrupt):
        supervisor.run()
    return 0


class UsageError(Exception):
    """A bad invocation: one line on stderr, exit status 2."""


def _read_body(args: argparse.Namespace, max_bytes: int | None = None) -> Any:
    """The request as JSON, read up to the API's body limit (the file may be endless)."""
    from bptt_studio.core import jsonio
    from bptt_studio.core.settings import get_settings
    from bptt_studio.serving.body import too_large

    if max_bytes is None:
        max_bytes = get_settings().max_body_bytes
    if args.preset is not None:
        return {"data": {"preset": args.preset}}
    if args.request is None:
        return {}
    if args.request == "-":
        if sys.stdin is None or sys.stdin.closed:
            raise UsageError("--request -: standard input is closed; give a file, or send the "
                             "request on standard input")
        raw = sys.stdin.buffer.read(max_bytes + 1)
    else:
        with open(args.request, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise too_large(max_bytes, None)
    return jsonio.parse_body(raw)


def _answer(args: argparse.Namespace, endpoint: Computation) -> int:
    """Print the bytes POST /api/v1/<path> answers: the request read (up to the API's body
    limit), the command's options set over it, validated by the endpoint's body model, then
    admitted and run in this process; a bad request prints the API's error JSON on standard
    error and exits with status 2."""
    from pydantic import ValidationError

    from bptt_studio.core.errors import ApiError, engine_error, error_body, validation_errors
    from bptt_studio.core.settings import get_settings
    from bptt_studio.endpoints.schemas import build_schemas
    from bptt_studio.engine import RequestError

    settings = get_settings()
    schemas = build_schemas(settings)
    model = endpoint.body(schemas, settings)
    try:
        body = _read_body(args, settings.max_body_bytes)
        if isinstance(body, dict):
            given = {option.field: getattr(args, option.field)
                     for option in endpoint.command.options}
            body = {**body, **{k: v for k, v in given.items() if v is not None}}
        try:
            validated = model.model_validate(body, from_attributes=True)  # as FastAPI does
        except ValidationError as exc:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            return _fail(error_body(validation_errors(errors, model, schemas.limits,
                                                      schemas.tags)))
        output = endpoint.compute(*endpoint.split(validated), settings)
    except ApiError as exc:
        return _fail(exc.body())
    except RequestError as exc:
        return _fail(error_body([engine_error(exc.loc, exc.msg)]))
    except OSError as exc:
        raise UsageError(f"cannot read the request: {exc}") from None
    sys.stdout.buffer.write(output)
    if sys.stdout.isatty():
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()
    return 0


def _fail(body: dict[str, Any]) -> int:
    from bptt_studio.core import jsonio

    sys.stderr.buffer.write(jsonio.dumps(body) + b"\n")
    sys.stderr.flush()
    return EXIT_BAD_REQUEST


def _add_request_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", help="a scenario id (see GET /api/v1/presets)")
    source.add_argument("--request", metavar="FILE",
                        help="a JSON request as for the API; - reads standard input")


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return port


def _workers(text: str) -> int:
    try:
        workers = int(text)
    except ValueError:
        workers = 0
    if not 1 <= workers <= 1024:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of worker processes "
                                         f"(1 to 1024)")
    return workers


def _log_level(text: str) -> str:
    if text.lower() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a log level ({', '.join(LOG_LEVELS)})")
    return text.lower()


# serve's options that default to an environment variable: (variable, default, check)
SERVE_ENVIRONMENT: dict[str, tuple[str, str, Callable[[str], Any]]] = {
    "port": ("PORT", "8000", _port),
    "workers": ("WEB_CONCURRENCY", "1", _workers),
    "log_level": ("LOG_LEVEL", "info", _log_level),
}


def _check_serve_environment() -> None:
    """PORT, WEB_CONCURRENCY and LOG_LEVEL, judged before the options (even before --help)."""
    for variable, default, check in SERVE_ENVIRONMENT.values():
        try:
            check(os.environ.get(variable, default))
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"the environment variable {variable}: {exc}") from None


def _check_settings() -> None:
    """The BPTT_* settings, each bad one named by its environment variable."""
    from pydantic import ValidationError

    from bptt_studio.core.settings import get_settings

    try:
        get_settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            name = "BPTT_" + "_".join(str(part) for part in error["loc"]).upper()
            given = os.environ.get(name)
            problems.append(f"{name}={given!r}: {error['msg']}" if given is not None
                            else f"{name}: {error['msg']}")
        raise UsageError("bad setting: " + "; ".join(problems)) from None


def build_parser(endpoints: bool = True) -> argparse.ArgumentParser:
    """The command's parser: ``serve`` and, with ``endpoints``, a command per POST endpoint
    (the registry's; importing it imports NumPy and the engine, which ``serve`` leaves to its
    workers)."""
    parser = _Parser(prog="bptt-studio", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    def env_default(option: str) -> str:
        """The variable's text: argparse converts (and checks) a string default with the
        option's type, only when the option is not given."""
        variable, default, _ = SERVE_ENVIRONMENT[option]
        return os.environ.get(variable, default)

    serve = commands.add_parser("serve", help="serve the web app and the JSON API")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=_port, default=env_default("port"),
                       help="TCP port (0 to 65535; default: PORT, or 8000)")
    serve.add_argument(
        "--workers", type=_workers, default=env_default("workers"),
        help="identical worker processes (the API is stateless; default: WEB_CONCURRENCY, "
             "or 1)",
    )
    serve.add_argument("--log-level", type=_log_level, default=env_default("log_level"),
                       help=f"one of {', '.join(LOG_LEVELS)} (default: LOG_LEVEL, or info)")
    serve.set_defaults(func=_serve)

    if endpoints:
        from bptt_studio.endpoints.registry import COMPUTATIONS

        for endpoint in COMPUTATIONS.values():
            command = commands.add_parser(endpoint.command_name, help=endpoint.command.help)
            _add_request_options(command)
            for option in endpoint.command.options:
                # a switch left out is None, as every option left out: the body's own value
                flag: dict[str, Any] = {"default": None} if option.argparse.get(
                    "action") == "store_true" else {}
                command.add_argument(option.flag, **flag, **option.argparse)
            command.set_defaults(func=lambda args, endpoint=endpoint: _answer(args, endpoint))
    return parser


def _command(argv: list[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the exit's flush is silent too."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: list[str] | None = None) -> int:
    for name in BLAS_THREADS:
        os.environ.setdefault(name, "1")
    argv = sys.argv[1:] if argv is None else argv
    try:
        if _command(argv) == "serve":
            _check_serve_environment()
        _check_settings()
        args = build_parser(endpoints=_command(argv) != "serve").parse_args(argv)
        return int(args.func(args))
    except UsageError as exc:
        sys.stderr.write(f"bptt-studio: error: {exc}\n")
        return EXIT_BAD_REQUEST
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_CLOSED_PIPE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
