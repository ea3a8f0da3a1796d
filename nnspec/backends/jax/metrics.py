"""JAX adapter, metrics: jax.nn.standardize and flax.training.early_stopping.EarlyStopping.

JAX, flax and optax have no classification metrics, no ROC AUC and no min-max scaler (the
metrics libraries of the JAX world, clu and metrax, are not part of this stack): those ops are
declared unsupported, and with them the streaming check.

* ``standard_scale``: jax.nn.standardize(x, axis=0, epsilon=ε) — (x − mean)·rsqrt(var + ε), the
  biased variance (ddof FIXED 0); ε = 0 on a constant column is 0·rsqrt(0).
* ``early_stopping``: flax's EarlyStopping(min_delta, patience), ``update(v)`` per epoch until
  ``should_stop``; the best epoch is the last epoch its ``has_improved`` was true. It minimizes
  only (mode FIXED "min") and has no baseline (FIXED None). Run on the host (flax's state is a
  Python dataclass of floats).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax.training import early_stopping as flax_early_stopping

from ..binding import same
from ..declared import unsupported

NO_METRICS = ("JAX, flax and optax have no classification metrics (clu/metrax are not part of this stack)")
EarlyStopping = flax_early_stopping.EarlyStopping


def _host(method):
    method.on_host = True  # JaxBackend.call runs it eagerly: flax's EarlyStopping is stepped from Python
    return method


class Metrics:
    UNSUPPORTED = {
        **{op: unsupported(NO_METRICS) for op in ("accuracy", "top_k_accuracy", "confusion_matrix", "precision",
                                                  "recall", "f1", "roc_auc")},
        "min_max_scale": unsupported("JAX has no min-max scaler (jax.nn.standardize standardizes)"),
    }
    FIXED = {
        "standard_scale": {"ddof": (jax.nn.standardize, 0)},
        "early_stopping": {"mode": (EarlyStopping, "min"), "baseline": (EarlyStopping, None)},
    }
    NATIVE_DEFAULTS = {
        "standard_scale": {"epsilon": (jax.nn.standardize, "epsilon", same)},
        "early_stopping": {"patience": (EarlyStopping, "patience", same),
                           "min_delta": (EarlyStopping, "min_delta", same)},
    }

    def standard_scale(self, x, ddof, epsilon):
        return jax.nn.standardize(x, axis=0, epsilon=jnp.asarray(epsilon, x.dtype))

    @_host
    def early_stopping(self, start, values, patience, min_delta, mode, baseline):
        state = EarlyStopping(min_delta=min_delta, patience=patience)
        rows, best_epoch = [], 0
        for t, v in enumerate(np.asarray(values).astype(np.float64)):
            if not state.should_stop:
                state = state.update(float(v))
                best_epoch = t if state.has_improved else best_epoch
            rows.append((float(state.should_stop), float(best_epoch)))
        return jnp.asarray(np.array(rows), dtype=values.dtype)
