"""What an adapter cannot do, declared up front: ``UNSUPPORTED = {op: unsupported(reason, ...)}``.

The conformance engine consults the declarations before it draws a single example, so
what a framework lacks costs nothing per example:

* ``unsupported("reason")`` -- the whole op: each of its cases is recorded ``unsupported``
  with the reason, and no search is run;
* ``unsupported("reason", dtypes={"bfloat16"})`` -- the op at those dtypes only;
* ``unsupported("reason", reset_after=False)`` -- a parameter value: the examples with it are
  filtered out of the search (never drawn to the adapter) and the records say so. A keyword's
  value is a value (equality), a set of values (any of them), or a predicate
  (``margin=lambda m: m <= 0``); several keywords must all hold;
* ``unsupported("reason", where=lambda params: ...)`` -- a combination of parameters.

A plain string stands for the whole op, and a list holds several declarations of one op.

What a framework has no option for but does one way, always, is declared in ``FIXED``:
``FIXED = {"gru": {"reset_after": (torch.nn.GRU, True)}}`` -- op -> spec parameter -> (the native
callable, the value it behaves as, in spec vocabulary). It stands for a declaration of every other
value of that parameter, and the defaults table shows the fixed value as the framework's default (so
a fixed behaviour that differs from the spec's default is reported as differing); the forward check at
that value measures that the framework does behave so. A bound op's method never passes a fixed
parameter to its callable.
Raising ``Unsupported`` inside an op method still works (for what depends on the inputs, not the
parameters: flax's one PReLU slope), but costs a search per op: every example is drawn, converted
and handed to the adapter before it is declined.

Declarations are checked when the adapter class is built, like bindings: an op the spec lacks,
a parameter the op lacks or an unknown dtype is an error naming the adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .binding import BindingError, adapter_parameters, spec_parameters


@dataclass(frozen=True)
class Declaration:
    """One thing an adapter cannot do: an op, at some dtypes, for some parameter values."""

    reason: str
    dtypes: frozenset | None = None  # None: every dtype
    values: Mapping[str, Any] = field(default_factory=dict)  # parameter -> value, set of values or predicate
    where: Callable[[dict], bool] | None = None  # params -> whether this combination is unsupported

    @property
    def whole(self) -> bool:
        """Whether it declines every example of the dtypes it names (no parameter condition)."""
        return not self.values and self.where is None

    def applies_to(self, dtype: str | None) -> bool:
        return self.dtypes is None or (dtype is not None and dtype in self.dtypes)

    def covers(self, dtype: str | None, params: Mapping[str, Any]) -> bool:
        """Whether an example of ``dtype`` with ``params`` is declined."""
        if not self.applies_to(dtype):
            return False
        for name, declined in self.values.items():
            if name not in params or not _matches(params[name], declined):
                return False
        return self.where is None or bool(self.where(dict(params)))


def _matches(value, declined) -> bool:
    if callable(declined):
        return bool(declined(value))
    if isinstance(declined, (set, frozenset)):
        return value in declined
    return value == declined


def unsupported(reason: str, *, dtypes=None, where: Callable[[dict], bool] | None = None, **values) -> Declaration:
    """A declaration for ``UNSUPPORTED``: the whole op, or the op at ``dtypes`` and/or for parameter values."""
    if not reason:
        raise ValueError("unsupported(...) needs its reason: the report shows it")
    return Declaration(reason, None if dtypes is None else frozenset([dtypes] if isinstance(dtypes, str) else dtypes),
                       dict(values), where)


def as_declarations(value) -> tuple[Declaration, ...]:
    """An ``UNSUPPORTED`` value (a reason, a Declaration or a list of them) as a tuple of Declarations."""
    if isinstance(value, (str, Declaration)):
        value = [value]
    return tuple(unsupported(v) if isinstance(v, str) else v for v in value)


def check(adapter: str, op: str, value) -> tuple[Declaration, ...]:
    """The op's declarations; BindingError naming the adapter where one cannot be right."""
    from .base import DTYPES, MODEL_IDS

    where = f"{adapter}: UNSUPPORTED[{op!r}]"
    try:
        # a seed model is declared whole (one model_forward builds them all): it has no op parameters
        names = [] if op in MODEL_IDS else [p.name for p in adapter_parameters(op)]
    except KeyError:
        raise BindingError(f"{where}: the spec states no op {op!r}") from None
    try:
        declarations = as_declarations(value)
    except (TypeError, ValueError) as exc:
        raise BindingError(f"{where}: {exc}") from None
    for declaration in declarations:
        if not isinstance(declaration, Declaration):
            raise BindingError(f"{where} holds {declaration!r}: use a reason string or "
                               "nnspec.backends.declared.unsupported(reason, ...)")
        for dtype in declaration.dtypes or ():
            if dtype not in DTYPES:
                raise BindingError(f"{where}: no dtype {dtype!r} (nnspec's are {', '.join(DTYPES)})")
        for name in declaration.values:
            if name not in spec_parameters(op):
                raise BindingError(f"{where}: {name!r} is not a parameter of spec {op}({', '.join(names)})")
    return declarations


def install(adapter: type) -> None:
    """Checks the declarations of every class of ``adapter`` (an error at import, as for bindings)."""
    for klass in adapter.__mro__:
        where = f"{adapter.__qualname__} ({klass.__module__}.{klass.__qualname__})"
        for op, value in klass.__dict__.get("UNSUPPORTED", {}).items():
            check(where, op, value)
        for op, parameters in klass.__dict__.get("FIXED", {}).items():
            check(where, op, [_fixed_declaration(p, fn, v) for p, (fn, v) in parameters.items()])


def fixed_of(adapter_type: type) -> dict[str, dict[str, tuple[Callable, Any]]]:
    """op -> spec parameter -> (native callable, the value it is fixed at), from every class's FIXED in MRO order."""
    merged = {}
    for cls in reversed(adapter_type.__mro__):
        for op, parameters in cls.__dict__.get("FIXED", {}).items():
            merged[op] = dict(parameters)
    return merged


def _fixed_declaration(parameter: str, fn: Callable, value: Any) -> Declaration:
    from .binding import qualname

    return unsupported(f"{qualname(fn)} has no {parameter} option: it behaves as {parameter}={value!r}",
                       **{parameter: lambda given, value=value: given != value})


def declarations_of(adapter_type: type) -> dict[str, tuple[Declaration, ...]]:
    """op -> its declarations, from every class's UNSUPPORTED in MRO order (a subclass's entry for an op
    replaces its bases': a test adapter can take a declaration back), and one for every value but the
    fixed one of each FIXED parameter."""
    merged = {}
    for cls in reversed(adapter_type.__mro__):
        for op, value in cls.__dict__.get("UNSUPPORTED", {}).items():
            merged[op] = as_declarations(value)
    for op, parameters in fixed_of(adapter_type).items():
        merged[op] = (*merged.get(op, ()), *(_fixed_declaration(p, fn, v) for p, (fn, v) in parameters.items()))
    return merged
