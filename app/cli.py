"""The ``bptt-studio`` command.

    bptt-studio serve [--host H] [--port P] [--workers N]     the web app and the JSON API
    bptt-studio trace --preset machine [--detail norms]        POST /api/v1/trace, offline
    bptt-studio trace --request req.json   (or - for stdin)
    bptt-studio train --preset machine --iterations 200        POST /api/v1/train, offline
    bptt-studio gradcheck --request req.json                   POST /api/v1/gradcheck, offline
    bptt-studio export-torch --request req.json > check.py     POST /api/v1/export/torch

``trace``, ``train`` and ``gradcheck`` print exactly the JSON the API would return for the same
request (same validation, limits, serialiser); a bad request prints the API's error JSON on
stderr and exits with status 2.
"""

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from typing import Any

from bptt_studio import derived_cli, export

EXIT_BAD_REQUEST = 2

# One BLAS thread per process, set before NumPy is imported. Under concurrent requests a
# multi-threaded BLAS in every request oversubscribes the cores (the LSTM H=64 T=100 trace:
# 4.2 requests/s on one worker with OpenBLAS's default threads, 9.5 with one); and the last
# bits of a threaded GEMM depend on the thread count, so pinning it keeps the same request
# byte-identical across replicas on machines of any size. Parallelism comes from workers.
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.workers > 1:
        return _serve_workers(args)
    uvicorn.run(
        "bptt_studio.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        proxy_headers=True,
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

    config = uvicorn.Config("bptt_studio.main:app", host=args.host, port=args.port,
                            workers=args.workers, log_level=args.log_level, proxy_headers=True)
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


def _read_body(args: argparse.Namespace) -> Any:
    from bptt_studio import jsonio

    if args.preset is not None:
        return {"data": {"preset": args.preset}}
    if args.request is None:
        return {}
    if args.request == "-":
        raw = sys.stdin.buffer.read()
    else:
        with open(args.request, "rb") as handle:
            raw = handle.read()
    return jsonio.parse_body(raw)


def _run(args: argparse.Namespace, overrides: dict[str, Any], model_of: Callable[[Any], Any],
         endpoint: str) -> int:
    """Validate like the API (schema, then the engine), run, print the API's bytes."""
    from pydantic import ValidationError

    from bptt_studio import service
    from bptt_studio.engine import RequestError
    from bptt_studio.errors import ApiError, engine_error, error_body, validation_errors
    from bptt_studio.schemas import build_schemas
    from bptt_studio.settings import get_settings

    settings = get_settings()
    schemas = build_schemas(settings)
    model = model_of(schemas)
    try:
        body = _read_body(args)
        if isinstance(body, dict):
            body = {**body, **{k: v for k, v in overrides.items() if v is not None}}
        try:
            validated = model.model_validate(body, from_attributes=True)  # as FastAPI does
        except ValidationError as exc:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            raise _CliError(error_body(validation_errors(errors, model, schemas.limits,
                                                         schemas.tags))) from None
        output = service.compute(endpoint, *service.split(validated), settings)
    except ApiError as exc:
        return _fail(exc.body())
    except RequestError as exc:
        return _fail(error_body([engine_error(exc.loc, exc.msg)]))
    except _CliError as exc:
        return _fail(exc.body)
    except OSError as exc:
        sys.stderr.write(f"bptt-studio: cannot read the request: {exc}\n")
        return EXIT_BAD_REQUEST
    sys.stdout.buffer.write(output)
    if sys.stdout.isatty():
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()
    return 0


class _CliError(Exception):
    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__("bad request")
        self.body = body


def _fail(body: dict[str, Any]) -> int:
    from bptt_studio import jsonio

    sys.stderr.buffer.write(jsonio.dumps(body) + b"\n")
    sys.stderr.flush()
    return EXIT_BAD_REQUEST


def _trace(args: argparse.Namespace) -> int:
    return _run(args, {"detail": args.detail}, lambda s: s.trace_body, "trace")


def _train(args: argparse.Namespace) -> int:
    overrides = {"iterations": args.iterations, "record_every": args.record_every,
                 "include_trace": True if args.include_trace else None, "detail": args.detail}
    return _run(args, overrides, lambda s: s.train_body, "train")


def _gradcheck(args: argparse.Namespace) -> int:
    return _run(args, {}, lambda s: s.trace_request, "gradcheck")


def _add_request_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", help="a scenario id (see GET /api/v1/presets)")
    source.add_argument("--request", metavar="FILE",
                        help="a JSON request as for the API; - reads standard input")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bptt-studio", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the web app and the JSON API")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument(
        "--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1")),
        help="identical worker processes (the API is stateless)",
    )
    serve.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "info"))
    serve.set_defaults(func=_serve)

    detail_help = 'full matrices, their norms, or "auto" (full while small), as the API'
    trace = commands.add_parser("trace", help="print the JSON of POST /api/v1/trace")
    _add_request_options(trace)
    trace.add_argument("--detail", choices=["auto", "full", "norms"], help=detail_help)
    trace.set_defaults(func=_trace)

    train = commands.add_parser("train", help="print the JSON of POST /api/v1/train")
    _add_request_options(train)
    train.add_argument("--iterations", type=int, help="training passes (default 100)")
    train.add_argument("--record-every", type=int, help="record the curves every N passes")
    train.add_argument("--include-trace", action="store_true",
                       help="also the trace of one more pass from the trained parameters")
    train.add_argument("--detail", choices=["auto", "full", "norms"], help=detail_help)
    train.set_defaults(func=_train)

    gradcheck = commands.add_parser("gradcheck", help="print the JSON of POST /api/v1/gradcheck")
    _add_request_options(gradcheck)
    gradcheck.set_defaults(func=_gradcheck)
    derived_cli.add_commands(commands)  # neuron, export-csv
    export.add_command(commands)  # export-torch
    return parser


def main(argv: list[str] | None = None) -> int:
    for name in BLAS_THREADS:
        os.environ.setdefault(name, "1")
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
