"""jax adapter, recurrent: flax.linen SimpleCell/LSTMCell/GRUCell, over time by nn.RNN (jax.lax.scan).

The canonical weights are mapped into flax's parameter tree (``LAYOUTS``) with jnp ops and
passed to ``module.apply({"params": ...})``, so jax.vjp differentiates through the mapping
back to them. flax keeps one Dense per gate: kernels fan-in first (the canonical rows
transposed), the LSTM's bias on its recurrent Denses (hi, hf, hg, ho), the GRU's on its
input Denses (ir, iz, in) plus the candidate's recurrent bias (hn), which r multiplies.
flax's GRUCell keeps the old state with z (h' = (1 − z)·n + z·h): its z kernels and bias
are the canonical ones negated; it exists only in the reset-after form: the adapter declares
reset_after fixed at True (``FIXED``): the engine draws no other value, and the defaults table says so.
Stacked layers are nn.RNN (or nn.Bidirectional, merge by concatenation, forward first)
modules applied in turn, one parameter tree per layer.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ...spec.recurrent import NumpyOps, Block, Param, assemble, disassemble

OPS = ("rnn_cell", "lstm_cell", "gru_cell", "rnn", "lstm", "gru")
CELLS = {"rnn": nn.SimpleCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


def _gate(dense, source, gate, sign=1, bias=None):
    """The kernel (and bias) of one flax Dense holding one gate."""
    params = (Param((dense, "kernel"), (Block(source, gate, sign),), transpose=True),)
    return params + ((Param((dense, "bias"), (Block(bias, gate, sign),)),) if bias else ())


LAYOUTS = {
    "rnn": _gate("i", "w_ih", "h", bias="b") + _gate("h", "w_hh", "h"),
    "lstm": sum((_gate(f"i{g}", "w_ih", g) + _gate(f"h{g}", "w_hh", g, bias="b") for g in "ifgo"), ()),
    "gru": sum((_gate(f"i{g}", "w_ih", g, -1 if g == "z" else 1, bias="b") for g in "rzn"), ())
    + _gate("hr", "w_hh", "r") + _gate("hz", "w_hh", "z", -1) + _gate("hn", "w_hh", "n", bias="b_hn"),
}
LAYER_NAMES = "layer_{layer}"  # one parameter tree per stacked layer
DIRECTIONS = ("forward_rnn", "backward_rnn")  # nn.Bidirectional's sub-trees
PORTING = {  # what the porting guide (nnspec/conformance/porting.py) says about flax besides LAYOUTS
    "framework": "flax",
    "layers": {"rnn": "flax.linen.SimpleCell", "lstm": "flax.linen.LSTMCell", "gru": "flax.linen.GRUCell"},
    "gru_forms": ("reset_after",),
    "names": "the cell's parameter tree, one Dense per gate (`params[\"hi\"][\"kernel\"]`...); under "
             "`nn.RNN(cell)` it is `params[\"cell\"]`, under `nn.Bidirectional` `params[\"forward_rnn\"][\"cell\"]` "
             "and `params[\"backward_rnn\"][\"cell\"]`; one `nn.RNN` per stacked layer",
    "states": "the carry: `(c, h)` for the LSTM (c first), `h` otherwise, each (B, H)",
}



def layout(kind, reset_after):
    """flax's parameters of ``kind``; its GRU has the reset-after form only."""
    return LAYOUTS[kind]


class _JaxOps:
    concat = staticmethod(lambda pieces: jnp.concatenate(pieces, axis=0))
    stack = staticmethod(jnp.stack)
    transpose = staticmethod(jnp.transpose)
    negative_zeros = staticmethod(lambda like: jnp.full_like(like, -0.0))


def _kind(op):
    return op.split("_")[0]


def _nest(flat):
    tree = {}
    for path, value in flat.items():
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return tree


def _flatten(tree, prefix=()):
    flat = {}
    for key, value in tree.items():
        flat.update(_flatten(value, prefix + (key,)) if hasattr(value, "items") else {prefix + (key,): value})
    return flat


class Recurrent:
    NATIVE_DEFAULTS = {
        op: {"batch_first": (nn.RNN, "time_major", lambda time_major: not time_major)} for op in ("rnn", "lstm", "gru")
    }
    # flax.linen.GRUCell resets after the recurrent product only: the spec's (Cho et al.'s) default is before
    FIXED = {op: {"reset_after": (nn.GRUCell, True)} for op in ("gru", "gru_cell")}
    # measured on flax 0.12.8: LSTMCell's and OptimizedLSTMCell's fields are features, gate_fn, activation_fn,
    # the three initializers, dtype, param_dtype, carry_init: no peephole parameter
    UNSUPPORTED = {"lstm_peephole_cell": "flax.linen.LSTMCell/OptimizedLSTMCell have no peephole connections"}

    # ops ---------------------------------------------------------------------------

    def rnn_cell(self, x, h, w_ih, w_hh, b):
        return self._cell("rnn", x, (h,), dict(w_ih=w_ih, w_hh=w_hh, b=b))

    def lstm_cell(self, x, h, c, w_ih, w_hh, b):
        return self._cell("lstm", x, (h, c), dict(w_ih=w_ih, w_hh=w_hh, b=b))

    def gru_cell(self, x, h, w_ih, w_hh, b, b_hn, reset_after):
        return self._cell("gru", x, (h,), dict(w_ih=w_ih, w_hh=w_hh, b=b, b_hn=b_hn))

    def rnn(self, x, h0, w_ih, w_hh, b, batch_first, return_sequences):
        return self._sequence("rnn", x, (h0,), dict(w_ih=w_ih, w_hh=w_hh, b=b), batch_first, return_sequences)

    def lstm(self, x, h0, c0, w_ih, w_hh, b, batch_first, return_sequences):
        return self._sequence("lstm", x, (h0, c0), dict(w_ih=w_ih, w_hh=w_hh, b=b), batch_first, return_sequences)

    def gru(self, x, h0, w_ih, w_hh, b, b_hn, reset_after, batch_first, return_sequences):
        return self._sequence("gru", x, (h0,), dict(w_ih=w_ih, w_hh=w_hh, b=b, b_hn=b_hn), batch_first,
                              return_sequences)

    # the native layers ---------------------------------------------------------------

    def _cell(self, kind, x, states, weights):
        cell = _new_cell(kind, weights["w_hh"].shape[-1], x.dtype)
        new_carry, h = cell.apply({"params": self._native(kind, weights)}, _carry(kind, states), x)
        return (h, new_carry[0]) if kind == "lstm" else h  # flax's LSTM carry is (c, h)

    def _sequence(self, kind, x, states, weights, batch_first, return_sequences):
        L, D = weights["w_ih"].shape[:2]
        finals, y = [], x
        layers = _new_layers(kind, L, D, states[0].shape[-1], x.dtype, batch_first)
        for layer, (module, params) in enumerate(zip(layers, self._native_layers(kind, weights))):
            carries = [_carry(kind, tuple(s[layer, d] for s in states)) for d in range(D)]
            carry, y = module.apply({"params": params}, y, initial_carry=carries[0] if D == 1 else tuple(carries))
            finals.append([carry] if D == 1 else list(carry))
        # flax's carries back to (L, D, B, H), h first: for the LSTM a carry is (c, h)
        order = (1, 0) if kind == "lstm" else (None,)
        final = tuple(jnp.stack([jnp.stack([c if k is None else c[k] for c in f]) for f in finals]) for k in order)
        if not return_sequences:  # nn.RNN always returns the sequence: the last layer's final states, as the spec says
            y = jnp.concatenate(list(final[0][-1]), axis=-1)
        return (y, *final)

    # layout ---------------------------------------------------------------------------

    def _native(self, kind, weights, ops=_JaxOps):
        return _nest(assemble(kind, LAYOUTS[kind], weights, ops))

    def _native_layers(self, kind, weights, ops=_JaxOps):
        """One parameter tree per stacked layer: {"cell": ...}, or nn.Bidirectional's two sub-trees."""
        L, D = weights["w_ih"].shape[:2]
        trees = []
        for layer in range(L):
            cells = [{"cell": self._native(kind, {k: w[layer, d] for k, w in weights.items()}, ops)} for d in range(D)]
            trees.append(cells[0] if D == 1 else dict(zip(DIRECTIONS, cells)))
        return trees

    def to_native_layout(self, op, weights, params):
        if op not in OPS:
            return super().to_native_layout(op, weights, params)
        kind = _kind(op)
        H, dtype = weights["w_hh"].shape[-1], weights["w_hh"].dtype
        to_jax = lambda tree: jax.tree_util.tree_map(jnp.asarray, tree)  # noqa: E731
        if op.endswith("_cell"):  # the tables' values made in NumPy (exact), then put in flax's tree
            native = to_jax(self._native(kind, weights, NumpyOps))
            x = jnp.zeros((1, weights["w_ih"].shape[-1]), dtype)
            _check_tree(native, _new_cell(kind, H, dtype), _carry_like(kind, H, dtype), x)
            return native
        L, D = weights["w_ih"].shape[:2]
        natives = to_jax(self._native_layers(kind, weights, NumpyOps))
        for layer, (module, tree) in enumerate(zip(_new_layers(kind, L, D, H, dtype, True), natives)):
            width = weights["w_ih"].shape[-1] if layer == 0 else D * H
            _check_tree(tree, module, jnp.zeros((1, 1, width), dtype))
        return {LAYER_NAMES.format(layer=layer): tree for layer, tree in enumerate(natives)}

    def from_native_layout(self, op, native, params):
        if op not in OPS:
            return super().from_native_layout(op, native, params)
        kind = _kind(op)

        def canonical(tree):
            arrays = {path: np.asarray(a) for path, a in _flatten(tree).items()}
            H = next(a.shape[0] for path, a in arrays.items() if path[-1] == "bias")
            return disassemble(kind, LAYOUTS[kind], arrays, H)

        if op.endswith("_cell"):
            return canonical(native)
        layers = [native[LAYER_NAMES.format(layer=layer)] for layer in range(len(native))]
        per = [[canonical(t["cell"]) for t in ([layer] if "cell" in layer else [layer[d] for d in DIRECTIONS])]
               for layer in layers]
        return {name: np.stack([np.stack([one[name] for one in layer]) for layer in per]) for name in per[0][0]}


def _new_cell(kind, hidden, dtype):
    return CELLS[kind](hidden, dtype=dtype, param_dtype=dtype)


def _new_layers(kind, L, D, hidden, dtype, batch_first):
    layers = []
    for _ in range(L):
        forward = nn.RNN(_new_cell(kind, hidden, dtype), time_major=not batch_first, return_carry=True)
        if D == 1:
            layers.append(forward)
        else:
            backward = nn.RNN(_new_cell(kind, hidden, dtype), time_major=not batch_first, return_carry=True)
            layers.append(nn.Bidirectional(forward, backward, time_major=not batch_first, return_carry=True))
    return layers


def _carry(kind, states):
    return (states[1], states[0]) if kind == "lstm" else states[0]


def _carry_like(kind, hidden, dtype):
    h = jnp.zeros((1, hidden), dtype)
    return (h, h) if kind == "lstm" else h


def _check_tree(tree, module, *inputs):
    """The mapped tree has exactly the names, shapes and dtypes flax's own init makes."""
    got = {p: (a.shape, a.dtype) for p, a in _flatten(tree).items()}
    leaves, structure = jax.tree_util.tree_flatten(inputs)
    want = _init_shapes(module, tuple((x.shape, x.dtype) for x in leaves), structure)
    if got != want:
        raise ValueError(f"mapped parameters {got} do not fit flax's {want}")


@functools.lru_cache(maxsize=None)
def _init_shapes(module, leaves, structure):
    """{path: (shape, dtype)} of flax's own init of ``module``, traced once per structure (tracing a scan is slow)."""
    inputs = jax.tree_util.tree_unflatten(structure, [jnp.zeros(shape, dtype) for shape, dtype in leaves])
    expected = jax.eval_shape(lambda: module.init(jax.random.key(0), *inputs))["params"]
    return {p: (a.shape, a.dtype) for p, a in _flatten(expected).items()}
