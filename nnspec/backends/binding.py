"""Declarative op bindings: one line per backend per op, from which everything about the op derives.

A family mixin declares ``BINDINGS = {op: bind(native_callable, spec_param="native_name", ...)}``.
``bind`` states how a spec call maps onto the framework's own callable:

    backend.call(op, inputs, params) == fn(*inputs, **{rename(p): translate[p](v) for p, v in params}, **fixed)

Inputs are passed positionally, in the spec's order; every spec parameter by its native
keyword (its own name unless renamed). ``translate`` maps a spec value to the native
vocabulary, ``to_spec`` a native default back (a dict given as ``translate`` is inverted
for ``to_spec``: ``{"none": False, "tanh": True}`` reads jax's ``approximate=True`` as
``"tanh"``). From the binding the adapter gets its op method (``install``), ``implements``,
``is_composed``, ``native_default``/``native_name`` (read from ``fn``'s own signature), and
the benchmarks their ``native`` callable. ``check`` rejects, when the adapter class is
built, a binding for an op the spec does not state, a name that is not a spec parameter,
and a spec parameter the native callable has no keyword for.
"""

from __future__ import annotations

import functools
import inspect
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .. import spec


class BindingError(TypeError):
    """A binding that cannot be right, reported when the adapter class is built."""


def native_default_of(fn: Callable, parameter: str) -> Any:
    """The default of ``parameter`` as declared by ``fn`` itself.

    Read from ``inspect.signature``; builtins without one (many of torch's C
    functions) declare their signature in the first paragraph of their docstring,
    e.g. ``gelu(input, approximate = 'none') -> Tensor`` or, annotated (nanobind's C
    extensions), ``f(a: array, mask: None | str | array = None)``, which is parsed instead.
    """
    try:
        param = inspect.signature(fn).parameters[parameter]
    except ValueError:
        return _default_from_docstring(fn, parameter)
    except KeyError:
        raise LookupError(f"{qualname(fn)} has no parameter {parameter!r}") from None
    if param.default is inspect.Parameter.empty:
        raise LookupError(f"{qualname(fn)}: parameter {parameter!r} has no default")
    return param.default


def _docstring_signature(fn) -> str:
    return (fn.__doc__ or "").strip().split("\n\n")[0]  # may wrap: F.scaled_dot_product_attention


# A parameter's annotation in a docstring signature, as nanobind/pybind11 write them (MLX:
# ``softmax(a: array, axis: Union[None, int, Sequence[int]] = None, *, precise: bool = False)``):
# no '=', ',' or parenthesis outside square brackets.
_ANNOTATION = r"(?::\s*(?:[^=,()\[\]]|\[(?:[^\[\]]|\[[^\]]*\])*\])*)?"
_DEFAULT = r"(\([^()]*\)|\[[^\]]*\]|[^,)]+)"  # a tuple or list default whole, else up to the next ',' or ')'


def _default_from_docstring(fn, parameter):
    match = re.search(rf"\b{re.escape(parameter)}\s*{_ANNOTATION}=\s*{_DEFAULT}", _docstring_signature(fn))
    if not match:
        raise LookupError(f"{qualname(fn)}: no signature and no default for {parameter!r} in its docstring")
    import ast

    text = match.group(1).strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def native_parameters(fn: Callable) -> set[str] | None:
    """The keywords ``fn`` accepts, or None where it takes any (``**kwargs``) or says nothing readable."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (ValueError, TypeError):
        match = re.match(r"\s*[\w.]+\((.*?)\)", _docstring_signature(fn), re.S)
        if not match:
            return None
        return {m.group(1) for m in re.finditer(r"(?:^|,)\s*\*?\s*(\w+)", match.group(1))}
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters if p.kind is not p.VAR_POSITIONAL}


def qualname(fn) -> str:
    module = getattr(fn, "__module__", None) or ""
    return f"{module}.{getattr(fn, '__qualname__', getattr(fn, '__name__', repr(fn)))}".lstrip(".")


def same(value):
    """Translation of a value that already speaks the other side's vocabulary."""
    return value


def _forward(translation) -> Callable:
    return translation.__getitem__ if isinstance(translation, Mapping) else translation


def _inverse(translation) -> Callable | None:
    if not isinstance(translation, Mapping):
        return None
    inverse = {native: spec_value for spec_value, native in translation.items()}

    def to_spec(native):
        try:
            return inverse[native]
        except KeyError:
            raise LookupError(f"native default {native!r} has no spec counterpart in {translation!r}") from None

    return to_spec


@dataclass(frozen=True)
class Binding:
    """An op as one call of the framework's own callable ``fn`` (see the module docstring)."""

    fn: Callable
    rename: Mapping[str, str] = field(default_factory=dict)  # spec parameter -> native keyword
    translate: Mapping[str, Any] = field(default_factory=dict)  # spec parameter -> spec value -> native value
    to_spec: Mapping[str, Callable] = field(default_factory=dict)  # spec parameter -> native default -> spec value
    fixed: Mapping[str, Any] = field(default_factory=dict)  # native keyword -> value always passed
    composed: bool = False  # fn composes framework primitives (the report says so)
    defaults: bool = True  # fn's signature declares the framework's defaults (NumPy's spec formula does not)

    def native_name(self, parameter: str) -> str:
        return self.rename.get(parameter, parameter)

    def native_kwargs(self, params: Mapping[str, Any]) -> dict:
        kwargs = {self.native_name(k): _forward(self.translate.get(k, same))(v) for k, v in params.items()}
        return {**kwargs, **self.fixed}

    def __call__(self, *inputs, **params):
        return self.fn(*inputs, **self.native_kwargs(params))

    def partial(self, params: Mapping[str, Any]) -> Callable:
        """``fn`` with the spec parameters as native keywords; a C-level partial, so no Python frame is added."""
        kwargs = self.native_kwargs(params)
        return functools.partial(self.fn, **kwargs) if kwargs else self.fn

    def to_spec_of(self, parameter: str) -> Callable:
        """Native value -> spec value for ``parameter``: ``to_spec``, else the inverse of a dict ``translate``."""
        return self.to_spec.get(parameter) or _inverse(self.translate.get(parameter)) or same

    def native_default(self, parameter: str) -> Any:
        """The framework's default for spec ``parameter``, read from ``fn``, in spec vocabulary."""
        return self.to_spec_of(parameter)(native_default_of(self.fn, self.native_name(parameter)))

    def describe(self, parameter: str) -> str:
        return f"{qualname(self.fn)}({self.native_name(parameter)}=...)"


def bind(fn: Callable, *, translate=None, to_spec=None, fixed=None, composed=False, defaults=True,
         **rename: str) -> Binding:
    """``Binding(fn, rename, translate, to_spec, fixed)``; renames as keywords: ``bind(F.softmax, axis="dim")``."""
    return Binding(fn, dict(rename), dict(translate or {}), dict(to_spec or {}), dict(fixed or {}), composed, defaults)


# -- the spec side -----------------------------------------------------------------------


def spec_signature(op: str) -> inspect.Signature:
    return inspect.signature(spec.formula(op))


def adapter_parameters(op: str) -> list[inspect.Parameter]:
    """The spec function's parameters an adapter receives (keyword-only ones select spec-side variants)."""
    return [p for p in spec_signature(op).parameters.values() if p.kind is not p.KEYWORD_ONLY]


def spec_inputs(op: str) -> list[str]:
    """The op's inputs: the spec function's leading parameters without a default."""
    inputs = []
    for p in adapter_parameters(op):
        if p.default is not p.empty:
            break
        inputs.append(p.name)
    return inputs


def spec_parameters(op: str) -> list[str]:
    """The spec parameters proper (with a default), as opposed to the op's inputs."""
    return [p.name for p in adapter_parameters(op) if p.default is not p.empty]


def check(adapter: str, op: str, binding: Binding, fixed=()) -> None:
    """Raises BindingError naming ``adapter``, ``op`` and the parameter when ``binding`` cannot be right."""
    where = f"{adapter}: binding {op!r}"
    if not isinstance(binding, Binding):
        raise BindingError(f"{where} is {binding!r}, not a Binding (use nnspec.backends.binding.bind)")
    try:
        names = [p.name for p in adapter_parameters(op)]
    except KeyError:
        raise BindingError(f"{where}: the spec states no op {op!r}") from None
    if op.endswith("_vjp"):
        raise BindingError(f"{where}: {op!r} is a VJP, not an op")
    parameters = spec_parameters(op)
    for kind in ("rename", "translate", "to_spec"):
        for name in getattr(binding, kind):
            if name not in names:
                raise BindingError(f"{where}: {kind} names {name!r}, which is not a parameter of spec "
                                   f"{op}({', '.join(names)})")
    accepted = native_parameters(binding.fn)
    if accepted is None:
        return
    for name in parameters:
        if name in fixed:  # the framework has no option for it (the adapter's FIXED)
            continue
        native = binding.native_name(name)
        if native not in accepted:
            raise BindingError(f"{where}: spec parameter {name!r} is unmapped: {qualname(binding.fn)} has no "
                               f"keyword {native!r} (it has {', '.join(sorted(accepted))}); rename it, "
                               f"e.g. bind(fn, {name}='<native keyword>')")
    for native in binding.fixed:
        if native not in accepted:
            raise BindingError(f"{where}: fixed keyword {native!r} is not a parameter of {qualname(binding.fn)}")


# -- the adapter side ----------------------------------------------------------------------


def bound_method(op: str, binding: Binding, fixed=()) -> Callable:
    """The op method a binding stands for, with the spec's signature (no defaults: the engine passes all).

    Inputs go to the native callable positionally; spec parameters, however given (a hand-written
    override may call ``super().gelu(x, approximate)``), by their native keywords."""
    names = [p.name for p in adapter_parameters(op)]
    n_inputs = len(spec_inputs(op))
    call = binding.fn if not (binding.rename or binding.translate or binding.fixed) else binding

    def method(self, *inputs, **params):
        if len(inputs) > n_inputs:  # spec parameters given positionally
            params.update(zip(names[n_inputs:], inputs[n_inputs:]))
            inputs = inputs[:n_inputs]
        for name in fixed:  # the callable has no such keyword; the engine only passes the fixed value
            params.pop(name, None)
        return call(*inputs, **params)

    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    method.__signature__ = inspect.Signature(
        [self_param, *(p.replace(default=inspect.Parameter.empty, annotation=inspect.Parameter.empty)
                       for p in adapter_parameters(op))])
    method.__name__ = method.__qualname__ = op
    method.__doc__ = f"{op}: {qualname(binding.fn)} (declared by a binding)"
    method.binding = binding
    method.composed = binding.composed
    return method


def install(adapter: type) -> None:
    """Checks every binding in ``adapter``'s classes and gives each declaring class its op methods.

    The method goes on the class that declares the binding, so the usual MRO decides between a
    binding and a hand-written method (a subclass overriding ``softmax`` still wins, and its
    ``super().softmax`` reaches the binding)."""
    from .declared import fixed_of

    fixed = fixed_of(adapter)
    for klass in adapter.__mro__:
        for op, binding in klass.__dict__.get("BINDINGS", {}).items():
            check(f"{adapter.__qualname__} ({klass.__module__}.{klass.__qualname__})", op, binding,
                  tuple(fixed.get(op, ())))
            present = klass.__dict__.get(op)
            if present is not None and getattr(present, "binding", None) is binding:
                continue  # installed when an earlier adapter built on this mixin
            if present is not None:
                raise BindingError(f"{adapter.__qualname__} ({klass.__qualname__}): {op!r} is both a binding and "
                                   "a method; keep one")
            setattr(klass, op, bound_method(op, binding, tuple(fixed.get(op, ()))))


def binding_of(adapter, op: str) -> Binding | None:
    """The binding behind ``adapter``'s op method, None for a hand-written one (or no method)."""
    return getattr(getattr(type(adapter), op, None), "binding", None)


def native_defaults_of(adapter_type: type) -> dict:
    """op -> spec parameter -> (native callable, native name, to spec vocabulary), from every class's
    BINDINGS and NATIVE_DEFAULTS in MRO order (a subclass's declaration of an op replaces its bases')."""
    merged = {}
    for cls in reversed(adapter_type.__mro__):
        fixed = cls.__dict__.get("FIXED", {})
        for op, binding in cls.__dict__.get("BINDINGS", {}).items():
            merged[op] = {p: (binding.fn, binding.native_name(p), binding.to_spec_of(p))
                          for p in spec_parameters(op) if p not in fixed.get(op, ())} if binding.defaults else {}
        merged.update(cls.__dict__.get("NATIVE_DEFAULTS", {}))
    return merged
