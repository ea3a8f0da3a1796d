"""Recurrent networks: the simple RNN, the LSTM and the GRU, one step (cells) and over sequences.

The textbook equations, one canonical weight layout, and the exact vector-Jacobian
product through time (backpropagation through time, in float64).

Equations (σ the logistic sigmoid, ⊙ the elementwise product, W·[h, x] = W_hh·h + W_ih·x)
---------------------------------------------------------------------------------------
* RNN:  h' = tanh(W·[h, x] + b)
* LSTM: i, f, o = σ(W_{i,f,o}·[h, x] + b_{i,f,o}),  g = tanh(W_g·[h, x] + b_g),
        c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c')
* LSTM with peepholes (cell only): as the LSTM, with p_i ⊙ c and p_f ⊙ c added to the input
  and forget gates' pre-activations and p_o ⊙ c' to the output gate's (w_peep (3, H))
* GRU:  r = σ(W_r·[h, x] + b_r),  z = σ(W_z·[h, x] + b_z),
        n = tanh(W_in,n·x + b_n + W_hh,n·(r ⊙ h) + b_hn)          (reset_after=False, the textbook)
        n = tanh(W_in,n·x + b_n + r ⊙ (W_hh,n·h + b_hn))          (reset_after=True)
        h' = (1 − z) ⊙ h + z ⊙ n
  The reset gate multiplies h before the recurrent affine map of the candidate
  (textbook, Keras ``reset_after=False``) or its result (torch, flax, Keras' default).

Canonical layout
----------------
Gates are stacked gate-major in a fixed order: RNN (h), LSTM (i, f, g, o), GRU (r, z, n);
rows k·H … (k+1)·H − 1 of a weight matrix belong to gate k. With batch B, input size I,
hidden size H and G gates:

    x (B, I), h (B, H), c (B, H)      a cell's input and states
    w_ih (G·H, I)                     input weights (acting on x)
    w_hh (G·H, H)                     recurrent weights (acting on h)
    b (G·H,)                          ONE bias per gate and unit
    b_hn (H,)                         GRU only: the candidate's recurrent bias

Frameworks with an input-side and a recurrent-side bias (torch's b_ih, b_hh) hold their
sum in b; the GRU candidate is the exception, since r multiplies its recurrent part in
the reset-after form: that part is b_hn. In the reset-before form b_hn adds to b_n, so
one-bias layouts (Keras ``reset_after=False``) hold b_n + b_hn.

Sequences of T steps through L stacked layers, D directions (D = 2: bidirectional) take
the cells' weights stacked per layer and direction, and their number is read from them:

    x (T, B, I), or (B, T, I) with batch_first
    h0, c0 (L, D, B, H)               initial states (zeros for a zero initial state)
    w_ih (L, D, G·H, I), w_hh (L, D, G·H, H), b (L, D, G·H), b_hn (L, D, H)

Direction 1 reads the sequence backwards. Directions merge by concatenation, forward
first: y_t = [h_t(forward), h_t(backward)], h_t(backward) being the backward
direction's state after it read x_{T−1} … x_t. Layer l > 0 reads layer l − 1's y, so
stacked layers (L > 1) need I = D·H (all layers' w_ih then stack in one array). Outputs:

    y (T, B, D·H) [(B, T, D·H) with batch_first]; with return_sequences=False,
      y (B, D·H) = the last layer's final states [forward after x_{T−1}, backward after x_0]
    h_n, c_n (L, D, B, H)             final states of every layer and direction

VJPs
----
``<op>_vjp(*inputs, cotangent, **params)`` is the gradient of ⟨cotangent, y⟩ (y the first
output: h' for a cell, y for a sequence) with respect to every input, in input order,
computed by backpropagation through time in float64.

Variants (keyword-only, spec side only)
---------------------------------------
* ``old_state_weight`` (GRU): "1-z" (the equations above) or "z": h' = z ⊙ h + (1 − z) ⊙ n,
  the mirror convention every framework measured here stores. The adapters map it with a
  sign flip of the z rows (z_native = σ(−a_z) = 1 − z); one that forgets matches "z".
The reset gate's placement is the spec parameter ``reset_after`` (default False, the
textbook); an adapter whose framework has only the other placement declines it
(Unsupported), and one that silently runs the other placement matches ``reset_after=True``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._float64 import float64

GATES = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
OLD_STATE_WEIGHTS = ("1-z", "z")


# elementwise pieces, accurate in every range (shared by forward and backward) ----------


def _sigmoid(a):
    """σ(a) and σ'(a) = e/(1+e)², e = e^{−|a|}: no overflow, no cancellation."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)), e / ((1 + e) * (1 + e))


def _tanh(a):
    """tanh(a) and tanh'(a) = 1 − tanh² = 4e/(1+e)², e = e^{−2|a|}."""
    e = np.exp(-2 * np.abs(a))
    return np.tanh(a), 4 * e / ((1 + e) * (1 + e))


# one step: forward with its cache, and backward -----------------------------------------


def _step(kind, x, state, w_ih, w_hh, b, b_hn, reset_after, old_state_weight):
    """The new state (a tuple: (h,) or (h, c)) and what the backward step needs."""
    h = state[0]
    H = h.shape[-1]
    if kind == "rnn":
        a = x @ w_ih.T + h @ w_hh.T + b
        t, dt = _tanh(a)
        return (t,), (x, h, dt)
    if kind == "lstm":
        a = x @ w_ih.T + h @ w_hh.T + b
        (i, di), (f, df), (g, dg), (o, do) = (
            _sigmoid(a[..., :H]), _sigmoid(a[..., H:2 * H]), _tanh(a[..., 2 * H:3 * H]), _sigmoid(a[..., 3 * H:]))
        c = state[1]
        c_new = f * c + i * g
        tc, dtc = _tanh(c_new)
        return (o * tc, c_new), (x, h, c, i, di, f, df, g, dg, o, do, tc, dtc)
    # gru
    ax = x @ w_ih.T + b
    ah = h @ w_hh[:2 * H].T
    r, dr = _sigmoid(ax[..., :H] + ah[..., :H])
    a_z = ax[..., H:2 * H] + ah[..., H:]
    z, dz = _sigmoid(a_z)
    not_z = _sigmoid(-a_z)[0]  # 1 − z without cancellation
    w_hn = w_hh[2 * H:]
    if reset_after:
        hn = h @ w_hn.T + b_hn
        n, dn = _tanh(ax[..., 2 * H:] + r * hn)
    else:
        hn = None
        n, dn = _tanh(ax[..., 2 * H:] + (r * h) @ w_hn.T + b_hn)
    keep, take = (not_z, z) if old_state_weight == "1-z" else (z, not_z)
    return (keep * h + take * n,), (x, h, r, dr, z, dz, keep, take, n, dn, hn)


def _step_back(kind, cache, d_state, w_ih, w_hh, reset_after, old_state_weight):
    """(dx, d_state, dw_ih, dw_hh, db, db_hn) of one step, from the new state's cotangents."""
    if kind == "rnn":
        x, h, dt = cache
        da = d_state[0] * dt
        return da @ w_ih, (da @ w_hh,), da.T @ x, da.T @ h, da.sum(0), None
    if kind == "lstm":
        x, h, c, i, di, f, df, g, dg, o, do, tc, dtc = cache
        dh_new, dc_new = d_state
        dc = dc_new + dh_new * o * dtc
        da = np.concatenate([dc * g * di, dc * c * df, dc * i * dg, dh_new * tc * do], axis=-1)
        return da @ w_ih, (da @ w_hh, dc * f), da.T @ x, da.T @ h, da.sum(0), None
    x, h, r, dr, z, dz, keep, take, n, dn, hn = cache
    H = h.shape[-1]
    dh_new = d_state[0]
    sign = 1 if old_state_weight == "1-z" else -1  # d(keep)/dz = −sign, d(take)/dz = +sign
    da_z = dh_new * sign * (n - h) * dz
    da_n = dh_new * take * dn
    dh = dh_new * keep
    w_hn = w_hh[2 * H:]
    if reset_after:
        dhn = da_n * r
        da_r = da_n * hn * dr
        dh = dh + dhn @ w_hn
        dw_hn, db_hn = dhn.T @ h, dhn.sum(0)
    else:
        d_rh = da_n @ w_hn
        da_r = d_rh * h * dr
        dh = dh + d_rh * r
        dw_hn, db_hn = da_n.T @ (r * h), da_n.sum(0)
    da_x = np.concatenate([da_r, da_z, da_n], axis=-1)
    da_h = np.concatenate([da_r, da_z], axis=-1)
    dh = dh + da_h @ w_hh[:2 * H]
    dw_hh = np.concatenate([da_h.T @ h, dw_hn], axis=0)
    return da_x @ w_ih, (dh,), da_x.T @ x, dw_hh, da_x.sum(0), db_hn


# sequences ------------------------------------------------------------------------------


def _states(kind, *arrays):
    return tuple(arrays[:2] if kind == "lstm" else arrays[:1])


def _check_stack(x, w_ih, H):
    L, D = w_ih.shape[:2]
    if L > 1 and x.shape[-1] != D * H:
        raise ValueError(f"{L} stacked layers need input size D·H = {D * H} (one w_ih array); got {x.shape[-1]}")


def _run(kind, x, states0, weights, reset_after, old_state_weight):
    """Every layer and direction over time-first x. Returns y (T, B, D·H), final states, caches."""
    w_ih, w_hh, b, b_hn = weights
    L, D = w_ih.shape[:2]
    _check_stack(x, w_ih, w_hh.shape[-1])
    finals, caches, layer_in = [], [], x
    for layer in range(L):
        outs = []
        for d in range(D):
            state = tuple(s[layer, d] for s in states0)
            steps = range(x.shape[0]) if d == 0 else reversed(range(x.shape[0]))
            hs, step_caches = [None] * x.shape[0], {}
            for t in steps:
                state, step_caches[t] = _step(
                    kind, layer_in[t], state, w_ih[layer, d], w_hh[layer, d], b[layer, d],
                    None if b_hn is None else b_hn[layer, d], reset_after, old_state_weight)
                hs[t] = state[0]
            outs.append(np.stack(hs))
            finals.append(state)
            caches.append(step_caches)
        layer_in = np.concatenate(outs, axis=-1)
    final = tuple(np.stack([f[k] for f in finals]).reshape(states0[k].shape) for k in range(len(states0)))
    return layer_in, final, caches


def _outputs(kind, y, final, batch_first, return_sequences):
    if return_sequences:
        out = np.swapaxes(y, 0, 1) if batch_first else y
    else:
        out = np.concatenate(list(final[0][-1]), axis=-1)  # the last layer's final h, directions concatenated
    return (out,) + final


def _sequence(kind, x, states0, weights, reset_after, batch_first, return_sequences, old_state_weight="1-z"):
    x = np.swapaxes(x, 0, 1) if batch_first else x
    y, final, _ = _run(kind, x, states0, weights, reset_after, old_state_weight)
    return _outputs(kind, y, final, batch_first, return_sequences)


def _sequence_vjp(kind, x, states0, weights, cotangent, reset_after, batch_first, return_sequences,
                  old_state_weight="1-z"):
    """Backpropagation through time: layer by layer from the top, each direction through its steps."""
    x = np.swapaxes(x, 0, 1) if batch_first else x
    y, final, caches = _run(kind, x, states0, weights, reset_after, old_state_weight)
    w_ih, w_hh, b, b_hn = weights
    L, D = w_ih.shape[:2]
    H = w_hh.shape[-1]
    T = x.shape[0]
    grads = [np.zeros_like(w) for w in (w_ih, w_hh, b)] + [None if b_hn is None else np.zeros_like(b_hn)]
    d_states0 = [np.zeros_like(s) for s in states0]
    d_final = [np.zeros_like(s) for s in states0]
    if return_sequences:
        dy = np.swapaxes(cotangent, 0, 1) if batch_first else cotangent
    else:
        dy = np.zeros_like(y)
        for d in range(D):
            d_final[0][L - 1, d] = cotangent[..., d * H:(d + 1) * H]
    for layer in reversed(range(L)):
        d_in = np.zeros(x.shape, dtype=dy.dtype)  # every layer's input is x's width (I = D·H when L > 1)
        for d in range(D):
            step_caches = caches[layer * D + d]
            d_state = tuple(s[layer, d] for s in d_final)
            steps = reversed(range(T)) if d == 0 else range(T)
            for t in steps:
                d_state = (d_state[0] + dy[t, ..., d * H:(d + 1) * H],) + d_state[1:]
                dx, d_state, dwi, dwh, db, dbn = _step_back(
                    kind, step_caches[t], d_state, w_ih[layer, d], w_hh[layer, d], reset_after, old_state_weight)
                d_in[t] += dx
                grads[0][layer, d] += dwi
                grads[1][layer, d] += dwh
                grads[2][layer, d] += db
                if dbn is not None:
                    grads[3][layer, d] += dbn
            for k, s in enumerate(d_state):
                d_states0[k][layer, d] = s
        dy = d_in
    dx = np.swapaxes(dy, 0, 1) if batch_first else dy
    return dx, d_states0, grads


def _check_gru(reset_after, old_state_weight):
    if old_state_weight not in OLD_STATE_WEIGHTS:
        raise ValueError(f"old_state_weight must be one of {OLD_STATE_WEIGHTS}, got {old_state_weight!r}")
    if reset_after not in (True, False):
        raise ValueError(f"reset_after must be a bool, got {reset_after!r}")


# cells ----------------------------------------------------------------------------------


@float64
def rnn_cell(x, h, w_ih, w_hh, b):
    """h' = tanh(W·[h, x] + b) = tanh(w_ih·x + w_hh·h + b), one step of the simple (Elman) RNN.

    Shapes: x (B, I), h (B, H), w_ih (H, I), w_hh (H, H), b (H,).
    VJP (a = the pre-activation, δ = g ⊙ (1 − h'²)): dx = δ·w_ih, dh = δ·w_hh,
    dw_ih = δᵀx, dw_hh = δᵀh, db = Σ_batch δ.
    """
    return _step("rnn", x, (h,), w_ih, w_hh, b, None, False, "1-z")[0][0]


@float64
def rnn_cell_vjp(x, h, w_ih, w_hh, b, cotangent):
    _, cache = _step("rnn", x, (h,), w_ih, w_hh, b, None, False, "1-z")
    dx, (dh,), dwi, dwh, db, _ = _step_back("rnn", cache, (cotangent,), w_ih, w_hh, False, "1-z")
    return dx, dh, dwi, dwh, db


@float64
def lstm_cell(x, h, c, w_ih, w_hh, b):
    """(h', c'): c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c'), gates (i, f, g, o) from w_ih·x + w_hh·h + b.

    i, f, o = σ(·), g = tanh(·). Shapes: x (B, I), h and c (B, H), w_ih (4H, I), w_hh (4H, H),
    b (4H,), gate order (i, f, g, o). The VJP differentiates ⟨cotangent, h'⟩:
    dc' = g_h ⊙ o ⊙ tanh'(c'), dc = dc' ⊙ f, and through each gate's pre-activation
    (di = dc'⊙g⊙σ', df = dc'⊙c⊙σ', dg = dc'⊙i⊙tanh', do = g_h⊙tanh(c')⊙σ') to x, h, w, b.
    """
    return _step("lstm", x, (h, c), w_ih, w_hh, b, None, False, "1-z")[0]


@float64
def lstm_cell_vjp(x, h, c, w_ih, w_hh, b, cotangent):
    _, cache = _step("lstm", x, (h, c), w_ih, w_hh, b, None, False, "1-z")
    dx, (dh, dc), dwi, dwh, db, _ = _step_back("lstm", cache, (cotangent, np.zeros_like(c)), w_ih, w_hh, False, "1-z")
    return dx, dh, dc, dwi, dwh, db


def _peephole_step(x, h, c, w_ih, w_hh, b, w_peep):
    """(h', c') of the peephole LSTM and what its backward step needs."""
    H = h.shape[-1]
    p_i, p_f, p_o = w_peep
    a = x @ w_ih.T + h @ w_hh.T + b
    (i, di), (f, df), (g, dg) = (
        _sigmoid(a[..., :H] + p_i * c), _sigmoid(a[..., H:2 * H] + p_f * c), _tanh(a[..., 2 * H:3 * H]))
    c_new = f * c + i * g
    o, do = _sigmoid(a[..., 3 * H:] + p_o * c_new)  # the output gate peeks at the NEW cell state
    tc, dtc = _tanh(c_new)
    return (o * tc, c_new), (x, h, c, i, di, f, df, g, dg, o, do, c_new, tc, dtc)


def _peephole_step_back(cache, d_state, w_ih, w_hh, w_peep):
    """(dx, dh, dc, dw_ih, dw_hh, db, dw_peep) of one peephole step, from (dh', dc')."""
    x, h, c, i, di, f, df, g, dg, o, do, c_new, tc, dtc = cache
    p_i, p_f, p_o = w_peep
    dh_new, dc_new = d_state
    da_o = dh_new * tc * do
    dc_total = dc_new + dh_new * o * dtc + da_o * p_o  # c' reaches h' through tanh(c') and through o
    da_i, da_f, da_g = dc_total * g * di, dc_total * c * df, dc_total * i * dg
    dc = dc_total * f + da_i * p_i + da_f * p_f
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=-1)
    dw_peep = np.stack([(da_i * c).sum(0), (da_f * c).sum(0), (da_o * c_new).sum(0)])
    return da @ w_ih, da @ w_hh, dc, da.T @ x, da.T @ h, da.sum(0), dw_peep


@float64
def lstm_peephole_cell(x, h, c, w_ih, w_hh, b, w_peep):
    """(h', c') of the LSTM with peephole connections (Gers & Schmidhuber 2000; TF1's
    ``LSTMCell(use_peepholes=True)``): the gates also see the cell state, elementwise.

    i = σ(W_i x + U_i h + p_i ⊙ c + b_i),  f = σ(W_f x + U_f h + p_f ⊙ c + b_f),
    g = tanh(W_g x + U_g h + b_g),  c' = f ⊙ c + i ⊙ g,
    o = σ(W_o x + U_o h + p_o ⊙ c' + b_o),  h' = o ⊙ tanh(c').
    The output gate peeks at the new state c', the input and forget gates at the old c.
    Shapes as ``lstm_cell`` (gate order (i, f, g, o)) plus w_peep (3, H), rows (p_i, p_f, p_o);
    w_peep = 0 is ``lstm_cell``. The VJP differentiates ⟨cotangent, h'⟩:
    da_o = g_h ⊙ tanh(c') ⊙ σ', dc' = g_h ⊙ o ⊙ tanh'(c') + da_o ⊙ p_o,
    da_i = dc' ⊙ g ⊙ σ', da_f = dc' ⊙ c ⊙ σ', da_g = dc' ⊙ i ⊙ tanh',
    dc = dc' ⊙ f + da_i ⊙ p_i + da_f ⊙ p_f, dw_peep = Σ_batch (da_i ⊙ c, da_f ⊙ c, da_o ⊙ c'),
    and through the affine maps to x, h, w_ih, w_hh, b as ``lstm_cell``.
    """
    return _peephole_step(x, h, c, w_ih, w_hh, b, w_peep)[0]


@float64
def lstm_peephole_cell_vjp(x, h, c, w_ih, w_hh, b, w_peep, cotangent):
    _, cache = _peephole_step(x, h, c, w_ih, w_hh, b, w_peep)
    return _peephole_step_back(cache, (cotangent, np.zeros_like(c)), w_ih, w_hh, w_peep)


@float64
def gru_cell(x, h, w_ih, w_hh, b, b_hn, reset_after=False, *, old_state_weight="1-z"):
    """h' = (1 − z) ⊙ h + z ⊙ n: z, r = σ(W_{z,r}·[h, x] + b_{z,r}), n = tanh(W_n·[r ⊙ h, x] + b_n + b_hn).

    reset_after=True: n = tanh(w_ih,n·x + b_n + r ⊙ (w_hh,n·h + b_hn)).
    old_state_weight="z" (variant): h' = z ⊙ h + (1 − z) ⊙ n.
    Shapes: x (B, I), h (B, H), w_ih (3H, I), w_hh (3H, H), b (3H,), b_hn (H,); gate order
    (r, z, n). 1 − z is computed as σ(−a_z). VJP: dz = g ⊙ (n − h) (sign flipped for "z"),
    dn = g ⊙ z, dh = g ⊙ (1 − z) + the paths through r, z and n, as in ``_step_back``.
    """
    _check_gru(reset_after, old_state_weight)
    return _step("gru", x, (h,), w_ih, w_hh, b, b_hn, reset_after, old_state_weight)[0][0]


@float64
def gru_cell_vjp(x, h, w_ih, w_hh, b, b_hn, cotangent, reset_after=False, *, old_state_weight="1-z"):
    _check_gru(reset_after, old_state_weight)
    _, cache = _step("gru", x, (h,), w_ih, w_hh, b, b_hn, reset_after, old_state_weight)
    dx, (dh,), dwi, dwh, db, dbn = _step_back("gru", cache, (cotangent,), w_ih, w_hh, reset_after, old_state_weight)
    return dx, dh, dwi, dwh, db, dbn


# sequences ------------------------------------------------------------------------------


@float64
def rnn(x, h0, w_ih, w_hh, b, batch_first=False, return_sequences=True):
    """(y, h_n): ``rnn_cell`` over T steps, L stacked layers and D directions (from w_ih's (L, D) axes).

    Shapes in the module docstring. Directions concatenate forward first; with
    return_sequences=False y is the last layer's final h of each direction, concatenated.
    VJP: backpropagation through time of ⟨cotangent, y⟩, gradients of (x, h0, w_ih, w_hh, b).
    """
    return _sequence("rnn", x, (h0,), (w_ih, w_hh, b, None), False, batch_first, return_sequences)


@float64
def rnn_vjp(x, h0, w_ih, w_hh, b, cotangent, batch_first=False, return_sequences=True):
    dx, (dh0,), (dwi, dwh, db, _) = _sequence_vjp(
        "rnn", x, (h0,), (w_ih, w_hh, b, None), cotangent, False, batch_first, return_sequences)
    return dx, dh0, dwi, dwh, db


@float64
def lstm(x, h0, c0, w_ih, w_hh, b, batch_first=False, return_sequences=True):
    """(y, h_n, c_n): ``lstm_cell`` over T steps, L stacked layers and D directions (from w_ih's (L, D) axes).

    Shapes in the module docstring; gate order (i, f, g, o). VJP: backpropagation through
    time of ⟨cotangent, y⟩, gradients of (x, h0, c0, w_ih, w_hh, b).
    """
    return _sequence("lstm", x, (h0, c0), (w_ih, w_hh, b, None), False, batch_first, return_sequences)


@float64
def lstm_vjp(x, h0, c0, w_ih, w_hh, b, cotangent, batch_first=False, return_sequences=True):
    dx, (dh0, dc0), (dwi, dwh, db, _) = _sequence_vjp(
        "lstm", x, (h0, c0), (w_ih, w_hh, b, None), cotangent, False, batch_first, return_sequences)
    return dx, dh0, dc0, dwi, dwh, db


@float64
def gru(x, h0, w_ih, w_hh, b, b_hn, reset_after=False, batch_first=False, return_sequences=True, *,
        old_state_weight="1-z"):
    """(y, h_n): ``gru_cell`` over T steps, L stacked layers and D directions (from w_ih's (L, D) axes).

    Shapes in the module docstring; gate order (r, z, n); reset_after and
    old_state_weight as in ``gru_cell``. VJP: backpropagation through time of
    ⟨cotangent, y⟩, gradients of (x, h0, w_ih, w_hh, b, b_hn).
    """
    _check_gru(reset_after, old_state_weight)
    return _sequence("gru", x, (h0,), (w_ih, w_hh, b, b_hn), reset_after, batch_first, return_sequences,
                     old_state_weight)


@float64
def gru_vjp(x, h0, w_ih, w_hh, b, b_hn, cotangent, reset_after=False, batch_first=False, return_sequences=True, *,
            old_state_weight="1-z"):
    _check_gru(reset_after, old_state_weight)
    dx, (dh0,), (dwi, dwh, db, dbn) = _sequence_vjp(
        "gru", x, (h0,), (w_ih, w_hh, b, b_hn), cotangent, reset_after, batch_first, return_sequences,
        old_state_weight)
    return dx, dh0, dwi, dwh, db, dbn


# Weight layouts: a framework's parameter tensors described in canonical terms -----------
#
# Every adapter states its framework's layout as data (``Param``s made of ``Block``s); the
# same tables build the native parameters (``assemble``, in the framework's own array
# ops, so gradients flow back to the canonical arrays), read them back (``disassemble``,
# exact), and generate the porting guide (nnspec/conformance/porting.py).

SOURCE_GATES = {"w_ih": None, "w_hh": None, "b": None, "b_hn": ("n",)}  # None: the op's gates


@dataclass(frozen=True)
class Block:
    """H consecutive entries along a native tensor's gate axis: gate ``gate`` of canonical ``source``.

    sign=−1: the framework stores the mirror gate (its z is σ(−a_z) = 1 − z): entries negated.
    addend: the framework's second bias of this gate (torch's bias_hh), which it adds to the
      first: written as −0, the sum's exact identity; read back, added to the canonical bias.
    plus: another canonical array the framework cannot hold apart and adds in (Keras'
      reset-before GRU: one candidate bias b_n + b_hn); read back, that array is −0.
    """

    source: str
    gate: str
    sign: int = 1
    addend: bool = False
    plus: str | None = None


@dataclass(frozen=True)
class Param:
    """One native tensor: its path in the framework's parameter tree and its blocks along the gate
    axis (a tuple of such tuples for a stacked 2-D bias, Keras' GRU (2, 3H)); ``transpose``: stored
    (fan_in, gates·H), the transpose of the canonical (gates·H, fan_in)."""

    path: tuple
    blocks: tuple
    transpose: bool = False

    @property
    def rows(self) -> tuple:
        return self.blocks if isinstance(self.blocks[0], tuple) else (self.blocks,)


class NumpyOps:
    """``assemble``'s array ops in NumPy, whose negation, −0 and + are exact (no flush-to-zero)."""

    concat = staticmethod(lambda pieces: np.concatenate(pieces, axis=0))
    stack = staticmethod(np.stack)
    transpose = staticmethod(np.transpose)
    negative_zeros = staticmethod(lambda like: np.full_like(like, -0.0))


def gate_rows(kind, source, gate, H):
    """The slice of canonical ``source`` rows holding ``gate``."""
    gates = SOURCE_GATES[source] or GATES[kind]
    k = gates.index(gate)
    return slice(k * H, (k + 1) * H)


def assemble(kind, layout, weights, ops):
    """Native tensors {path: tensor} from canonical ``weights`` (one layer and direction).

    ``ops`` supplies the framework's concat(list), stack(list), transpose(2-D) and
    negative_zeros(like); slicing, negation and + are the arrays' own.
    """
    H = weights["w_hh"].shape[-1]
    native = {}
    for param in layout:
        rows = []
        for blocks in param.rows:
            pieces = []
            for block in blocks:
                piece = weights[block.source][gate_rows(kind, block.source, block.gate, H)]
                if block.addend:
                    piece = ops.negative_zeros(piece)
                elif block.sign < 0:
                    piece = -piece
                if block.plus is not None:
                    piece = piece + weights[block.plus]
                pieces.append(piece)
            rows.append(pieces[0] if len(pieces) == 1 else ops.concat(pieces))
        tensor = rows[0] if len(rows) == 1 else ops.stack(rows)
        native[param.path] = ops.transpose(tensor) if param.transpose else tensor
    return native


def disassemble(kind, layout, native, H):
    """Canonical weights {name: array} back from NumPy copies of the native tensors {path: array}.

    A canonical bias split in two native ones is their sum (value + addend: exact when the
    addend is the −0 ``assemble`` wrote); a ``plus`` array comes back as −0.
    """
    values, addends, plus = {}, {}, set()
    for param in layout:
        tensor = native[param.path]
        tensor = tensor.T if param.transpose else tensor
        for row, blocks in enumerate(param.rows):
            data = tensor[row] if len(param.rows) > 1 else tensor
            for k, block in enumerate(blocks):
                piece = data[k * H:(k + 1) * H]
                (addends if block.addend else values)[(block.source, block.gate)] = (piece, block.sign)
                if block.plus is not None:
                    plus.add(block.plus)
    weights = {}
    for source in dict.fromkeys(s for s, _ in values):
        gates = SOURCE_GATES[source] or GATES[kind]
        pieces = []
        for gate in gates:
            piece, sign = values[(source, gate)]
            if (source, gate) in addends:
                piece = piece + addends[(source, gate)][0]
            pieces.append(-piece if sign < 0 else piece)
        weights[source] = np.concatenate(pieces, axis=0)
    for source in plus:
        weights[source] = np.full((H,), -0.0, dtype=weights["b"].dtype)
    return weights
