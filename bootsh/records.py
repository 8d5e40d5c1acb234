"""Records: the part of ``dataclasses`` bootsh uses, at a fraction of its start-up cost.

``import dataclasses`` imports ``inspect`` (with ``ast``, ``dis``, ``tokenize``...), and each
``@dataclass`` compiles three or four methods from generated source: on a busy two-core
machine that was over a millisecond per class, and bootsh has about seventy records. Every
``bootsh`` process paid for all of it before running a single command. ``dataclass`` here
gives the same classes (``__init__`` with defaults and ``default_factory``, ``__repr__``,
``__eq__`` and, for frozen records, ``__hash__`` (neither with ``eq=False``), ``frozen=True``
refusing assignment with ``FrozenInstanceError``, ``__post_init__``, ``__match_args__``,
``ClassVar`` annotations left out, inherited fields, ``slots=True``) and ``replace``/``fields`` like
``dataclasses``'; only ``__init__`` is generated (one small ``exec`` per class, once the class
has been instantiated a few times: until then a generic ``__init__`` binds the same
arguments), the other methods are shared and read the fields through one C-level
``attrgetter``.

Type checkers see ``dataclass`` through PEP 681's ``dataclass_transform``, so mypy checks
constructor calls and frozen attributes exactly as for ``dataclasses.dataclass``.

Not supported (bootsh does not use them; using one is a ``TypeError`` at class creation, never
a silent difference): ``order``, ``unsafe_hash``, ``kw_only``, ``InitVar``,
``init=False`` fields. ``dataclasses.fields()``/``asdict()`` do not know these classes: use
``bootsh.records.fields``.

This module is on the start-up path: it imports nothing beyond ``operator``'s C half.
"""

from __future__ import annotations

from _thread import get_ident

try:
    from _operator import attrgetter  # operator.py is only its Python fallbacks around it
except ImportError:  # pragma: no cover - an interpreter without the C module
    from operator import attrgetter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform, overload

    T = TypeVar("T")

__all__ = ["MISSING", "Field", "FrozenInstanceError", "dataclass", "field", "fields", "replace"]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: No default given.
MISSING: Any = _Missing()


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen record (``dataclasses.FrozenInstanceError``'s role)."""


class Field:
    """One field of a record: its name, default (or factory), and whether it is compared."""

    __slots__ = ("compare", "default", "default_factory", "name", "repr")

    def __init__(
        self, default: Any, default_factory: Any, compare: bool, repr: bool, name: str = ""
    ) -> None:
        self.name = name
        self.default = default
        self.default_factory = default_factory
        self.compare = compare
        self.repr = repr

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, default={self.default!r})"


def _field(
    *,
    default: Any = MISSING,
    default_factory: Any = MISSING,
    compare: bool = True,
    repr: bool = True,
) -> Any:
    if default is not MISSING and default_factory is not MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return Field(default, default_factory, compare, repr)


#: The attribute each record class keeps its fields in (in ``__init__`` order).
_FIELDS = "__record_fields__"
#: ``__init__``'s default for a field built by a factory.
_FACTORY = _Missing()
_UNSUPPORTED = ("order", "unsafe_hash", "kw_only", "init", "repr", "match_args")


def _is_classvar(annotation: object) -> bool:
    # With ``from __future__ import annotations`` every annotation is a string.
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar", "t.ClassVar"))


def _is_data_descriptor(value: object) -> bool:
    kind = type(value)
    return hasattr(kind, "__get__") and hasattr(kind, "__set__") and not isinstance(value, Field)


def _make_init(cls: type, fields: tuple[Field, ...], frozen: bool) -> Callable[..., None]:
    """Compile ``cls.__init__``: positional-or-keyword parameters in field order.

    A frozen record's fields are set with ``object.__setattr__`` (its own ``__setattr__``
    refuses them), as ``dataclasses`` does: a data descriptor on the class, even one put
    there later (a test counting reads), sees every value.
    """
    params: list[str] = []
    body: list[str] = []
    scope: dict[str, Any] = {"_FACTORY": _FACTORY, "_set": object.__setattr__}
    for f in fields:
        if f.default_factory is not MISSING:
            scope[f"_f_{f.name}"] = f.default_factory
            params.append(f"{f.name}=_FACTORY")
            value = f"_f_{f.name}() if {f.name} is _FACTORY else {f.name}"
        elif f.default is not MISSING:
            scope[f"_d_{f.name}"] = f.default
            params.append(f"{f.name}=_d_{f.name}")
            value = f.name
        else:
            params.append(f.name)
            value = f.name
        if frozen:
            body.append(f"_set(self, {f.name!r}, {value})")
        else:
            body.append(f"self.{f.name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"])
    exec(source, scope)  # generated from the field names only
    init: Callable[..., None] = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


#: A record class is built by the generic ``__init__`` this many times before its own is
#: compiled: most records of a short run are made a few times (compiling costs about as much
#: as fifty generic constructions), the interpreter's are made thousands of times.
_COMPILE_AFTER = 16


def _lazy_init(self: Any, *args: Any, **kwargs: Any) -> None:
    """``__init__`` of a record class until it is used often: the fields bound and set as the
    compiled ``__init__`` does (same parameters, defaults, factories, errors), then, at the
    ``_COMPILE_AFTER``-th instance, the compiled one takes over."""
    cls = type(self)
    owner = next(c for c in cls.__mro__ if c.__dict__.get("__init__") is _lazy_init)
    fields: tuple[Field, ...] = owner.__dict__[_FIELDS]
    frozen: bool = owner.__dict__["__record_frozen__"]
    uses = owner.__dict__.get("__record_uses__", 0) + 1
    if uses >= _COMPILE_AFTER:
        init = _make_init(owner, fields, frozen)
        owner.__init__ = init  # type: ignore[misc]
        init(self, *args, **kwargs)
        return
    type.__setattr__(owner, "__record_uses__", uses)
    values = _bind(owner, fields, args, kwargs)
    setter = object.__setattr__ if frozen else setattr
    for name, value in values.items():
        setter(self, name, value)
    if hasattr(owner, "__post_init__"):  # the record's own, as the compiled one decides
        self.__post_init__()


def _bind(
    owner: type, fields: tuple[Field, ...], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The field values of ``owner(*args, **kwargs)``, in field order; Python's own
    ``TypeError`` texts for a call that does not fit."""
    where = f"{owner.__qualname__}.__init__()"
    if len(args) > len(fields):
        required = sum(f.default is MISSING and f.default_factory is MISSING for f in fields)
        low, high = required + 1, len(fields) + 1
        takes = f"{high} positional argument{'s' * (high != 1)}"
        if low != high:
            takes = f"from {low} to {high} positional arguments"
        raise TypeError(f"{where} takes {takes} but {len(args) + 1} were given")
    given = dict(zip((f.name for f in fields), args, strict=False))
    names = {f.name for f in fields}
    for key, value in kwargs.items():
        if key not in names:
            raise TypeError(f"{where} got an unexpected keyword argument {key!r}")
        if key in given:
            raise TypeError(f"{where} got multiple values for argument {key!r}")
        given[key] = value
    values: dict[str, Any] = {}
    missing = []
    for f in fields:
        if f.name in given:
            values[f.name] = given[f.name]
        elif f.default_factory is not MISSING:
            values[f.name] = f.default_factory()
        elif f.default is not MISSING:
            values[f.name] = f.default
        else:
            missing.append(f.name)
    if missing:
        quoted = [repr(m) for m in missing]
        listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
        if len(quoted) > 2:
            listed = ", ".join(quoted[:-1]) + ", and " + quoted[-1]
        plural = "s" if len(missing) > 1 else ""
        raise TypeError(
            f"{where} missing {len(missing)} required positional argument{plural}: {listed}"
        )
    return values


#: The records being shown, per thread (``reprlib.recursive_repr``'s rule, as dataclasses):
#: a record that holds itself shows ``...`` there instead of recursing without end.
_REPR_RUNNING: set[tuple[int, int]] = set()


def _repr(self: Any) -> str:
    key = (id(self), get_ident())
    if key in _REPR_RUNNING:
        return "..."
    _REPR_RUNNING.add(key)
    try:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in type(self).__record_repr__)
    finally:
        _REPR_RUNNING.discard(key)
    return f"{type(self).__qualname__}({shown})"


def _getstate(self: Any) -> list[Any]:
    return [getattr(self, f.name) for f in _fields(self)]


def _setstate(self: Any, state: list[Any]) -> None:
    # As dataclasses for frozen records with slots: copy and pickle set the fields directly.
    for f, value in zip(_fields(self), state, strict=True):
        object.__setattr__(self, f.name, value)


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        key = self.__record_key__
        return key(self) == key(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(self.__record_key__(self))


def _frozen_setattr(self: Any, name: str, value: object) -> None:
    # As dataclasses: any attribute of the frozen class itself, only fields in a subclass.
    cls = type(self)
    if "__record_frozen__" in cls.__dict__ or name in cls.__record_names__:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")
    object.__setattr__(self, name, value)


def _frozen_delattr(self: Any, name: str) -> None:
    cls = type(self)
    if "__record_frozen__" in cls.__dict__ or name in cls.__record_names__:
        raise FrozenInstanceError(f"cannot delete field {name!r}")
    object.__delattr__(self, name)


def _key_of(names: list[str]) -> Callable[[Any], Any]:
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        single = attrgetter(names[0])
        return lambda obj: (single(obj),)
    return attrgetter(*names)


def _process(cls: type[T], frozen: bool, eq: bool = True, slots: bool = False) -> type[T]:
    fields: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for f in base.__dict__.get(_FIELDS, ()):
            fields[f.name] = f
    inherited = frozenset(fields)
    # Not inspect.get_annotations: importing inspect is what this module avoids.
    own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
    for name, annotation in own.items():
        if _is_classvar(annotation):
            continue
        value = cls.__dict__.get(name, MISSING)
        if _is_data_descriptor(value):
            # As dataclasses: the descriptor stays the class attribute (it handles the
            # instance's value) and its class-level value is the default.
            f = Field(value.__get__(None, cls), MISSING, True, True, name)
        elif isinstance(value, Field):
            f = value
            f.name = name
            if f.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
        else:
            f = Field(value, MISSING, True, True, name)
        if f.default is not MISSING and type(f.default).__hash__ is None:
            raise ValueError(
                f"mutable default {type(f.default)} for field {name} is not allowed:"
                " use default_factory"
            )
        fields[name] = f  # a field redefined in a subclass keeps its place, as in dataclasses
    ordered = tuple(fields.values())
    seen_default = False
    for f in ordered:
        has_default = f.default is not MISSING or f.default_factory is not MISSING
        if seen_default and not has_default:
            raise TypeError(f"non-default argument {f.name!r} follows default argument")
        seen_default = seen_default or has_default
    for base in cls.__mro__[1:]:
        if base.__dict__.get("__record_frozen__", frozen) != frozen and _FIELDS in base.__dict__:
            raise TypeError("cannot inherit a frozen record from a non-frozen one, or back")
    if slots:
        names = [name for name in own if name in fields and name not in inherited]
        cls = _with_slots(cls, names, frozen)
    attrs: dict[str, Any] = {
        _FIELDS: ordered,
        "__record_frozen__": frozen,
        "__record_names__": frozenset(fields),
        "__record_repr__": tuple(f for f in ordered if f.repr),
        "__record_key__": staticmethod(_key_of([f.name for f in ordered if f.compare])),
        "__match_args__": tuple(fields),
        "__init__": _lazy_init,
        "__repr__": _repr,
    }
    if eq:
        attrs["__eq__"] = _eq
    for name, value in attrs.items():
        if name.startswith("__record") or name == _FIELDS or name not in cls.__dict__:
            setattr(cls, name, value)
    # dataclasses' rule for __hash__ (eq=True): frozen records hash their compared fields,
    # mutable ones are unhashable; a __hash__ written in the class body stays.
    class_hash = cls.__dict__.get("__hash__", MISSING)
    explicit = not (class_hash is MISSING or (class_hash is None and "__eq__" in cls.__dict__))
    if eq and not explicit:  # eq=False: identity, object's own __eq__ and __hash__
        cls.__hash__ = _hash if frozen else None  # type: ignore[assignment]
    if frozen:
        if "__setattr__" in cls.__dict__ or "__delattr__" in cls.__dict__:
            raise TypeError(f"frozen record {cls.__name__} defines __setattr__ or __delattr__")
        cls.__setattr__ = _frozen_setattr  # type: ignore[method-assign]
        cls.__delattr__ = _frozen_delattr  # type: ignore[method-assign]
    return cls


def _with_slots(cls: type[T], names: list[str], frozen: bool) -> type[T]:
    """``cls`` made again with ``__slots__`` for its own fields, as ``dataclasses`` does for
    ``slots=True`` (a class's slots cannot be added once it exists): no ``__dict__`` per
    instance. The defaults stay in the fields (a slot and a class attribute cannot share a
    name), which is where ``__init__`` takes them from."""
    for name in names:
        if _is_data_descriptor(cls.__dict__.get(name)):
            raise TypeError(f"field {name!r} of a record with slots cannot be a descriptor")
    body = {
        key: value
        for key, value in cls.__dict__.items()
        if key not in names and key not in ("__dict__", "__weakref__")
    }
    body["__slots__"] = tuple(names)
    if frozen:  # copy, deepcopy and pickle would go through the frozen __setattr__
        body.setdefault("__getstate__", _getstate)
        body.setdefault("__setstate__", _setstate)
    metaclass: Any = type(cls)
    made: type[T] = metaclass(cls.__name__, cls.__bases__, body)
    made.__qualname__ = cls.__qualname__
    return made


def _dataclass(
    cls: Any = None,
    /,
    *,
    frozen: bool = False,
    eq: bool = True,
    slots: bool = False,
    **unsupported: Any,
) -> Any:
    if unsupported:
        raise TypeError(f"bootsh.records does not support {', '.join(sorted(unsupported))}")
    if cls is None:
        return lambda c: _process(c, frozen, eq, slots)
    return _process(cls, frozen, eq, slots)


def _fields(obj: Any) -> tuple[Field, ...]:
    """The fields of a record or record class, in ``__init__`` order."""
    try:
        found: tuple[Field, ...] = getattr(obj, _FIELDS)
    except AttributeError:
        raise TypeError("must be called with a record type or instance") from None
    return found


def _replace(obj: T, /, **changes: Any) -> T:
    """A copy of the record ``obj`` with ``changes`` (``dataclasses.replace``)."""
    for f in _fields(obj):
        if f.name not in changes:
            changes[f.name] = getattr(obj, f.name)
    result: T = type(obj)(**changes)
    return result


if TYPE_CHECKING:

    @overload
    def field(*, default: T, compare: bool = True, repr: bool = True) -> T: ...

    @overload
    def field(
        *, default_factory: Callable[[], T], compare: bool = True, repr: bool = True
    ) -> T: ...

    @overload
    def field(*, compare: bool = True, repr: bool = True) -> Any: ...

    def field(
        *,
        default: Any = MISSING,
        default_factory: Any = MISSING,
        compare: bool = True,
        repr: bool = True,
    ) -> Any:
        return _field(default=default, default_factory=default_factory, compare=compare, repr=repr)

    @overload
    @dataclass_transform(field_specifiers=(field,))
    def dataclass(cls: type[T], /) -> type[T]: ...

    @overload
    @dataclass_transform(field_specifiers=(field,))
    def dataclass(
        *, frozen: bool = False, eq: bool = True, slots: bool = False
    ) -> Callable[[type[T]], type[T]]: ...

    def dataclass(
        cls: Any = None, /, *, frozen: bool = False, eq: bool = True, slots: bool = False
    ) -> Any:
        return _dataclass(cls, frozen=frozen, eq=eq, slots=slots)

    def fields(obj: Any) -> tuple[Field, ...]:
        return _fields(obj)

    def replace(obj: T, /, **changes: Any) -> T:
        return _replace(obj, **changes)

else:
    dataclass = _dataclass
    field = _field
    fields = _fields
    replace = _replace
