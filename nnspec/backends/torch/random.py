"""Torch adapter, random: F.dropout (what nn.Dropout calls), torch.nn.init's initializers, and freshly
built nn.Linear, nn.Conv2d, nn.LSTM and nn.Embedding layers (their weights as torch initializes them).

torch's layouts are the spec's: (out, in, *receptive) kernels, fan_in = in·receptive. Each call draws from
a generator seeded by ``seed``: initializers take ``generator=``; F.dropout and the layers draw from the
default generator, seeded inside ``torch.random.fork_rng`` so the caller's stream is left as it was.
LeCun normal is ``kaiming_normal_(mode="fan_in", nonlinearity="linear")`` (gain 1: N(0, 1/fan_in)), torch
having no lecun initializer by that name.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch.nn import init

from ..binding import same
from ..declared import unsupported

DTYPES = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@contextlib.contextmanager
def seeded(seed):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _init(fn, shape, seed, dtype, **params):
    weight = torch.empty(tuple(shape), dtype=DTYPES[dtype])
    fn(weight, generator=torch.Generator().manual_seed(seed), **params)
    return weight


class Random:
    UNSUPPORTED = {"orthogonal": unsupported("torch.nn.init.orthogonal_ runs torch.linalg.qr, which has no float16 or "
                                             "bfloat16 kernel ('geqrf_cpu not implemented for Half')",
                                             dtypes={"float16", "bfloat16"})}
    NATIVE_DEFAULTS = {
        "dropout": {"rate": (F.dropout, "p", same), "training": (F.dropout, "training", same)},
        "orthogonal": {"gain": (init.orthogonal_, "gain", float)},
    }

    def dropout(self, x, seed, rate, training):
        with seeded(seed):
            return F.dropout(x, p=rate, training=training)

    def glorot_uniform(self, shape, seed, dtype):
        return _init(init.xavier_uniform_, shape, seed, dtype, gain=1.0)

    def glorot_normal(self, shape, seed, dtype):
        return _init(init.xavier_normal_, shape, seed, dtype, gain=1.0)

    def he_uniform(self, shape, seed, dtype):
        return _init(init.kaiming_uniform_, shape, seed, dtype, a=0.0, mode="fan_in", nonlinearity="relu")

    def he_normal(self, shape, seed, dtype):
        return _init(init.kaiming_normal_, shape, seed, dtype, a=0.0, mode="fan_in", nonlinearity="relu")

    def lecun_normal(self, shape, seed, dtype):
        return _init(init.kaiming_normal_, shape, seed, dtype, mode="fan_in", nonlinearity="linear")

    def orthogonal(self, shape, seed, dtype, gain):
        return _init(init.orthogonal_, shape, seed, dtype, gain=gain)

    # each layer as built, with its own default initialization

    def dense_init(self, shape, seed, dtype):
        with seeded(seed):
            return (torch.nn.Linear(shape[1], shape[0], dtype=DTYPES[dtype]).weight.detach(),)

    def conv2d_init(self, shape, seed, dtype):
        with seeded(seed):
            return (torch.nn.Conv2d(shape[1], shape[0], tuple(shape[2:]), dtype=DTYPES[dtype]).weight.detach(),)

    def embedding_init(self, shape, seed, dtype):
        with seeded(seed):
            return (torch.nn.Embedding(shape[0], shape[1], dtype=DTYPES[dtype]).weight.detach(),)

    def lstm_init(self, shape, seed, dtype):
        with seeded(seed):
            layer = torch.nn.LSTM(shape[1], shape[0], dtype=DTYPES[dtype])
        return layer.weight_ih_l0.detach(), layer.weight_hh_l0.detach()
