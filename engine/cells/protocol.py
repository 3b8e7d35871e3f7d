"""What a recurrent cell is to the engine: the protocol every cell module implements.

A cell is one module (``rnn.py``, ``lstm.py``, ``gru.py``) that owns everything about it,
registered in ``engine.cells.CELLS`` (which checks the declarations when it registers). It
declares, once, what it is:

- ``NAME``: the request's ``cell``; ``TITLE``: its name in prose ("LSTM"; the vanilla RNN's
  says its activation: "vanilla RNN ({activation})");
- ``STATE``: the names of its state vectors, h first (``("h",)``, or ``("h", "c")``);
- ``GATES``: the names of its gates, as the forward event's ``gates`` and ``a`` hold them
  (empty for the vanilla RNN, whose event has one pre-activation ``a`` and ``gates: null``);
- ``DELTA_KEYS``: the order of its stacked deltas (n, G*H); each is a gate name, or
  ``"delta"`` for the vanilla RNN's single delta. The backward event holds them as
  ``"delta"`` (one) or ``"deltas": {gate: ...}`` (gated cells);
- ``PARAMS``: every parameter of the cell (the output layer V, b_y is the same for all
  cells: ``OUTPUT_PARAMS`` below) with its kind, shape rule and the two recorded factors whose
  per-step product is its contribution (see ``ParamSpec``: an outer product, a diagonal, a
  bias);
- ``PRE_ACTIVATIONS``: the stack holding the forward event's ``a``: one name, or
  {gate: stack name};
- ``RECORDED``: further per-step vectors the forward event carries (``c_prev``, ``c``,
  ``rh_prev``), by stack name; every state s beyond h is recorded as ``s_prev`` and ``s``;
- ``BACKWARD_RECORDED``: further per-step vectors the backward event carries (``dc``,
  ``dc_next``, ``dc_from_h``);
- ``BACKWARD_KEYS``: the forward stacks ``backward_steps`` reads;
- ``KEEP_BIAS``: the bias of the gate that keeps the old state (request.forget_bias), or None;
- ``VIEW_CONFIG``: the request's settings the neuron view repeats (the vanilla RNN's
  ``activation``, which its derivative depends on);
- ``COST``: its cost calibration, {phase: {feature: CPU seconds per unit}} for each of
  ``CELL_COST_FEATURES`` below (written by bench/calibrate_cost.py --write between the
  module's COST-BEGIN and COST-END lines); a cell without it is refused when it registers;

and its functions:

- the forward/backward pair over plain arrays (``pack``, ``recurrent``,
  ``input_projection``, ``step_forward``, ``forward_steps``, ``state_of``, ``step_backward``,
  ``backward_steps``, ``input_grad``); ``backward_steps`` takes ``bug``, a planted mistake of
  engine.bugs, only for the bugs that list the cell (it is not passed otherwise), and
  ``carry``, randomized truncation's weight on the error each row sends to the row before
  (passed only with randomized truncation);
- ``torch_step(activation)``: the PyTorch source of its step, for the "check it in PyTorch"
  script (engine.torch_script), written from the equations, not from the code above;
- ``neuron_next`` and ``neuron_deltas``: one unit's error written term by term (engine.neuron,
  in the nodes of engine.terms): what reaches h_j(t) from step t+1, and the deltas of step t.

The time loop, the schedule, the events, the diagnostics, the parameter shapes, the neuron
view, the PyTorch script and the cost model read only these names, so adding a cell is one
module plus its line in ``engine.cells`` (and a calibration run). mypy checks each module
against ``Cell`` (modules are accepted as protocol implementations), and
``engine.cells.register`` checks the declarations at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # the nodes a cell's neuron decomposition is written in
    from .terms import Node, Reader, Step

Params = dict[str, np.ndarray]
Packed = dict[str, Any]  # the matrices one step needs, once per parameter version
Stacks = dict[str, np.ndarray]  # recorded quantities of a block of steps, rows in time order
ParamKind = Literal["outer", "diagonal", "bias"]

# The cell's own cost coefficients (engine.cost): its step, forward and backward, in a
# recorded pass and in /train's passes, its replay in the truncation comparison, and its
# evaluation in a gradient check, each in CPU seconds per step.
CELL_COST_FEATURES: dict[str, tuple[str, ...]] = {
    "gradcheck": ("evaluations",),
    "pass": ("backward_steps", "steps"),
    "passes": ("backward_steps", "steps"),
    "replay": ("steps",),
}


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: its kind, its shape rule and the two recorded factors of its
    contribution.

    ``shape`` names sizes: ("H", "H") is H×H. ``left`` is a path into the backward event of
    step t ("delta", "deltas.f", "g_o"), ``right`` a path into the forward event of the same
    step ("h_prev", "x", "rh_prev", "h", "c_prev"), or None for a bias. The kind says how
    they make the step's contribution contrib[name]:

    - "outer": left right^T (a matrix, W, U, V: ``right`` given, two sizes);
    - "diagonal": left * right, elementwise (a vector of H weights each multiplying one unit
      of ``right``, as a peephole connection p * c(t-1) does: ``diagonal=True``);
    - "bias": left (``right`` None).
    """

    shape: tuple[str, ...]
    left: str
    right: str | None
    diagonal: bool = False

    @property
    def kind(self) -> ParamKind:
        if self.right is None:
            return "bias"
        return "diagonal" if self.diagonal else "outer"

    @property
    def factors(self) -> tuple[str, str | None]:
        return (self.left, self.right)

    @property
    def delta(self) -> str:
        """The key of the left factor among the stacked deltas (its path's last part)."""
        return self.left.rsplit(".", 1)[-1]

    def size(self, H: int, D: int, K: int) -> tuple[int, ...]:
        sizes = {"H": H, "D": D, "K": K, "2H": 2 * H}
        return tuple(sizes[symbol] for symbol in self.shape)


# The output layer o(t) = V h(t) + b_y, the same for every cell: g_o(t) = dL/do(t).
OUTPUT_PARAMS: dict[str, ParamSpec] = {
    "V": ParamSpec(("K", "H"), "g_o", "h"),
    "b_y": ParamSpec(("K",), "g_o", None),
}


def gate_params(gate: str, suffix: str, delta: str, recurrent_right: str = "h_prev"
                ) -> dict[str, ParamSpec]:
    """W_suffix (H×H), U_suffix (H×D), b_suffix (H) of one gate whose delta is ``delta``."""
    return {f"W_{suffix}": ParamSpec(("H", "H"), delta, recurrent_right),
            f"U_{suffix}": ParamSpec(("H", "D"), delta, "x"),
            f"b_{suffix}": ParamSpec(("H",), delta, None)}


@runtime_checkable
class Cell(Protocol):
    """A cell module. See the module docstring for what each name means."""

    # The declarations, read-only (a module's constants, of any more precise type).
    @property
    def NAME(self) -> str: ...
    @property
    def TITLE(self) -> str: ...
    @property
    def STATE(self) -> tuple[str, ...]: ...
    @property
    def GATES(self) -> tuple[str, ...]: ...
    @property
    def DELTA_KEYS(self) -> tuple[str, ...]: ...
    @property
    def PARAMS(self) -> Mapping[str, ParamSpec]: ...
    @property
    def PRE_ACTIVATIONS(self) -> str | Mapping[str, str]: ...
    @property
    def RECORDED(self) -> tuple[str, ...]: ...
    @property
    def BACKWARD_RECORDED(self) -> tuple[str, ...]: ...
    @property
    def BACKWARD_KEYS(self) -> tuple[str, ...]: ...
    @property
    def KEEP_BIAS(self) -> str | None: ...
    @property
    def VIEW_CONFIG(self) -> tuple[str, ...]: ...
    @property
    def COST(self) -> Mapping[str, Mapping[str, float]]: ...

    # The forward/backward pair over plain arrays.

    def pack(self, params: Params, activation: str = ..., /) -> Packed: ...

    def recurrent(self, packed: Packed, /) -> Any: ...

    def input_projection(self, packed: Packed, X: np.ndarray, out: np.ndarray | None = ..., /
                         ) -> np.ndarray: ...

    def step_forward(self, packed: Packed, ux_t: np.ndarray,
                     state_prev: tuple[np.ndarray, ...], /) -> dict[str, np.ndarray]: ...

    def forward_steps(self, packed: Packed, X: np.ndarray, state0: tuple[np.ndarray, ...], /
                      ) -> Stacks: ...

    def state_of(self, cache: Mapping[str, np.ndarray], /) -> tuple[np.ndarray, ...]: ...

    def step_backward(self, packed: Packed, dstate: tuple[np.ndarray, ...],
                      cache: Mapping[str, np.ndarray], /
                      ) -> tuple[tuple[np.ndarray, ...], np.ndarray, dict[str, np.ndarray]]: ...

    def backward_steps(self, Ws: list[Any], stacks: Stacks, dh_out: np.ndarray, /,
                       bug: str | None = ..., carry: np.ndarray | None = ...) -> Stacks: ...

    def input_grad(self, packed: Packed, stacked_delta: np.ndarray, /) -> np.ndarray: ...

    # The PyTorch step, and the neuron view's terms.

    def torch_step(self, activation: str, /) -> str: ...

    def neuron_next(self, reader: Reader, t: int, j: int, after: Step, recorded: float, /
                    ) -> Node: ...

    def neuron_deltas(self, reader: Reader, here: Step, after: Step | None, j: int, dh: float,
                      config: Mapping[str, Any], /) -> dict[str, Any]: ...


# ---------------------------------------------------------------------------------------------
# Helpers every cell shares (written once; each cell module exports them as its own).


def input_projection(packed: Packed, X: np.ndarray, out: np.ndarray | None = None
                     ) -> np.ndarray:
    """U x(t) + b for every row of ``X`` (n, D) at once, the gates stacked: (n, G*H).

    ``U x(t) + b`` does not depend on the recurrence, so one product serves a whole block.
    """
    ux = np.matmul(X, packed["U"].T, out=out)  # (n, G*H)
    ux += packed["b"]  # in place: one array of n rows, not two
    return ux


def input_grad(packed: Packed, stacked_delta: np.ndarray) -> np.ndarray:
    """dL/dx(t) for every step of a window: the sum over gates of U_*^T delta_*(t), as rows."""
    return stacked_delta @ packed["U"]  # (n, D)


def stacked_recurrent(packed: Packed) -> Any:
    """What backward_steps multiplies the deltas by: the version's stacked recurrent W."""
    return packed["W"]


# ---------------------------------------------------------------------------------------------
# What the engine derives from the declarations.


@dataclass(frozen=True)
class Unit:
    """One recurrent network of a stack: its layer (1-based, bottom first) and its direction
    (``reverse``: it reads the sequence from T back to 1)."""

    layer: int = 1
    reverse: bool = False

    def name(self, base: str) -> str:
        """A cell parameter's (or state's) name in this unit: layer 1's forward network keeps
        the one-layer names, layer j >= 2 adds ``_l<j>``, the reverse direction ``_rev`` after
        that (W_f of layer 2's reverse network is W_f_l2_rev), as PyTorch's _l<k>, _reverse."""
        return base + (f"_l{self.layer}" if self.layer > 1 else "") + (
            "_rev" if self.reverse else "")


@dataclass(frozen=True)
class Stack:
    """The shape of the network around the cell: how many layers, and whether each reads the
    sequence both ways (PyTorch's num_layers and bidirectional)."""

    layers: int = 1
    bidirectional: bool = False

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def units(self) -> list[Unit]:
        """Every unit, bottom to top, each layer's forward network before its reverse one
        (PyTorch's order of parameters and of h0's rows)."""
        return [Unit(layer, reverse) for layer in range(1, self.layers + 1)
                for reverse in ((False, True) if self.bidirectional else (False,))]

    @property
    def width(self) -> str:
        """The size symbol of what the layer above and the output read: H, or [h; h_rev]'s
        2H when bidirectional."""
        return "2H" if self.bidirectional else "H"

    def spec(self, spec: ParamSpec, unit: Unit) -> ParamSpec:
        """A cell parameter's spec in ``unit``: layer j >= 2 reads layer j-1's hidden state
        (both directions' when bidirectional) where layer 1 reads x(t), so its input matrices
        are H×H (or H×2H) where layer 1's are H×D (PyTorch's weight_ih_l<j-1>)."""
        if unit.layer == 1:
            return spec
        return ParamSpec(tuple(self.width if symbol == "D" else symbol for symbol in spec.shape),
                         spec.left, spec.right, spec.diagonal)


ONE = Stack()  # one layer, one direction: the network every request had before stacks
ONE_UNIT = Unit()  # its one unit: layer 1's forward network


def all_params(cell: Cell, stack: Stack = ONE) -> dict[str, ParamSpec]:
    """Every parameter of a network of this cell shaped as ``stack``, in CONTRACT.md's order:
    each unit's (layer 1's, its reverse network's, layer 2's ...), then V, b_y (V K×2H when
    bidirectional: the output reads both directions)."""
    output = dict(OUTPUT_PARAMS)
    if stack.bidirectional:
        output["V"] = ParamSpec(("K", "2H"), "g_o", "h")
    return {**{unit.name(name): stack.spec(spec, unit)
               for unit in stack.units for name, spec in cell.PARAMS.items()}, **output}


def layer_params(cell: Cell, params: Params, unit: Unit) -> Params:
    """The cell's parameters of one unit under the cell's own names (views, no copy): what
    ``pack`` and the cell's functions read."""
    return {name: params[unit.name(name)] for name in cell.PARAMS}


def recurrent_names(cell: Cell, stack: Stack = ONE) -> list[str]:
    """The recurrent matrices (what spectral_radius rescales): the cell's H×H parameters, of
    every unit (not the input matrices of layers 2.., H×H too: they do not recur)."""
    return [unit.name(name) for unit in stack.units for name, spec in cell.PARAMS.items()
            if spec.shape == ("H", "H")]


def right_factors(cell: Cell) -> list[str]:
    """The forward-event fields the cell's parameters multiply their deltas by (no bias)."""
    rights: list[str] = []
    for spec in cell.PARAMS.values():
        if spec.right is not None and spec.right not in rights:
            rights.append(spec.right)
    return rights


def delta_field(cell: Cell) -> str:
    """The backward event's name for the deltas: "delta" (one, no gates) or "deltas"."""
    return "deltas" if cell.GATES else "delta"


def split_gates(cell: Cell, stacked: np.ndarray, H: int) -> dict[str, np.ndarray]:
    """Stacked gate rows (n, G*H) as {delta key: (n, H)} views, in DELTA_KEYS order."""
    return {key: stacked[:, j * H:(j + 1) * H] for j, key in enumerate(cell.DELTA_KEYS)}
