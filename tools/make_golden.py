"""Write tests/golden/*.json: BPTT numbers computed by PyTorch autograd, independently of engine/.

This script alone needs torch (the CPU build installs with ``pip install torch==2.13.0``; keep
it out of the project's venv):

    python3 -m venv /work/torchvenv && /work/torchvenv/bin/pip install torch==2.13.0 numpy
    TORCH_PYTHON=/work/torchvenv/bin/python make golden
    # or: /work/torchvenv/bin/python tools/make_golden.py

Each case is an engine request (CONTRACT.md) with explicit ``params``, ``h0``/``c0`` and data,
so the engine and torch start from the same float64 numbers. The schedule is BPTT(k1, k2) of
DESIGN.md, written here from the text and not from the engine:

- forward step t uses the parameters current at that time (a snapshot: "version" v(t));
- after step t, when t % k1 == 0 or t == T, the losses of the loss steps since the last update
  are injected ("mean" divides by their number), the window max(1, t-k2+1)..t is replayed from
  the detached state before it (a leaf, so dL/dh(first-1) is its .grad), every parameter
  version the window's steps used is its own leaf, and the window's gradient is the sum of
  their .grad;
- then torch's own clip_grad_norm_ / clip_grad_value_ and one torch.optim optimizer instance
  that lives across all windows of the pass.

The cells are written by hand from DESIGN.md's equations (column vectors, a = W h + U x + b),
not with nn.RNN/LSTM/GRU, whose layouts differ. Loss: cross-entropy -log softmax(o)[y];
mse 1/2 ||o - y||^2 summed over K.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

try:
    import torch
except ImportError:  # the project's venv has no torch, on purpose
    sys.exit(
        "make_golden.py needs PyTorch, and this interpreter has none:\n"
        f"  {sys.executable}\n"
        "Run it with an interpreter that has torch==2.13.0 (the CPU build; any other version\n"
        "downloads a multi-gigabyte CUDA build), for example:\n"
        "  python3 -m venv /work/torchvenv && /work/torchvenv/bin/pip install torch==2.13.0 numpy\n"
        "  /work/torchvenv/bin/python tools/make_golden.py\n"
        "  (or: TORCH_PYTHON=/work/torchvenv/bin/python make golden)"
    )

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
TORCH_VERSION = "2.13.0"
GATES = {"rnn": (), "lstm": ("f", "i", "g", "o"), "gru": ("z", "r", "h")}

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)


# ---------------------------------------------------------------------------------------------
# Building requests (plain JSON values, explicit everything).


def suffix(layer: int) -> str:
    """Layer 1 keeps the one-layer names; layer j >= 2 adds _l<j> (DESIGN.md)."""
    return "" if layer == 1 else f"_l{layer}"


def param_shapes(cell: str, H: int, D: int, K: int, layers: int = 1,
                 bidirectional: bool = False) -> dict[str, tuple[int, ...]]:
    """Each layer's (and its reverse network's, _rev) parameters, then V and b_y."""
    shapes: dict[str, tuple[int, ...]] = {}
    width = 2 * H if bidirectional else H  # what layer j >= 2 and the output read
    for layer in range(1, layers + 1):
        inputs = D if layer == 1 else width  # layer j >= 2 reads h of j-1
        for s in ((suffix(layer), suffix(layer) + "_rev") if bidirectional else (suffix(layer),)):
            if cell == "rnn":
                shapes.update({f"W{s}": (H, H), f"U{s}": (H, inputs), f"b{s}": (H,)})
            else:
                for gate in GATES[cell]:
                    shapes.update({f"W_{gate}{s}": (H, H), f"U_{gate}{s}": (H, inputs),
                                   f"b_{gate}{s}": (H,)})
    shapes.update({"V": (K, width), "b_y": (K,)})
    return shapes


def layer_of(p: dict[str, torch.Tensor], cell: str, layer: int) -> dict[str, torch.Tensor]:
    """One layer's parameters under the one-layer names (what cell_step reads)."""
    names = ["W", "U", "b"] if cell == "rnn" else [f"{kind}_{gate}" for gate in GATES[cell]
                                                    for kind in "WUb"]
    return {name: p[name + suffix(layer)] for name in names}


Stack = tuple[tuple[torch.Tensor, ...], ...]  # [layer][state vector]


def stack_step(cell: str, activation: str, p: dict[str, torch.Tensor], x: torch.Tensor,
               states: Stack) -> Stack:
    """One step through every layer: layer j reads layer j-1's new h (layer 1 reads x)."""
    new = []
    for layer, state in enumerate(states, start=1):
        state = cell_step(cell, activation, layer_of(p, cell, layer), x, state)
        new.append(state)
        x = state[0]
    return tuple(new)


def draw(array: np.ndarray) -> Any:
    """Four decimals: short, readable requests; JSON gives both sides the same float."""
    return np.round(array, 4).tolist()


def make_request(name: str, *, cell: str = "rnn", H: int = 3, T: int = 5, D: int = 3,
                 K: int = 3, activation: str = "tanh", loss: str = "cross_entropy",
                 loss_at: str = "every", reduction: str = "sum",
                 truncation: tuple[int, int] | None = None,
                 optimizer: dict[str, Any] | None = None, clip: dict[str, Any] | None = None,
                 text: str | None = None, h0: bool = True, c0: bool = True,
                 scale: float = 0.9, batch: int = 0,
                 texts: list[str] | None = None, randomized: float | None = None,
                 seed: int = 0, layers: int = 1, bidirectional: bool = False
                 ) -> dict[str, Any]:
    """A request with explicit params, state and data from a Generator seeded by the name;
    ``batch``: a mini-batch of that many sequences of inputs and targets; ``texts``: a
    mini-batch of texts of one length."""
    rng = np.random.default_rng(sum(name.encode()) * 7919 + len(name))
    if texts is not None:
        vocab = sorted(set("".join(texts)))
        D = K = len(vocab)
        T = len(texts[0]) - 1
        data: dict[str, Any] = {"batch": [{"text": one} for one in texts]}
    elif batch and loss == "mse":
        data = {"batch": [{"inputs": draw(rng.uniform(-1, 1, size=(T, D))),
                           "targets": draw(rng.normal(0, 1, size=(T, K)))}
                          for _ in range(batch)]}
    elif batch:
        data = {"batch": [{"inputs": draw(rng.uniform(-1, 1, size=(T, D))),
                           "targets": rng.integers(0, K, size=T).tolist()}
                          for _ in range(batch)]}
    elif text is not None:
        vocab = sorted(set(text))
        D = K = len(vocab)
        T = len(text) - 1
        data = {"text": text}
    elif loss == "mse":
        data = {"inputs": draw(rng.uniform(-1, 1, size=(T, D))),
                "targets": draw(rng.normal(0, 1, size=(T, K)))}
    else:
        data = {"inputs": draw(rng.uniform(-1, 1, size=(T, D))),
                "targets": rng.integers(0, K, size=T).tolist()}
    params = {n: draw(rng.uniform(-scale, scale, size=s))
              for n, s in param_shapes(cell, H, D, K, layers, bidirectional).items()}
    request: dict[str, Any] = {
        "cell": cell, "hidden_size": H, "data": data, "loss": loss, "loss_at": loss_at,
        "reduction": reduction, "optimizer": optimizer or {"name": "sgd", "lr": 0.1},
        "clip": clip, "params": params, "diagnostics": False,
    }
    if cell == "rnn":
        request["activation"] = activation
    if "text" not in data and texts is None:
        request["output_size"] = K
    if truncation is not None:
        request["truncation"] = {"k1": truncation[0], "k2": truncation[1]}
    if randomized is not None:  # xi drawn from the seed (the parameters are explicit)
        request["truncation"] = {"mode": "randomized", "p": randomized}
        request["seed"] = seed
    rows = layers * (2 if bidirectional else 1)
    state_shape = H if rows == 1 else (rows, H)  # a stack's: one row a unit
    request["h0"] = draw(rng.uniform(-0.5, 0.5, size=state_shape)) if h0 else None
    if cell == "lstm":
        request["c0"] = draw(rng.uniform(-0.5, 0.5, size=state_shape)) if c0 else None
    if layers > 1:
        request["num_layers"] = layers
    if bidirectional:
        request["bidirectional"] = True
    # Through JSON and back, so torch reads exactly the floats the engine will read.
    return json.loads(json.dumps(request))


# ---------------------------------------------------------------------------------------------
# The data, decoded here without the engine.


def decode_batch(request: dict[str, Any]) -> list[tuple[torch.Tensor, list[Any]]]:
    """Every sequence of the request: its (T, D) inputs and T targets. A mini-batch's texts
    share one vocabulary, the sorted characters of all of them."""
    data = request["data"]
    if "batch" not in data:
        x, targets, _ = decode(request)
        return [(x, targets)]
    vocab = sorted({ch for item in data["batch"] if "text" in item for ch in item["text"]})
    return [decode({**request, "data": item}, vocab)[:2] for item in data["batch"]]


def decode(request: dict[str, Any], vocab: list[str] | None = None
           ) -> tuple[torch.Tensor, list[Any], int]:
    data = request["data"]
    if "text" in data:
        text = data["text"]
        vocab = vocab or sorted(set(text))
        ids = [vocab.index(ch) for ch in text]
        x = torch.zeros(len(ids) - 1, len(vocab))  # (T, D) one-hot
        for t, i in enumerate(ids[:-1]):
            x[t, i] = 1.0
        targets: list[Any] = ids[1:]
        if request["loss"] == "mse":
            targets = [torch.nn.functional.one_hot(torch.tensor(i), len(vocab)).double()
                       for i in targets]
        return x, targets, len(vocab)
    x = torch.tensor(data["inputs"])  # (T, D)
    if request["loss"] == "mse":
        targets = [torch.tensor(row) for row in data["targets"]]
        return x, targets, len(data["targets"][0])
    return x, list(data["targets"]), int(request["output_size"])


# ---------------------------------------------------------------------------------------------
# The cells, by hand from DESIGN.md. State is (h,) or (h, c); vectors are 1-D of length H.

PHI = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}


def cell_step(cell: str, activation: str, p: dict[str, torch.Tensor], x: torch.Tensor,
              state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    h = state[0]
    if cell == "rnn":
        a = p["W"] @ h + p["U"] @ x + p["b"]
        return (PHI[activation](a),)
    if cell == "lstm":
        c = state[1]
        f = torch.sigmoid(p["W_f"] @ h + p["U_f"] @ x + p["b_f"])
        i = torch.sigmoid(p["W_i"] @ h + p["U_i"] @ x + p["b_i"])
        g = torch.tanh(p["W_g"] @ h + p["U_g"] @ x + p["b_g"])
        o = torch.sigmoid(p["W_o"] @ h + p["U_o"] @ x + p["b_o"])
        c_new = f * c + i * g
        return (o * torch.tanh(c_new), c_new)
    z = torch.sigmoid(p["W_z"] @ h + p["U_z"] @ x + p["b_z"])
    r = torch.sigmoid(p["W_r"] @ h + p["U_r"] @ x + p["b_r"])
    n = torch.tanh(p["W_h"] @ (r * h) + p["U_h"] @ x + p["b_h"])
    return (z * h + (1 - z) * n,)


def step_loss(kind: str, p: dict[str, torch.Tensor], h: torch.Tensor, target: Any) -> torch.Tensor:
    o = p["V"] @ h + p["b_y"]
    if kind == "cross_entropy":
        return -torch.log_softmax(o, dim=0)[target]
    return 0.5 * ((o - target) ** 2).sum()


# ---------------------------------------------------------------------------------------------
# One pass of BPTT(k1, k2) with torch autograd.


def make_optimizer(spec: dict[str, Any], params: list[torch.Tensor]) -> torch.optim.Optimizer:
    name, lr = spec["name"], spec["lr"]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, eps=1e-10)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8)
    raise ValueError(name)


SIGNIFICANT = 12  # digits kept in the expected numbers: far below the tests' 1e-9 tolerance


def rounded(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT}g}")


def as_list(tensor: torch.Tensor) -> Any:
    array = tensor.detach().cpu().numpy()
    return np.vectorize(rounded, otypes=[float])(array).tolist()


def window_reduced(kind: str, reduction: str, logits: list[torch.Tensor],
                   targets: list[Any]) -> torch.Tensor:
    """The window's loss over its injected (example, step) terms: their sum, or their mean.
    Cross-entropy's mean is torch's own reduction="mean" over the stacked terms (what
    nn.CrossEntropyLoss does with a batch); squared error's is the sum over their number
    (torch's MSELoss would also divide by K and drop the 1/2)."""
    if not logits:
        return torch.zeros(())
    o = torch.stack(logits)  # (m, K): one row per injected term
    if kind == "cross_entropy":
        y = torch.tensor([int(t) for t in targets])
        return torch.nn.functional.cross_entropy(o, y, reduction=reduction)
    total = 0.5 * ((o - torch.stack(targets)) ** 2).sum()
    return total / len(logits) if reduction == "mean" else total


def xi_weights(p: float, T: int, seed: int) -> list[float]:
    """Randomized truncation's xi_1..xi_T, as DESIGN.md draws them: one uniform per step from
    numpy's default_rng((seed, 97)), xi_t = 1/p where it is below p, else 0; xi_1 = 1."""
    draws = np.random.default_rng((seed, 97)).random(T)
    return [1.0] + [1.0 / p if u < p else 0.0 for u in draws[1:]]


def scaled_flow(value: torch.Tensor, weight: float) -> torch.Tensor:
    """The same value forward, its gradient times ``weight`` backward: weight * v +
    (1 - weight) * v.detach() (d2l 9.7's xi_t on the recursion)."""
    return weight * value + (1.0 - weight) * value.detach()


def start_grad(dstarts: list[list[list[torch.Tensor]]], i: int, batch: bool) -> Any:
    """dL/d(state i before the window): (H,) of one layer, (layers, H) of a stack; a
    mini-batch's with one row per example first."""
    def one(dstart: list[list[torch.Tensor]]) -> torch.Tensor:
        return dstart[0][i] if len(dstart) == 1 else torch.stack([d[i] for d in dstart])
    if batch:
        return as_list(torch.stack([one(dstart) for dstart in dstarts]))
    return as_list(one(dstarts[0]))


def clip_and_step(request: dict[str, Any], live: dict[str, torch.Tensor],
                  optimizer: torch.optim.Optimizer, grads: dict[str, torch.Tensor],
                  window_loss: float) -> dict[str, Any]:
    """Clip and step with torch's own functions on the live parameters; the update's
    record (its loss, gradients, norm, clipping and the parameters after)."""
    names, clip = list(live), request["clip"]
    for n in names:
        live[n].grad = grads[n].clone()
    params_list = [live[n] for n in names]
    grad_norm = float(torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(grads[n]) for n in names])))
    clip_coef: float | None = 1.0
    clipped = False
    if clip is not None and clip["mode"] == "norm":
        norm = float(torch.nn.utils.clip_grad_norm_(params_list, clip["max"]))
        coef = clip["max"] / (norm + 1e-6)  # torch's own formula, clamped to 1
        clip_coef, clipped = min(coef, 1.0), coef < 1.0
    elif clip is not None:
        clipped = any(bool((grads[n].abs() > clip["max"]).any()) for n in names)
        torch.nn.utils.clip_grad_value_(params_list, clip["max"])
        clip_coef = None  # no single coefficient: each entry is clamped on its own
    clipped_grads = {n: live[n].grad.detach().clone() for n in names}
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return {
        "loss": rounded(window_loss),
        "grads": {n: as_list(grads[n]) for n in names},
        "grad_norm": rounded(grad_norm),
        "clip_coef": None if clip_coef is None else rounded(clip_coef), "clipped": clipped,
        "clipped_grads": {n: as_list(clipped_grads[n]) for n in names},
        "params_after": {n: as_list(live[n]) for n in names},
    }


def bidirectional_pass(request: dict[str, Any]) -> dict[str, Any]:
    """A bidirectional network's pass (DESIGN.md: epochwise, one window, one update): each
    layer runs a forward network over steps 1..T and a reverse one (``_rev``) over T..1 from
    its own initial state, the layer above and the output read [h(t); h_rev(t)]."""
    cell, activation = request["cell"], request.get("activation", "tanh")
    kind, reduction = request["loss"], request["reduction"]
    examples = decode_batch(request)
    batch = "batch" in request["data"]
    T, H = examples[0][0].shape[0], request["hidden_size"]
    layers = request.get("num_layers", 1)
    loss_steps = set(range(1, T + 1)) if request["loss_at"] == "every" else {T}
    units = [(layer, reverse) for layer in range(1, layers + 1) for reverse in (False, True)]
    names = list(request["params"])
    live = {n: torch.tensor(v, requires_grad=True) for n, v in request["params"].items()}
    optimizer = make_optimizer(request["optimizer"], [live[n] for n in names])
    p = {n: live[n].detach().clone().requires_grad_(True) for n in names}

    def initial(name: str) -> list[torch.Tensor]:  # one row a unit
        given = request.get(name)
        return ([torch.zeros(H) for _ in units] if given is None
                else list(torch.tensor(given)))

    starts = []  # [example][unit]: leaves, so that dL/d(initial state) is their .grad
    for _ in examples:
        h0s = initial("h0")
        c0s = initial("c0") if cell == "lstm" else [None] * len(units)
        starts.append([tuple(v.clone().requires_grad_(True) for v in (h, c) if v is not None)
                       for h, c in zip(h0s, c0s, strict=True)])
    logits, wanted, step_losses = [], [], []
    window_loss = torch.zeros(())
    for e, (x, targets) in enumerate(examples):
        below = [x[i] for i in range(T)]
        for layer in range(1, layers + 1):
            outs = {}
            for reverse in (False, True):
                u = units.index((layer, reverse))
                unit_p = {name: p[name + suffix(layer) + ("_rev" if reverse else "")]
                          for name in layer_of(p, cell, 1)}
                state, hs = starts[e][u], [None] * T
                for i in (range(T - 1, -1, -1) if reverse else range(T)):
                    state = cell_step(cell, activation, unit_p, below[i], state)
                    hs[i] = state[0]
                outs[reverse] = hs
            below = [torch.cat([outs[False][i], outs[True][i]]) for i in range(T)]
        step_losses.append([float(step_loss(kind, p, below[t - 1], targets[t - 1]))
                            for t in range(1, T + 1)])
        for t in sorted(loss_steps):
            logits.append(p["V"] @ below[t - 1] + p["b_y"])
            wanted.append(targets[t - 1])
            window_loss = window_loss + step_loss(kind, p, below[t - 1], targets[t - 1])
    if batch:
        window_loss = window_reduced(kind, reduction, logits, wanted)
    elif reduction == "mean":
        window_loss = window_loss / len(loss_steps)
    window_loss.backward()
    grads = {n: p[n].grad for n in names}
    record = {"t": T, "window": [1, T],
              **clip_and_step(request, live, optimizer, grads, float(window_loss.detach()))}
    dstarts = [[[v.grad for v in unit] for unit in start] for start in starts]
    record["dh_start"] = start_grad(dstarts, 0, batch)
    if cell == "lstm":
        record["dc_start"] = start_grad(dstarts, 1, batch)
    losses = [[rounded(v) for v in one] for one in step_losses]
    return {"step_losses": losses if batch else losses[0],
            "loss": rounded(float(window_loss.detach())), "updates": [record]}


def run_pass(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("bidirectional"):
        return bidirectional_pass(request)
    cell, activation = request["cell"], request.get("activation", "tanh")
    kind, reduction = request["loss"], request["reduction"]
    examples = decode_batch(request)
    batch = "batch" in request["data"]
    T = examples[0][0].shape[0]
    trunc = request.get("truncation")
    randomized = trunc is not None and trunc.get("mode") == "randomized"
    k1, k2 = (T, T) if trunc is None or randomized else (trunc["k1"], trunc["k2"])
    xi = xi_weights(trunc["p"], T, request["seed"]) if randomized else None
    loss_steps = set(range(1, T + 1)) if request["loss_at"] == "every" else {T}
    H = request["hidden_size"]
    names = list(request["params"])

    live = {n: torch.tensor(v, requires_grad=True) for n, v in request["params"].items()}
    optimizer = make_optimizer(request["optimizer"], [live[n] for n in names])

    layers = request.get("num_layers", 1)

    def initial(name: str) -> list[torch.Tensor]:  # one vector a layer
        given = request.get(name)
        if given is None:
            return [torch.zeros(H) for _ in range(layers)]
        return [torch.tensor(given)] if layers == 1 else list(torch.tensor(given))

    h0s = initial("h0")
    start0 = tuple((h0,) for h0 in h0s)
    if cell == "lstm":
        start0 = tuple((h0, c0) for h0, c0 in zip(h0s, initial("c0"), strict=True))
    # every example starts from the same initial state, as PyTorch's zeros h0 for a batch
    states: list[dict[int, Stack]] = [{0: start0} for _ in examples]

    versions: list[dict[str, torch.Tensor]] = []  # parameter values after each update count
    version_of: dict[int, int] = {}
    step_losses: list[list[float]] = [[] for _ in examples]
    updates: list[dict[str, Any]] = []
    last_update = 0
    total_loss = 0.0

    for t in range(1, T + 1):
        if len(versions) == len(updates):  # the first step after an update: a new version
            versions.append({n: live[n].detach().clone() for n in names})
        version_of[t] = len(updates)
        with torch.no_grad():
            p = versions[version_of[t]]
            for e, (x, targets) in enumerate(examples):
                states[e][t] = stack_step(cell, activation, p, x[t - 1], states[e][t - 1])
                step_losses[e].append(float(step_loss(kind, p, states[e][t][-1][0],
                                                      targets[t - 1])))
        if t % k1 != 0 and t != T:
            continue

        # ---- the window's backward pass: replay first..t from a detached state -------------
        first = max(1, t - k2 + 1)
        injected = [s for s in range(last_update + 1, t + 1) if s in loss_steps]
        leaves = {v: {n: versions[v][n].clone().requires_grad_(True) for n in names}
                  for v in sorted({version_of[s] for s in range(first, t + 1)})}
        starts = [tuple(tuple(s.clone().requires_grad_(True) for s in layer)
                        for layer in states[e][first - 1]) for e in range(len(examples))]
        logits: list[torch.Tensor] = []
        wanted: list[Any] = []
        window_loss = torch.zeros(())
        for e, (x, targets) in enumerate(examples):
            state = starts[e]
            for s in range(first, t + 1):
                p = leaves[version_of[s]]
                if xi is not None and s > first:  # the error into step s-1 weighted by xi_s
                    state = tuple(tuple(scaled_flow(v, xi[s - 1]) for v in layer)
                                  for layer in state)
                state = stack_step(cell, activation, p, x[s - 1], state)
                top = state[-1][0]
                if s in injected:
                    logits.append(p["V"] @ top + p["b_y"])
                    wanted.append(targets[s - 1])
                    window_loss = window_loss + step_loss(kind, p, top, targets[s - 1])
        if batch:  # torch's own reduction over the batch's terms
            window_loss = window_reduced(kind, reduction, logits, wanted)
        elif reduction == "mean" and injected:
            window_loss = window_loss / len(injected)
        if injected:
            window_loss.backward()
        grads = {}
        for n in names:
            total = torch.zeros_like(live[n])
            for v in leaves:  # the window's gradient: the sum over the versions it touched
                if leaves[v][n].grad is not None:
                    total = total + leaves[v][n].grad
            grads[n] = total
        dstarts = [[[s.grad if s.grad is not None else torch.zeros(H) for s in layer]
                    for layer in start] for start in starts]

        wl = float(window_loss.detach())
        total_loss += wl
        record = {"t": t, "window": [first, t],
                  **clip_and_step(request, live, optimizer, grads, wl)}
        record["dh_start"] = start_grad(dstarts, 0, batch)
        if cell == "lstm":
            record["dc_start"] = start_grad(dstarts, 1, batch)
        updates.append(record)
        last_update = t

    losses = [[rounded(v) for v in one] for one in step_losses]
    return {"step_losses": losses if batch else losses[0], "loss": rounded(total_loss),
            "updates": updates}


# ---------------------------------------------------------------------------------------------
# The cases: every cell, activation, loss, placement, reduction, truncation, optimizer, clip.

SGD = {"name": "sgd", "lr": 0.1}
MOMENTUM = {"name": "momentum", "lr": 0.1}
ADAGRAD = {"name": "adagrad", "lr": 0.1}
ADAM = {"name": "adam", "lr": 0.05}

CASES: dict[str, dict[str, Any]] = {
    # vanilla RNN: activations, losses, placement, reduction, full BPTT
    "rnn_tanh_cross_entropy_full_bptt": {},
    "rnn_relu_cross_entropy_full_bptt": {"activation": "relu"},
    "rnn_sigmoid_mse_full_bptt": {"activation": "sigmoid", "loss": "mse", "K": 2},
    "rnn_tanh_mse_loss_at_last": {"loss": "mse", "loss_at": "last", "K": 2},
    "rnn_tanh_cross_entropy_mean_reduction": {"reduction": "mean", "T": 4},
    "rnn_relu_mse_loss_at_last_mean": {"activation": "relu", "loss": "mse", "loss_at": "last",
                                       "reduction": "mean", "K": 2, "D": 4},
    "rnn_text_machine_zero_initial_state": {"text": "machine", "h0": False},
    # vanilla RNN: truncation
    "rnn_chunked_k2_last_chunk_shorter": {"truncation": (2, 2), "T": 5},
    "rnn_chunked_mean_reduction_last_chunk_shorter": {"truncation": (2, 2), "T": 5,
                                                      "reduction": "mean", "loss": "mse",
                                                      "K": 2},
    "rnn_online_bptt_h3": {"truncation": (1, 3), "T": 4, "activation": "relu"},
    "rnn_k1_less_than_k2_sums_parameter_versions": {"truncation": (2, 3), "T": 6, "D": 4},
    "rnn_chunked_loss_at_last_zero_gradient_windows": {"truncation": (2, 2), "T": 5,
                                                       "loss_at": "last",
                                                       "optimizer": MOMENTUM},
    # vanilla RNN: optimizers and clipping
    "rnn_momentum_chunked": {"truncation": (2, 2), "T": 6, "optimizer": MOMENTUM},
    "rnn_adagrad_online_bptt": {"truncation": (1, 3), "T": 4, "optimizer": ADAGRAD},
    "rnn_adam_k1_less_than_k2": {"truncation": (2, 3), "T": 6, "optimizer": ADAM,
                                 "activation": "sigmoid"},
    "rnn_clip_norm_some_windows_chunked": {"truncation": (2, 2), "T": 5,
                                           "clip": {"mode": "norm", "max": 2.0}},
    "rnn_clip_value_full_bptt": {"clip": {"mode": "value", "max": 0.1}, "H": 4, "D": 5,
                                 "K": 4},
    # LSTM
    "lstm_cross_entropy_full_bptt": {"cell": "lstm", "T": 4, "D": 2},
    "lstm_mse_loss_at_last": {"cell": "lstm", "loss": "mse", "loss_at": "last", "K": 2,
                              "T": 4, "D": 2},
    "lstm_momentum_chunked": {"cell": "lstm", "truncation": (2, 2), "T": 5,
                              "optimizer": MOMENTUM, "K": 2, "D": 2},
    "lstm_adam_k1_less_than_k2": {"cell": "lstm", "truncation": (2, 3), "T": 5,
                                  "optimizer": ADAM, "K": 2, "D": 2},
    "lstm_adagrad_online_bptt_clip_norm": {"cell": "lstm", "truncation": (1, 2), "T": 3,
                                           "optimizer": ADAGRAD, "K": 2, "D": 2,
                                           "clip": {"mode": "norm", "max": 0.3}},
    "lstm_text_machine_zero_initial_state": {"cell": "lstm", "text": "machine", "h0": False,
                                             "c0": False, "H": 3},
    # GRU
    "gru_cross_entropy_full_bptt": {"cell": "gru", "T": 4, "D": 2},
    "gru_mse_mean_reduction": {"cell": "gru", "loss": "mse", "reduction": "mean", "K": 2,
                               "T": 4},
    "gru_adam_chunked_clip_value": {"cell": "gru", "truncation": (2, 2), "T": 5,
                                    "optimizer": ADAM, "K": 2, "D": 2,
                                    "clip": {"mode": "value", "max": 0.05}},
    "gru_momentum_k1_less_than_k2": {"cell": "gru", "truncation": (2, 3), "T": 4,
                                     "optimizer": MOMENTUM, "K": 2, "D": 2},
    "gru_online_bptt_clip_norm": {"cell": "gru", "truncation": (1, 3), "T": 4, "K": 2,
                                  "D": 2, "clip": {"mode": "norm", "max": 0.2}},
    "gru_text_machine_loss_at_last": {"cell": "gru", "text": "machine", "loss_at": "last",
                                      "optimizer": ADAGRAD},
    # mini-batches: n sequences, one update per window from the sum of the examples' shares;
    # "mean" over the (example, step) loss terms (torch's own reduction for cross-entropy)
    "batch_rnn_cross_entropy_sum_full_bptt": {"batch": 3, "T": 4},
    "batch_rnn_cross_entropy_mean_chunked": {"batch": 4, "T": 5, "reduction": "mean",
                                             "truncation": (2, 2), "optimizer": MOMENTUM},
    "batch_rnn_mse_mean_loss_at_last": {"batch": 2, "loss": "mse", "loss_at": "last",
                                        "reduction": "mean", "K": 2, "activation": "relu"},
    "batch_lstm_cross_entropy_mean_k1_less_than_k2": {"cell": "lstm", "batch": 3, "T": 5,
                                                      "K": 2, "D": 2, "reduction": "mean",
                                                      "truncation": (2, 3),
                                                      "optimizer": ADAM},
    "batch_lstm_texts_sum_clip_norm": {"cell": "lstm", "texts": ["machine", "learner",
                                                                 "network"],
                                       "H": 3, "clip": {"mode": "norm", "max": 1.0}},
    "batch_gru_mse_sum_online_bptt": {"cell": "gru", "batch": 2, "loss": "mse", "K": 2,
                                      "D": 2, "T": 4, "truncation": (1, 2),
                                      "optimizer": ADAGRAD},
    "batch_gru_cross_entropy_mean_clip_value": {"cell": "gru", "batch": 5, "T": 4, "K": 3,
                                                "D": 2, "reduction": "mean",
                                                "clip": {"mode": "value", "max": 0.02}},
    # randomized truncation (d2l 9.7): full BPTT, the flow into step t-1 weighted by xi_t
    "randomized_rnn_p_half": {"randomized": 0.5, "T": 8, "seed": 3},
    "randomized_lstm_p_third_adam": {"cell": "lstm", "randomized": 1 / 3, "T": 7, "K": 2,
                                     "D": 2, "optimizer": ADAM, "seed": 11},
    "randomized_gru_batch_mean": {"cell": "gru", "randomized": 0.6, "batch": 3, "T": 6,
                                  "K": 2, "D": 2, "reduction": "mean", "seed": 5},
    # stacks (num_layers): layer j >= 2 reads layer j-1's h(t); the output reads the top's
    "deep_rnn_two_layers_full_bptt": {"layers": 2, "T": 4},
    "deep_rnn_relu_three_layers_mse": {"layers": 3, "activation": "relu", "loss": "mse",
                                       "K": 2, "T": 4},
    "deep_lstm_two_layers_full_bptt": {"cell": "lstm", "layers": 2, "T": 4, "D": 2},
    "deep_lstm_three_layers_k1_less_than_k2_adam": {"cell": "lstm", "layers": 3,
                                                    "truncation": (2, 3), "T": 5, "K": 2,
                                                    "D": 2, "optimizer": ADAM},
    "deep_gru_two_layers_batch_mean_clip_norm": {"cell": "gru", "layers": 2, "batch": 2,
                                                 "T": 4, "K": 2, "D": 2, "reduction": "mean",
                                                 "clip": {"mode": "norm", "max": 0.05}},
    "deep_gru_randomized_two_layers": {"cell": "gru", "layers": 2, "randomized": 0.5, "T": 6,
                                       "K": 2, "D": 2, "seed": 3},
    # bidirectional (epochwise: one window): a reverse network (_rev) per layer, the layer
    # above and the output reading [h(t); h_rev(t)]
    "bidirectional_rnn_full_bptt": {"bidirectional": True, "T": 4},
    "bidirectional_lstm_two_layers_adam": {"cell": "lstm", "bidirectional": True, "layers": 2,
                                           "T": 4, "K": 2, "D": 2, "optimizer": ADAM},
    "bidirectional_gru_batch_mean_clip_value": {"cell": "gru", "bidirectional": True,
                                                "batch": 2, "T": 4, "K": 2, "D": 2,
                                                "reduction": "mean",
                                                "clip": {"mode": "value", "max": 0.02}},
    "bidirectional_rnn_two_layers_mse_loss_at_last": {"bidirectional": True, "layers": 2,
                                                      "loss": "mse", "loss_at": "last",
                                                      "K": 2, "T": 5},
}


def torch_module_grads(request: dict[str, Any]) -> dict[str, torch.Tensor] | None:
    """The first update's gradient of a one-sequence stack (or bidirectional network) under
    full BPTT computed by PyTorch's own nn.RNN / nn.LSTM(num_layers, bidirectional,
    batch_first=True) (None for other cases: the GRU's formulation differs from nn.GRU's, r
    applied before W_h, so its hand cells stand). torch packs an LSTM's gates as (i, f, g, o),
    keeps two biases (b goes in bias_ih) and names the reverse direction _reverse."""
    cell, layers = request["cell"], request.get("num_layers", 1)
    both = bool(request.get("bidirectional"))
    if (cell == "gru" or (layers == 1 and not both) or request.get("truncation")
            or "batch" in request["data"]):
        return None
    x, targets, _ = decode(request)
    T, D = x.shape
    H = request["hidden_size"]
    rows = layers * (2 if both else 1)
    p = {n: torch.tensor(v) for n, v in request["params"].items()}
    if cell == "rnn":
        module: torch.nn.Module = torch.nn.RNN(D, H, layers, nonlinearity=request.get(
            "activation", "tanh"), batch_first=True, bidirectional=both).double()
    else:
        module = torch.nn.LSTM(D, H, layers, batch_first=True, bidirectional=both).double()
    order = ("i", "f", "g", "o")
    units = [(layer, reverse) for layer in range(1, layers + 1)
             for reverse in ((False, True) if both else (False,))]

    def names(layer: int, reverse: bool) -> tuple[str, str]:  # (ours, torch's) suffixes
        return (suffix(layer) + ("_rev" if reverse else ""),
                f"_l{layer - 1}" + ("_reverse" if reverse else ""))

    with torch.no_grad():
        for layer, reverse in units:
            s, theirs = names(layer, reverse)
            if cell == "rnn":
                w_ih, w_hh, b = p[f"U{s}"], p[f"W{s}"], p[f"b{s}"]
            else:
                w_ih = torch.cat([p[f"U_{g}{s}"] for g in order])
                w_hh = torch.cat([p[f"W_{g}{s}"] for g in order])
                b = torch.cat([p[f"b_{g}{s}"] for g in order])
            getattr(module, f"weight_ih{theirs}").copy_(w_ih)
            getattr(module, f"weight_hh{theirs}").copy_(w_hh)
            getattr(module, f"bias_ih{theirs}").copy_(b)
            getattr(module, f"bias_hh{theirs}").zero_()
    h0 = torch.tensor(request["h0"]).reshape(rows, 1, H)
    V = p["V"].clone().requires_grad_(True)
    b_y = p["b_y"].clone().requires_grad_(True)
    if cell == "rnn":
        out, _ = module(x[None], h0)
    else:
        out, _ = module(x[None], (h0, torch.tensor(request["c0"]).reshape(rows, 1, H)))
    loss = torch.zeros(())
    steps = range(T) if request["loss_at"] == "every" else [T - 1]
    for t in steps:
        o = V @ out[0, t] + b_y
        loss = loss + (-torch.log_softmax(o, dim=0)[targets[t]] if request["loss"] ==
                       "cross_entropy" else 0.5 * ((o - targets[t]) ** 2).sum())
    if request["reduction"] == "mean":
        loss = loss / len(steps)
    loss.backward()
    grads = {"V": V.grad, "b_y": b_y.grad}
    for layer, reverse in units:
        s, theirs = names(layer, reverse)
        w_ih, w_hh = (getattr(module, f"weight_ih{theirs}").grad,
                      getattr(module, f"weight_hh{theirs}").grad)
        b = getattr(module, f"bias_ih{theirs}").grad
        if cell == "rnn":
            grads.update({f"U{s}": w_ih, f"W{s}": w_hh, f"b{s}": b})
        else:
            for k, g in enumerate(order):
                part = slice(k * H, (k + 1) * H)
                grads.update({f"U_{g}{s}": w_ih[part], f"W_{g}{s}": w_hh[part],
                              f"b_{g}{s}": b[part]})
    return grads


def check_case(name: str, request: dict[str, Any], expected: dict[str, Any]) -> None:
    """The case tests what its name says: clipping clips, versions differ, and so on; a
    stack's first gradient is PyTorch's nn.RNN / nn.LSTM's own (``torch_module_grads``)."""
    module_grads = torch_module_grads(request)
    if module_grads is not None:
        first = expected["updates"][0]["grads"]
        for param, grad in module_grads.items():
            if not np.allclose(first[param], grad.numpy(), rtol=1e-10, atol=1e-13):
                raise AssertionError(f"{name}: {param} differs from torch.nn's gradient")
    if request.get("num_layers", 1) > 1 and not ("deep" in name or "layers" in name):
        raise AssertionError(f"{name}: a stack's case is named deep_* or *_layers_*")
    if request.get("bidirectional") and "bidirectional" not in name:
        raise AssertionError(f"{name}: a bidirectional case says so in its name")
    clip = request["clip"]
    if clip is not None and not any(u["clipped"] for u in expected["updates"]):
        raise AssertionError(f"{name}: clipping never happened; lower clip.max")
    trunc = request.get("truncation")
    if trunc is not None and trunc.get("mode") == "randomized":
        xi = xi_weights(trunc["p"], len(expected["step_losses"][0] if isinstance(
            expected["step_losses"][0], list) else expected["step_losses"]), request["seed"])
        if 0.0 not in xi or all(w == 0.0 for w in xi[1:]):
            raise AssertionError(f"{name}: xi {xi} cuts no step, or every step; change seed")
    if "some_windows" in name and all(u["clipped"] for u in expected["updates"]):
        raise AssertionError(f"{name}: every window clipped; raise clip.max")
    if trunc is not None and trunc.get("mode") != "randomized" and trunc["k2"] > trunc["k1"]:
        spans = [u["window"] for u in expected["updates"]]
        if not any(first <= prev_t for (first, _), prev_t in
                   zip(spans[1:], [u["t"] for u in expected["updates"]], strict=False)):
            raise AssertionError(f"{name}: no window reaches back past the previous update")


def main() -> None:
    if not torch.__version__.startswith(TORCH_VERSION):
        print(f"warning: torch {torch.__version__}, the golden files were made with "
              f"{TORCH_VERSION}", file=sys.stderr)
    documents = {}
    for name, options in CASES.items():  # every case first: a failing check writes nothing
        options = dict(options)
        truncation = options.pop("truncation", None)
        request = make_request(name, truncation=truncation, **options)
        expected = run_pass(request)
        check_case(name, request, expected)
        documents[name] = {"case": name, "request": request, "expected": expected,
                           "generated_with": {"torch": torch.__version__,
                                              "numpy": np.__version__}}
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for old in GOLDEN.glob("*.json"):
        old.unlink()
    total = 0
    for name, document in documents.items():
        path = GOLDEN / f"{name}.json"
        path.write_text(json.dumps(document, separators=(",", ":")) + "\n")
        size = path.stat().st_size
        total += size
        print(f"{path.relative_to(ROOT)}  {len(document['expected']['updates'])} updates  "
              f"{size / 1024:.1f} KB")
    print(f"{len(CASES)} golden files, {total / 1024:.1f} KB, torch {torch.__version__}")


if __name__ == "__main__":
    main()
