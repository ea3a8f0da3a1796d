"""The recurrent spec against independent oracles: mpmath transcriptions of the textbook
equations (with W·[h, x] as one matrix on the concatenation), central finite differences
for the backpropagation through time, and closed-form identities."""

from __future__ import annotations

import itertools

import mpmath
import numpy as np
import pytest

from nnspec.spec import recurrent as R

RNG = np.random.default_rng(20261121)
GATE_COUNT = {"rnn": 1, "lstm": 4, "gru": 3}


def draw(*shape, scale=1.0):
    return RNG.uniform(-scale, scale, shape)


# mpmath oracle: the docstring's equations, term by term, at 50 digits ---------------------

def _at_50_digits(oracle):
    """Runs ``oracle`` at 50 significant digits, leaving mpmath's global precision alone."""

    def run(*args, **kwargs):
        with mpmath.workdps(50):
            return oracle(*args, **kwargs)

    return run


def _sigma(a):
    return 1 / (1 + mpmath.exp(-a))


def _affine(W, v, b, row):
    """Row ``row`` of W·v + b, exactly."""
    bias = mpmath.mpf(b[row]) if b is not None else 0
    return mpmath.fsum(mpmath.mpf(W[row, j]) * v[j] for j in range(len(v))) + bias


@_at_50_digits
def mp_cell(kind, x, state, w_ih, w_hh, b, b_hn=None, reset_after=False, old_state_weight="1-z"):
    """One step for one batch row: x, state as lists of mpf; weights as float arrays."""
    H = w_hh.shape[-1]
    W = np.concatenate([w_hh, w_ih], axis=1)  # W·[h, x]
    h = state[0]
    hx = list(h) + list(x)
    if kind == "rnn":
        return ([mpmath.tanh(_affine(W, hx, b, k)) for k in range(H)],)
    if kind == "lstm":
        c = state[1]
        gates = [[_affine(W, hx, b, g * H + k) for k in range(H)] for g in range(4)]
        i, f, g, o = ([_sigma(a) for a in gates[0]], [_sigma(a) for a in gates[1]],
                      [mpmath.tanh(a) for a in gates[2]], [_sigma(a) for a in gates[3]])
        c_new = [f[k] * c[k] + i[k] * g[k] for k in range(H)]
        return [o[k] * mpmath.tanh(c_new[k]) for k in range(H)], c_new
    r = [_sigma(_affine(W, hx, b, k)) for k in range(H)]
    z = [_sigma(_affine(W, hx, b, H + k)) for k in range(H)]
    if reset_after:
        w_hn = w_hh[2 * H:]
        rec = [mpmath.fsum(mpmath.mpf(w_hn[k, j]) * h[j] for j in range(H)) + mpmath.mpf(b_hn[k]) for k in range(H)]
        n = [mpmath.tanh(mpmath.fsum(mpmath.mpf(w_ih[2 * H + k, j]) * x[j] for j in range(len(x)))
                         + mpmath.mpf(b[2 * H + k]) + r[k] * rec[k]) for k in range(H)]
    else:
        rh = [r[k] * h[k] for k in range(H)] + list(x)
        n = [mpmath.tanh(_affine(W, rh, b, 2 * H + k) + mpmath.mpf(b_hn[k])) for k in range(H)]
    if old_state_weight == "1-z":
        return ([(1 - z[k]) * h[k] + z[k] * n[k] for k in range(H)],)
    return ([z[k] * h[k] + (1 - z[k]) * n[k] for k in range(H)],)


@_at_50_digits
def mp_sequence(kind, x, states, w_ih, w_hh, b, b_hn=None, reset_after=False, batch_first=False,
                return_sequences=True):
    x = np.swapaxes(x, 0, 1) if batch_first else x
    T, B = x.shape[:2]
    L, D = w_ih.shape[:2]
    H = w_hh.shape[-1]
    layer_in = [[[mpmath.mpf(v) for v in x[t, n]] for n in range(B)] for t in range(T)]
    finals = np.empty((len(states), L, D, B, H), dtype=object)
    for layer in range(L):
        outs = [[[None] * D for _ in range(B)] for _ in range(T)]
        for d in range(D):
            for n in range(B):
                state = tuple([mpmath.mpf(v) for v in s[layer, d, n]] for s in states)
                for t in (range(T) if d == 0 else reversed(range(T))):
                    state = mp_cell(kind, layer_in[t][n], state, w_ih[layer, d], w_hh[layer, d], b[layer, d],
                                    None if b_hn is None else b_hn[layer, d], reset_after)
                    outs[t][n][d] = state[0]
                for k, s in enumerate(state):
                    finals[k, layer, d, n] = s
        layer_in = [[sum(outs[t][n], []) for n in range(B)] for t in range(T)]
    if return_sequences:
        y = np.array([[[float(v) for v in layer_in[t][n]] for n in range(B)] for t in range(T)])
        y = np.swapaxes(y, 0, 1) if batch_first else y
    else:
        y = np.array([[float(v) for d in range(D) for v in finals[0, L - 1, d, n]] for n in range(B)])
    final = [np.array([[[list(map(float, finals[k, i, d, n])) for n in range(B)] for d in range(D)] for i in range(L)])
             for k in range(len(states))]
    return (y, *final)


def _seq_inputs(kind, T, B, I, H, L=1, D=1, batch_first=False, scale=1.0):
    G = GATE_COUNT[kind]
    x = draw(B, T, I, scale=3 * scale) if batch_first else draw(T, B, I, scale=3 * scale)
    states = [draw(L, D, B, H) for _ in range(2 if kind == "lstm" else 1)]
    weights = [draw(L, D, G * H, I, scale=scale), draw(L, D, G * H, H, scale=0.7), draw(L, D, G * H, scale=2 * scale)]
    if kind == "gru":
        weights.append(draw(L, D, H, scale=2 * scale))
    return [x, *states, *weights]


def _variants(kind):
    """(reset_after, old_state_weight) pairs: every GRU form; the other kinds have one."""
    return itertools.product((False, True), R.OLD_STATE_WEIGHTS) if kind == "gru" else [(False, "1-z")]


def _close(spec, exact, atol=1e-14, what=""):
    spec, exact = np.asarray(spec), np.asarray(exact)
    assert spec.shape == exact.shape, (what, spec.shape, exact.shape)
    err = np.max(np.abs(spec - exact) / np.maximum(1.0, np.abs(exact)), initial=0.0)
    assert err <= atol, f"{what}: {err:.3g} from the mpmath value"


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("scale", [1.0, 8.0])  # 8: saturated gates
def test_cells_match_mpmath(kind, scale):
    B, I, H = 2, 3, 4
    G = GATE_COUNT[kind]
    x, h, c = draw(B, I, scale=3 * scale), draw(B, H), draw(B, H, scale=3)
    w_ih, w_hh = draw(G * H, I, scale=scale), draw(G * H, H, scale=scale)
    b, b_hn = draw(G * H, scale=2 * scale), draw(H)
    for reset_after, osw in _variants(kind):
        if kind == "rnn":
            got = (R.rnn_cell(x, h, w_ih, w_hh, b),)
        elif kind == "lstm":
            got = R.lstm_cell(x, h, c, w_ih, w_hh, b)
        else:
            got = (R.gru_cell(x, h, w_ih, w_hh, b, b_hn, reset_after, old_state_weight=osw),)
        for n in range(B):
            state = [[mpmath.mpf(v) for v in h[n]], [mpmath.mpf(v) for v in c[n]]]
            exact = mp_cell(kind, [mpmath.mpf(v) for v in x[n]], state, w_ih, w_hh, b, b_hn, reset_after, osw)
            for k, e in enumerate(exact):
                _close(got[k][n], [float(v) for v in e], what=f"{kind} output {k}")


STRUCTURES = [  # T, B, I, H, L, D, batch_first, return_sequences
    (3, 2, 2, 3, 1, 1, False, True),
    (4, 1, 3, 2, 1, 2, True, False),
    (3, 2, 4, 2, 2, 2, False, True),  # stacked bidirectional: I = D·H
    (2, 1, 2, 2, 2, 1, True, False),
]


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("structure", STRUCTURES)
def test_sequences_match_mpmath(kind, structure):
    T, B, I, H, L, D, batch_first, return_sequences = structure
    inputs = _seq_inputs(kind, T, B, I, H, L, D, batch_first, scale=2.0)
    n_states = 2 if kind == "lstm" else 1
    x, states, weights = inputs[0], inputs[1:1 + n_states], inputs[1 + n_states:]
    flags = dict(batch_first=batch_first, return_sequences=return_sequences)
    for reset_after in ((False, True) if kind == "gru" else (False,)):
        extra = {"reset_after": reset_after} if kind == "gru" else {}
        got = getattr(R, kind)(*inputs, **extra, **flags)
        exact = mp_sequence(kind, x, states, *weights[:3], weights[3] if kind == "gru" else None, reset_after, **flags)
        assert len(got) == len(exact) == 1 + n_states
        for k, (g, e) in enumerate(zip(got, exact)):
            _close(g, e, atol=1e-13, what=f"{kind}{structure} output {k}")


# backpropagation through time against central differences --------------------------------


def _central_difference_vjp(f, inputs, cotangent, step=1e-6):
    grads = []
    for k, a in enumerate(inputs):
        g = np.zeros_like(a)
        for index in np.ndindex(a.shape):
            plus = [v.copy() for v in inputs]
            minus = [v.copy() for v in inputs]
            plus[k][index] += step
            minus[k][index] -= step
            g[index] = np.sum(cotangent * (f(*plus) - f(*minus))) / (2 * step)
        grads.append(g)
    return grads


def _check_vjp(f, vjp, inputs, what):
    y = f(*inputs)
    cotangent = draw(*y.shape, scale=2)
    got = vjp(*inputs, cotangent)
    expected = _central_difference_vjp(f, inputs, cotangent)
    assert len(got) == len(inputs), what
    for k, (g, e) in enumerate(zip(got, expected)):
        assert g.shape == inputs[k].shape and g.dtype == np.float64, (what, k)
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7, err_msg=f"{what}: gradient of input {k}")


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cell_vjps_match_central_differences(kind):
    B, I, H = 2, 3, 2
    G = GATE_COUNT[kind]
    states = [draw(B, H) for _ in range(2 if kind == "lstm" else 1)]
    weights = [draw(G * H, I), draw(G * H, H), draw(G * H, scale=2)] + ([draw(H)] if kind == "gru" else [])
    inputs = [draw(B, I, scale=2), *states, *weights]
    for reset_after, osw in _variants(kind):
        params = {"reset_after": reset_after, "old_state_weight": osw} if kind == "gru" else {}
        cell, cell_vjp = getattr(R, f"{kind}_cell"), getattr(R, f"{kind}_cell_vjp")

        def f(*a, cell=cell, params=params):
            out = cell(*a, **params)
            return out[0] if isinstance(out, tuple) else out

        _check_vjp(f, lambda *a, c=cell_vjp, p=params: c(*a[:-1], a[-1], **p), inputs, f"{kind}_cell {params}")


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("structure", STRUCTURES)
def test_sequence_vjps_match_central_differences(kind, structure):
    T, B, I, H, L, D, batch_first, return_sequences = structure
    inputs = _seq_inputs(kind, T, B, I, H, L, D, batch_first)
    for reset_after in ((False, True) if kind == "gru" else (False,)):
        params = dict(batch_first=batch_first, return_sequences=return_sequences)
        if kind == "gru":
            params["reset_after"] = reset_after
        op, op_vjp = getattr(R, kind), getattr(R, f"{kind}_vjp")
        _check_vjp(lambda *a: op(*a, **params)[0], lambda *a: op_vjp(*a[:-1], a[-1], **params), inputs,
                   f"{kind}{structure} {params}")


def test_long_sequence_vjp_matches_central_differences_on_sampled_entries():
    """200 steps: the gradient w.r.t. the first input and the initial state still flows back exactly."""
    T, B, I, H = 200, 1, 2, 3
    inputs = _seq_inputs("lstm", T, B, I, H)
    params = dict(batch_first=False, return_sequences=True)
    y = R.lstm(*inputs, **params)[0]
    cotangent = draw(*y.shape)
    got = R.lstm_vjp(*inputs, cotangent, **params)
    step = 1e-6
    for k, index in [(0, (0, 0, 1)), (0, (150, 0, 0)), (1, (0, 0, 0, 2)), (2, (0, 0, 0, 1)), (4, (0, 0, 5, 2))]:
        plus = [v.copy() for v in inputs]
        minus = [v.copy() for v in inputs]
        plus[k][index] += step
        minus[k][index] -= step
        numeric = np.sum(cotangent * (R.lstm(*plus, **params)[0] - R.lstm(*minus, **params)[0])) / (2 * step)
        assert got[k][index] == pytest.approx(numeric, rel=1e-6, abs=1e-8), (k, index)


# closed-form identities -----------------------------------------------------------------


def test_mirrored_update_gate_is_the_sign_flip_of_z():
    """old_state_weight="z" with the z rows negated is the default: σ(−a) = 1 − z. The adapters
    rely on this to store the frameworks' mirror convention."""
    H = 3
    inputs = _seq_inputs("gru", 4, 2, 2, H, D=2)
    x, h0, w_ih, w_hh, b, b_hn = inputs
    flip = np.ones(3 * H)
    flip[H:2 * H] = -1
    mirrored = [x, h0, w_ih * flip[:, None], w_hh * flip[:, None], b * flip, b_hn]
    for reset_after in (False, True):
        default = R.gru(*inputs, reset_after)
        mirror = R.gru(*mirrored, reset_after, old_state_weight="z")
        for a, m in zip(default, mirror):
            np.testing.assert_allclose(a, m, rtol=1e-14, atol=1e-15)


def test_reset_placement_is_irrelevant_when_the_reset_gate_is_open():
    """r = 1 (b_r = 60 saturates σ to 1.0 exactly): r⊙(W·h + b_hn) = W·(r⊙h) + b_hn."""
    H = 2
    x, h0, w_ih, w_hh, b, b_hn = _seq_inputs("gru", 3, 2, 2, H)
    b[..., :H] = 60.0
    before, after = R.gru(x, h0, w_ih, w_hh, b, b_hn, False), R.gru(x, h0, w_ih, w_hh, b, b_hn, True)
    np.testing.assert_allclose(before[0], after[0], rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_backward_direction_is_the_forward_one_on_the_reversed_sequence(kind):
    T, B, I, H = 5, 2, 3, 2
    inputs = _seq_inputs(kind, T, B, I, H, D=2)
    n_states = 2 if kind == "lstm" else 1
    both = getattr(R, kind)(*inputs)
    backward_only = [a[:, 1:2] if k >= 1 else a[::-1] for k, a in enumerate(inputs)]
    reversed_run = getattr(R, kind)(*backward_only)
    np.testing.assert_array_equal(both[0][..., H:], reversed_run[0][::-1])
    for k in range(n_states):
        np.testing.assert_array_equal(both[1 + k][:, 1:2], reversed_run[1 + k])


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_stacked_layers_are_the_composition_of_single_layers(kind):
    T, B, H, D = 4, 2, 3, 2
    inputs = _seq_inputs(kind, T, B, D * H, H, L=2, D=D)
    stacked = getattr(R, kind)(*inputs)
    first = getattr(R, kind)(*[a if k == 0 else a[:1] for k, a in enumerate(inputs)])
    second = getattr(R, kind)(first[0], *[a[1:] for a in inputs[1:]])
    np.testing.assert_array_equal(stacked[0], second[0])
    for k in range(1, len(stacked)):
        np.testing.assert_array_equal(stacked[k], np.concatenate([first[k], second[k]]))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_one_step_is_the_cell_and_batch_first_is_the_transpose(kind):
    B, I, H = 3, 2, 4
    inputs = _seq_inputs(kind, 1, B, I, H)
    n_states = 2 if kind == "lstm" else 1
    seq = getattr(R, kind)(*inputs)
    cell = getattr(R, f"{kind}_cell")(inputs[0][0], *[s[0, 0] for s in inputs[1:1 + n_states]],
                                      *[w[0, 0] for w in inputs[1 + n_states:]])
    cell = cell if isinstance(cell, tuple) else (cell,)
    np.testing.assert_array_equal(seq[0][0], cell[0])
    long = _seq_inputs(kind, 6, B, I, H)
    time_first = getattr(R, kind)(*long)
    batch_first = getattr(R, kind)(np.swapaxes(long[0], 0, 1), *long[1:], batch_first=True)
    np.testing.assert_array_equal(np.swapaxes(batch_first[0], 0, 1), time_first[0])
    last = getattr(R, kind)(*long, return_sequences=False)
    np.testing.assert_array_equal(last[0], time_first[0][-1])


def test_saturated_gates_stay_finite_and_exact():
    """Pre-activations of ±1000: σ and tanh saturate to 0/1 and ±1 without overflow, derivatives 0."""
    B, I, H = 1, 1, 1
    x, h, c = np.array([[1.0]]), np.array([[0.5]]), np.array([[2.0]])
    w_ih, w_hh, b = np.full((4, 1), 1000.0), np.zeros((4, 1)), np.array([0.0, 0.0, 0.0, 0.0])
    h_new, c_new = R.lstm_cell(x, h, c, w_ih, w_hh, b)
    assert c_new[0, 0] == 3.0 and h_new[0, 0] == np.tanh(3.0)
    grads = R.lstm_cell_vjp(x, h, c, w_ih, w_hh, b, np.ones((B, H)))
    assert all(np.all(np.isfinite(g)) for g in grads)
    assert grads[0][0, 0] == 0.0  # every gate saturated: nothing flows to x


def test_spec_computes_in_float64_and_the_baseline_form_keeps_float32():
    inputs = [a.astype(np.float32) for a in _seq_inputs("gru", 3, 2, 2, 3)]
    assert all(out.dtype == np.float64 for out in R.gru(*inputs))
    assert all(g.dtype == np.float64 for g in R.gru_vjp(*inputs, np.ones((3, 2, 3), np.float32)))
    assert all(out.dtype == np.float32 for out in R.gru.__wrapped__(*inputs))


def test_stacked_layers_need_input_size_d_times_h():
    inputs = _seq_inputs("rnn", 3, 1, 5, 2, L=2, D=1)
    with pytest.raises(ValueError, match="input size"):
        R.rnn(*inputs)


def test_unknown_gru_variant_is_rejected():
    inputs = _seq_inputs("gru", 2, 1, 1, 1)
    with pytest.raises(ValueError, match="old_state_weight"):
        R.gru(*inputs, old_state_weight="1-r")


# the layout vocabulary ------------------------------------------------------------------


def test_split_biases_round_trip_bit_for_bit_through_negative_zero():
    """b → (b, −0) → b + (−0) is exact for every b, ±0 included; a mirrored gate too."""
    H = 2
    layout = (
        R.Param(("w",), (R.Block("w_ih", "r"), R.Block("w_ih", "z", -1), R.Block("w_ih", "n")), transpose=True),
        R.Param(("u",), (R.Block("w_hh", "r"), R.Block("w_hh", "z", -1), R.Block("w_hh", "n"))),
        R.Param(("b1",), (R.Block("b", "r"), R.Block("b", "z", -1), R.Block("b", "n"))),
        R.Param(("b2",), (R.Block("b", "r", addend=True), R.Block("b", "z", -1, addend=True), R.Block("b_hn", "n"))),
    )
    b = np.array([0.0, -0.0, -0.0, 0.0, 1.5, -2.5])
    weights = {"w_ih": draw(3 * H, 3), "w_hh": draw(3 * H, H), "b": b, "b_hn": np.array([-0.0, 3.0])}
    native = R.assemble("gru", layout, weights, R.NumpyOps)
    assert native[("w",)].shape == (3, 3 * H)
    assert np.signbit(native[("b2",)][:2 * H]).all()  # the second bias is −0
    back = R.disassemble("gru", layout, native, H)
    for name, array in weights.items():
        assert back[name].tobytes() == array.tobytes(), name


# the LSTM with peepholes (Gers & Schmidhuber 2000) -----------------------------------------


@_at_50_digits
def mp_peephole_cell(x, h, c, w_ih, w_hh, b, w_peep):
    """One peephole step for one batch row, term by term: the output gate sees the new c'."""
    H = w_hh.shape[-1]
    W = np.concatenate([w_hh, w_ih], axis=1)
    hx = list(h) + list(x)
    p = [[mpmath.mpf(v) for v in row] for row in w_peep]
    a = [[_affine(W, hx, b, g * H + k) for k in range(H)] for g in range(4)]
    i = [_sigma(a[0][k] + p[0][k] * c[k]) for k in range(H)]
    f = [_sigma(a[1][k] + p[1][k] * c[k]) for k in range(H)]
    g = [mpmath.tanh(a[2][k]) for k in range(H)]
    c_new = [f[k] * c[k] + i[k] * g[k] for k in range(H)]
    o = [_sigma(a[3][k] + p[2][k] * c_new[k]) for k in range(H)]
    return [o[k] * mpmath.tanh(c_new[k]) for k in range(H)], c_new


def _peephole_inputs(B=2, I=3, H=4, scale=1.0):
    return [draw(B, I, scale=3 * scale), draw(B, H), draw(B, H, scale=3), draw(4 * H, I, scale=scale),
            draw(4 * H, H, scale=scale), draw(4 * H, scale=2 * scale), draw(3, H, scale=2 * scale)]


def test_peephole_cell_with_zero_peepholes_is_the_lstm_cell_exactly():
    inputs = _peephole_inputs()
    zero = np.zeros_like(inputs[-1])
    for got, expected in zip(R.lstm_peephole_cell(*inputs[:-1], zero), R.lstm_cell(*inputs[:-1])):
        np.testing.assert_array_equal(got, expected)
    cotangent = draw(2, 4)
    got = R.lstm_peephole_cell_vjp(*inputs[:-1], zero, cotangent)
    for g, e in zip(got, R.lstm_cell_vjp(*inputs[:-1], cotangent)):
        np.testing.assert_array_equal(g, e)
    assert got[-1].shape == zero.shape and np.any(got[-1] != 0)  # the peepholes' own gradient is not zero at 0


@pytest.mark.parametrize("scale", [1.0, 8.0])  # 8: saturated gates
def test_peephole_cell_matches_mpmath(scale):
    inputs = _peephole_inputs(scale=scale)
    x, h, c = inputs[:3]
    got = R.lstm_peephole_cell(*inputs)
    for n in range(x.shape[0]):
        exact = mp_peephole_cell([mpmath.mpf(v) for v in x[n]], [mpmath.mpf(v) for v in h[n]],
                                 [mpmath.mpf(v) for v in c[n]], *inputs[3:])
        for k, e in enumerate(exact):
            _close(got[k][n], [float(v) for v in e], what=f"lstm_peephole_cell output {k}")


def test_peephole_output_gate_sees_the_new_cell_state():
    """With only p_o nonzero, o = σ(a_o + p_o ⊙ c'): the old c would give another h'."""
    x, h, c, w_ih, w_hh, b, w_peep = _peephole_inputs()
    w_peep[:2] = 0
    h_new, c_new = R.lstm_peephole_cell(x, h, c, w_ih, w_hh, b, w_peep)
    H = h.shape[-1]
    a_o = x @ w_ih[3 * H:].T + h @ w_hh[3 * H:].T + b[3 * H:]
    np.testing.assert_allclose(h_new, np.tanh(c_new) / (1 + np.exp(-(a_o + w_peep[2] * c_new))), rtol=1e-14)
    assert not np.allclose(h_new, np.tanh(c_new) / (1 + np.exp(-(a_o + w_peep[2] * c))))


def test_peephole_cell_vjp_matches_central_differences():
    inputs = _peephole_inputs(B=2, I=3, H=2)
    _check_vjp(lambda *a: R.lstm_peephole_cell(*a)[0], R.lstm_peephole_cell_vjp, inputs, "lstm_peephole_cell")
