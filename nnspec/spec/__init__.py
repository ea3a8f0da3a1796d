"""The NumPy reference: pure functions, one module per formula family, float64 throughout."""

from . import activations

FAMILIES = {"activations": activations}
