"""The NumPy reference: pure functions, one module per formula family, float64 throughout."""

from . import (activations, attention, clipping, embedding, encoding, layers, losses, metrics, normalization,
               optimizers, quantization, random, recurrent, schedules)

FAMILIES = {
    "activations": activations,
    "losses": losses,
    "optimizers": optimizers,
    "recurrent": recurrent,
    "attention": attention,
    "encoding": encoding,  # rows of family "attention"
    "normalization": normalization,  # rows of family "attention"
    "schedules": schedules,  # rows of family "optimizers"
    "clipping": clipping,  # rows of family "optimizers"
    "layers": layers,
    "quantization": quantization,
    "embedding": embedding,
    "random": random,
    "metrics": metrics,
}


def formula(name: str):
    """The spec function called ``name`` (an op id, or ``<op>_vjp``), whichever family states it."""
    for module in FAMILIES.values():
        if hasattr(module, name):
            return getattr(module, name)
    raise KeyError(f"the spec states no {name!r}")
