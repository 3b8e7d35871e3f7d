"""Record the API's answers to a few hundred varied requests, or compare them with a recording.

    .venv/bin/python tools/record_responses.py record /tmp/responses-base
    .venv/bin/python tools/record_responses.py compare /tmp/responses-base

A refactoring that promises "the same responses" is checked with it: record on the commit
before, compare on the commit after. The requests are drawn from a fixed seed across every
cell, data shape, schedule, loss, optimizer, clipping, detail and endpoint (/trace, /train,
/gradcheck, /neuron, /params, /export/torch, /export/csv), plus refused requests (422s),
large ones the cost model admits or refuses (naming its reductions), the presets and the
OpenAPI document; each answer is run in-process through the app (FastAPI's TestClient,
the real computation processes) and kept as its status, media type and body, byte for byte.

A recording is a folder of ``NNNN-<endpoint>.json`` files ({"request", "status",
"content_type"}) with the body beside it in ``NNNN-<endpoint>.body``. ``compare`` records
again into memory and lists every answer that differs, its first differing byte; it exits 1
when any does.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

ENDPOINTS = ("trace", "train", "gradcheck", "neuron", "params", "export/torch", "export/csv")
CELLS = ("rnn", "lstm", "gru")  # the cells of the base commit: a recording outlives a registry
WORDS = "the cat sat on the mat and the dog sat on the log"
DEADLINE_S = 300.0


def data_of(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(("text", "text", "words", "series", "preset", "arrays"))
    if kind == "text":
        return {"text": rng.choice(("machine", "hello", "abcabcab", "bptt studio", "aab"))}
    if kind == "words":
        return {"words": " ".join(WORDS.split()[:rng.randint(3, 10)])}
    if kind == "series":
        return {"series": [round(rng.uniform(-2, 2), 3) for _ in range(rng.randint(3, 9))]}
    if kind == "preset":
        return {"preset": rng.choice(("machine", "sentence", "series"))}
    T, D, K = rng.randint(2, 6), rng.randint(1, 3), rng.randint(2, 3)
    return {"inputs": [[round(rng.uniform(-1, 1), 2) for _ in range(D)] for _ in range(T)],
            "targets": [rng.randrange(K) for _ in range(T)]}


def request_of(rng: random.Random) -> dict[str, Any]:
    """One valid request (as far as its fields go) with a varied mix of options."""
    request: dict[str, Any] = {"cell": rng.choice(CELLS), "hidden_size": rng.randint(1, 5),
                               "data": data_of(rng), "seed": rng.randrange(100)}
    if request["cell"] == "rnn" and rng.random() < 0.5:
        request["activation"] = rng.choice(("tanh", "relu", "sigmoid"))
    if rng.random() < 0.4:
        k1 = rng.randint(1, 3)
        request["truncation"] = {"k1": k1, "k2": rng.choice((None, k1, k1 + rng.randint(1, 3)))}
    if rng.random() < 0.4:
        name = rng.choice(("sgd", "momentum", "adagrad", "adam"))
        request["optimizer"] = {"name": name, "lr": rng.choice((0.01, 0.1, 0.5))}
    if rng.random() < 0.3:
        request["clip"] = {"mode": rng.choice(("norm", "value")), "max": rng.choice((0.5, 1.0))}
    if rng.random() < 0.2:
        request["loss_at"] = "last"
    if rng.random() < 0.2:
        request["reduction"] = "mean"
    if rng.random() < 0.2:
        request["spectral_radius"] = rng.choice((0.5, 1.2))
    if rng.random() < 0.2:
        request["forget_bias"] = 1.0
    if rng.random() < 0.15:
        request["diagnostics"] = False
    elif rng.random() < 0.15:
        request["jacobian_norms"] = True
    return request


def body_of(rng: random.Random, endpoint: str) -> dict[str, Any]:
    body = request_of(rng)
    if endpoint in ("trace", "export/csv", "train") and rng.random() < 0.5:
        body["detail"] = rng.choice(("auto", "full", "norms"))
    if endpoint == "train":
        body["iterations"] = rng.randint(1, 12)
        body["record_every"] = rng.randint(1, 3)
        body["include_trace"] = rng.random() < 0.3
    if endpoint == "neuron":
        body["t"] = rng.randint(1, 3)
        body["unit"] = rng.randrange(body["hidden_size"])
        body["convention"] = rng.choice(("gradient", "haykin"))
    if endpoint == "gradcheck":
        body.pop("diagnostics", None)
        body.pop("jacobian_norms", None)
    return body


def refused(rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    """Requests the API refuses, each for another reason."""
    return [
        ("trace", {"cell": "mgu"}),
        ("trace", {"cell": "rnn", "hidden_size": 0}),
        ("trace", {"cell": "rnn", "c0": [0.0, 0.0, 0.0, 0.0]}),
        ("trace", {"truncation": {"k1": 3, "k2": 2}}),
        ("trace", {"data": {"text": ""}}),
        ("trace", {"params": {"W": [[1.0]]}}),
        ("neuron", {"t": 99, "unit": 0}),
        ("neuron", {"t": 1, "unit": 9}),
        ("neuron", {"t": 1, "unit": 0, "convention": "other"}),
        ("train", {"iterations": 0}),
        ("gradcheck", {"cell": "gru", "jacobian_norms": True}),
        ("export/csv", {"detail": "everything"}),
        ("params", {"cell": "lstm", "c0": [1.0]}),
        ("export/torch", {"cell": "nope"}),
    ]


def costly(rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    """Large requests, of every cell and endpoint: the cost model admits or refuses each,
    and a refusal names the reductions it found (binary searches over the estimate)."""
    out = []
    for endpoint in ENDPOINTS:
        for cell in CELLS:
            body = body_of(rng, endpoint)
            body.update(cell=cell, hidden_size=rng.choice((24, 48, 64)),
                        data={"text": "abcdefghij" * rng.randint(10, 20)})
            if endpoint != "gradcheck" and rng.random() < 0.5:
                body.update(jacobian_norms=True, diagnostics=True)
            if rng.random() < 0.5:
                body["truncation"] = {"k1": 1, "k2": rng.randint(10, 60)}
            if endpoint == "train":
                body["iterations"] = rng.choice((50, 500, 2000))
            out.append((endpoint, body))
    return out


def requests(seed: int, per_endpoint: int) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    out = [(endpoint, body_of(rng, endpoint)) for _ in range(per_endpoint)
           for endpoint in ENDPOINTS]
    return out + refused(rng) + costly(rng)


def answers(seed: int, per_endpoint: int) -> list[tuple[str, dict[str, Any], int, str, bytes]]:
    """(name, request, status, media type, body) of every request, and of GET /openapi.json
    and /api/v1/presets."""
    from fastapi.testclient import TestClient

    from bptt_studio.core.settings import Settings
    from bptt_studio.main import create_app

    # The default limits judge every request (the refusals are part of the recording), but
    # the deadline is generous: a busy machine must not turn an answer into a 504.
    settings = Settings(compute_deadline_s=DEADLINE_S, queue_timeout_s=DEADLINE_S)
    out = []
    with TestClient(create_app(settings)) as client:
        for path in ("/openapi.json", "/api/v1/presets"):
            response = client.get(path)
            out.append((path.strip("/").replace("/", "_"), {"GET": path},
                        response.status_code, response.headers.get("content-type", ""),
                        response.content))
        for index, (endpoint, body) in enumerate(requests(seed, per_endpoint)):
            response = client.post(f"/api/v1/{endpoint}", json=body)
            out.append((f"{index:04d}-{endpoint.replace('/', '_')}", body,
                        response.status_code, response.headers.get("content-type", ""),
                        response.content))
    return out


def record(folder: Path, seed: int, per_endpoint: int) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    statuses: dict[int, int] = {}
    for name, request, status, media, body in answers(seed, per_endpoint):
        (folder / f"{name}.json").write_text(json.dumps(
            {"request": request, "status": status, "content_type": media}, indent=1))
        (folder / f"{name}.body").write_bytes(body)
        statuses[status] = statuses.get(status, 0) + 1
    (folder / "recording.json").write_text(json.dumps({"seed": seed,
                                                       "per_endpoint": per_endpoint}))
    print(f"recorded {sum(statuses.values())} answers in {folder} (statuses {statuses})")
    return 0


def compare(folder: Path) -> int:
    settings = json.loads((folder / "recording.json").read_text())
    differ = []
    count = 0
    for name, request, status, media, body in answers(settings["seed"],
                                                      settings["per_endpoint"]):
        count += 1
        meta = json.loads((folder / f"{name}.json").read_text())
        before = (folder / f"{name}.body").read_bytes()
        if meta["request"] != request:
            raise SystemExit(f"{name}: the requests differ from the recording's; record again")
        if (meta["status"], meta["content_type"], before) != (status, media, body):
            first = next((i for i, (a, b) in enumerate(zip(before, body, strict=False))
                          if a != b), min(len(before), len(body)))
            differ.append(name)
            print(f"DIFF {name}: status {meta['status']} -> {status}, {len(before)} -> "
                  f"{len(body)} bytes, first difference at byte {first}: "
                  f"{before[first:first + 60]!r} -> {body[first:first + 60]!r}")
    print(f"{count - len(differ)} of {count} answers byte-identical to {folder}")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("record", "compare"))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--per-endpoint", type=int, default=40,
                        help="requests drawn for each endpoint (7 endpoints)")
    args = parser.parse_args()
    if args.action == "record":
        return record(args.folder, args.seed, args.per_endpoint)
    return compare(args.folder)


if __name__ == "__main__":
    sys.exit(main())
