"""Declarative bindings and catalogue validation: an op is declared once per backend, and what
cannot be right fails when the adapter class (or the catalogue) is built."""

from __future__ import annotations

import inspect
from dataclasses import replace

import numpy as np
import pytest

from nnspec.backends import Backend, load_backend
from nnspec.backends.binding import BindingError, bind
from nnspec.benchmarks.native import native_for
from nnspec.conformance.catalogue import CATALOGUE, CatalogueError, build, validate
from nnspec.spec import activations as A


def native_gelu(x, approximate=True):
    """Stands in for a framework gelu with a bool ``approximate`` (as Keras' and jax's)."""
    return A.gelu(x, approximate="tanh" if approximate else "none")


def native_leaky(x, negative_slope=0.3):
    """Stands in for a framework leaky_relu whose slope keyword is not the spec's name."""
    return A.leaky_relu(x, alpha=negative_slope)


class Throwaway(Backend):
    """A backend of two bound ops only: everything about them must derive from the bindings."""

    name = "throwaway"
    BINDINGS = {
        "gelu": bind(native_gelu, translate={"approximate": {"none": False, "tanh": True}}),
        "leaky_relu": bind(native_leaky, alpha="negative_slope", composed=True),
    }

    def asarray(self, array, device):
        return np.array(array, copy=True)

    def to_numpy(self, tensor):
        return np.asarray(tensor)


# (a) a wrong binding fails when the class is built, naming adapter, op and parameter -------------


def make(bindings, base=Backend):
    return type("Wrong", (base,), {"name": "wrong", "BINDINGS": bindings})


def test_a_misspelt_op_fails_at_class_creation():
    with pytest.raises(BindingError, match=r"Wrong.*binding 'gleu'.*spec states no op 'gleu'"):
        make({"gleu": bind(native_gelu)})


def test_an_unknown_parameter_fails_at_class_creation():
    with pytest.raises(BindingError, match=r"binding 'leaky_relu'.*'slope'.*not a parameter of spec leaky_relu"):
        make({"leaky_relu": bind(native_leaky, slope="negative_slope")})
    with pytest.raises(BindingError, match=r"binding 'gelu'.*translate names 'approx'"):
        make({"gelu": bind(native_gelu, translate={"approx": {"none": False}})})


def test_an_unmapped_parameter_fails_at_class_creation():
    with pytest.raises(BindingError, match=r"binding 'leaky_relu'.*spec parameter 'alpha' is unmapped.*"
                                           r"native_leaky has no keyword 'alpha'"):
        make({"leaky_relu": bind(native_leaky)})


def test_a_vjp_a_non_binding_and_a_binding_beside_a_method_fail():
    with pytest.raises(BindingError, match="is a VJP"):
        make({"gelu_vjp": bind(native_gelu)})
    with pytest.raises(BindingError, match="not a Binding"):
        make({"gelu": native_gelu})

    class Mixin:
        BINDINGS = {"relu": bind(A.relu)}

        def relu(self, x):
            return x

    with pytest.raises(BindingError, match="'relu' is both a binding and a method"):
        type("Both", (Mixin, Backend), {})


def test_a_torch_builtin_without_signature_is_checked_from_its_docstring():
    torch = pytest.importorskip("torch")
    with pytest.raises(BindingError, match=r"'approximate' is unmapped.*sigmoid has no keyword 'approximate'"):
        make({"gelu": bind(torch.sigmoid)})  # sigmoid(input, *, out=None): no approximate


class AnnotatedBuiltin:
    """A C-extension function as nanobind shows it: no inspect.signature, an annotated docstring signature."""

    __doc__ = ("attention(q: array, k: array, *, scale: float, mask: None | str | array = None, "
               "axis: Union[None, int, Sequence[int]] = -1, shape: tuple[int, int] = (2, 3), precise: bool = False) "
               "-> array\n\nThe fused attention.")
    __signature__ = property(lambda self: (_ for _ in ()).throw(ValueError("no signature found for builtin")))

    def __call__(self, *args, **kwargs):
        raise NotImplementedError


def test_defaults_are_read_from_an_annotated_docstring_signature():
    from nnspec.backends.binding import native_default_of

    fn = AnnotatedBuiltin()
    with pytest.raises(ValueError):
        inspect.signature(fn)
    assert native_default_of(fn, "mask") is None
    assert native_default_of(fn, "axis") == -1
    assert native_default_of(fn, "shape") == (2, 3)
    assert native_default_of(fn, "precise") is False
    with pytest.raises(LookupError):
        native_default_of(fn, "scale")  # annotated, no default: never the next parameter's


# (b) everything derives from the binding ------------------------------------------------------


def test_a_binding_gives_call_implements_signature_and_composed():
    backend = Throwaway()
    x = np.array([-1.0, 0.5, 2.0])
    assert backend.implements("gelu") and backend.implements("leaky_relu") and not backend.implements("relu")
    np.testing.assert_array_equal(backend.call("gelu", [x], {"approximate": "tanh"}), A.gelu(x, approximate="tanh"))
    np.testing.assert_array_equal(backend.call("leaky_relu", [x], {"alpha": 0.5}), A.leaky_relu(x, alpha=0.5))
    assert list(inspect.signature(backend.gelu).parameters) == ["x", "approximate"]
    assert backend.is_composed("leaky_relu") and not backend.is_composed("gelu")


def test_a_binding_gives_native_defaults_in_spec_vocabulary():
    backend = Throwaway()
    assert backend.native_default("gelu", "approximate") == "tanh"  # True, read from native_gelu's signature
    assert backend.native_default("leaky_relu", "alpha") == 0.3
    assert backend.native_name("leaky_relu", "alpha").endswith("native_leaky(negative_slope=...)")


def test_a_binding_gives_the_benchmarks_native_callable():
    native = native_for(Throwaway(), "leaky_relu")
    assert native.fn is native_leaky
    call = native.partial({"alpha": 0.5})
    assert call.keywords == {"negative_slope": 0.5}
    assert native_for(Throwaway(), "relu") is None


def test_a_hand_written_override_beats_the_binding_and_reaches_it_with_super():
    class Doubled(Throwaway):
        def gelu(self, x, approximate):
            return 2 * super().gelu(x, approximate)

    x = np.array([1.0])
    assert Doubled().call("gelu", [x], {"approximate": "none"}) == 2 * A.gelu(x)
    assert Doubled().binding("gelu") is None and Throwaway().binding("gelu") is not None
    assert Doubled().native_default("gelu", "approximate") == "tanh"  # still declared by the binding


# (c) the built-in adapters' defaults, read through their bindings, are today's -----------------

EXPECTED_DEFAULTS = {
    "torch": {("leaky_relu", "alpha"): 0.01, ("gelu", "approximate"): "none", ("softmax", "axis"): None,
              ("log_softmax", "axis"): None, ("elu", "alpha"): 1.0},
    "tensorflow": {("leaky_relu", "alpha"): 0.2, ("gelu", "approximate"): "none", ("softmax", "axis"): -1,
                   ("log_softmax", "axis"): -1, ("elu", "alpha"): 1.0},
    "jax": {("leaky_relu", "alpha"): 0.01, ("gelu", "approximate"): "tanh", ("softmax", "axis"): -1,
            ("log_softmax", "axis"): -1, ("elu", "alpha"): 1.0},
}
NATIVE_NAMES = {"torch": "torch.nn.functional.softmax(dim=...)", "tensorflow": "softmax(axis=...)",
                "jax": "softmax(axis=...)"}


@pytest.mark.parametrize("name", list(EXPECTED_DEFAULTS))
def test_builtin_native_defaults_read_through_bindings(name):
    pytest.importorskip("keras" if name == "tensorflow" else name)
    backend = load_backend(name)
    for (op, parameter), expected in EXPECTED_DEFAULTS[name].items():
        assert backend.binding(op) is not None, op
        value = backend.native_default(op, parameter)
        assert value == expected and type(value) is type(expected), (op, parameter, value)
    assert backend.native_name("softmax", "axis").endswith(NATIVE_NAMES[name])


@pytest.mark.parametrize("name", ["numpy", "torch", "tensorflow", "jax"])
def test_every_activation_is_bound(name):
    pytest.importorskip("keras" if name == "tensorflow" else name)
    backend = load_backend(name)
    # an activation with a learned weight (prelu) is a layer in Keras and flax: a method, not a binding
    for op in (e.op for e in CATALOGUE.values() if e.family == "activations" and e.inputs is None):
        assert backend.binding(op) is not None, op
        assert native_for(backend, op, CATALOGUE[op].forward) is not None, op


# (d) catalogue rows are validated when the catalogue is built -----------------------------------


def test_a_misspelt_catalogue_param_fails():
    row = CATALOGUE["leaky_relu"]
    bad = replace(row, params={"alpah": row.params["alpha"]})
    with pytest.raises(CatalogueError, match=r"'leaky_relu'.*params names 'alpah'.*leaky_relu\(x, alpha\)"):
        validate(bad)
    with pytest.raises(CatalogueError, match="alpah"):
        build([CATALOGUE["relu"], bad])


def test_a_catalogue_row_without_its_vjp_fails():
    with pytest.raises(CatalogueError, match=r"'gelu'.*no vjp"):
        validate(replace(CATALOGUE["gelu"], vjp=None))


def test_a_variant_that_selects_nothing_fails():
    with pytest.raises(CatalogueError, match=r"'relu'.*variant 'knik'"):
        validate(replace(CATALOGUE["relu"], variants={"knik": ("right",)}))
    with pytest.raises(CatalogueError, match=r"'relu'.*variant 'kink' lists the spec default 'left'"):
        validate(replace(CATALOGUE["relu"], variants={"kink": ("left",)}))


def test_an_out_of_range_check_without_its_strategy_fails():
    with pytest.raises(CatalogueError, match=r"'embedding'.*out_of_range check needs the row's outside strategy"):
        validate(replace(CATALOGUE["embedding"], outside=None))


def test_a_duplicate_row_fails():
    with pytest.raises(CatalogueError, match="declared twice"):
        build([CATALOGUE["relu"], CATALOGUE["relu"]])


def test_every_row_of_the_catalogue_is_valid():
    assert build(CATALOGUE.values()) == CATALOGUE


def test_keras_rms_norm_is_bound_and_reads_its_none_default_as_keras_epsilon():
    keras = pytest.importorskip("keras")
    backend = load_backend("tensorflow")
    assert backend.binding("rms_norm").fn is keras.ops.rms_normalization
    assert backend.native_default("rms_norm", "epsilon") == keras.config.epsilon()  # its signature says None
    x, weight = np.array([[3.0, 4.0]]), np.array([1.0, 2.0])
    out = backend.to_numpy(backend.call("rms_norm", [backend.asarray(x, "cpu"), backend.asarray(weight, "cpu")],
                                        {"epsilon": 0.5}))
    np.testing.assert_allclose(out, x / np.sqrt(12.5 + 0.5) * weight, rtol=1e-15)  # ε inside the root, γ applied
