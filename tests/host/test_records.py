"""bootsh.records against the standard library's dataclasses, shape by shape.

Each test builds the same class twice, once with ``dataclasses`` and once with
``bootsh.records``, and requires the same behaviour: constructor (positional, keyword,
defaults, factories), repr, equality, hashing, frozen assignment, ``__post_init__``,
``ClassVar``, inheritance, ``replace``.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any, ClassVar

import pytest

from bootsh import records
from tests.helpers import python_output


def both(body: str) -> tuple[Any, Any]:
    """The class ``C`` defined by ``body`` with each library's decorator."""
    made = []
    for module in ("dataclasses", "bootsh.records"):
        namespace: dict[str, Any] = {"ClassVar": ClassVar}
        source = f"from __future__ import annotations\nfrom {module} import dataclass, field\n"
        exec(source + body, namespace)
        made.append(namespace["C"])
    return made[0], made[1]


def same(a: object, b: object) -> None:
    assert repr(a).replace("C(", "X(") == repr(b).replace("C(", "X(")


PLAIN = """
@dataclass
class C:
    a: int
    b: str = "x"
    c: list[int] = field(default_factory=list)
    d: int = field(default=4, compare=False)
"""


def test_constructor_repr_and_equality() -> None:
    std, ours = both(PLAIN)
    for args, kwargs in [
        ((1,), {}),
        ((1, "y"), {}),
        ((), {"a": 2, "c": [3]}),
        ((1, "z", [1], 9), {}),
    ]:
        same(std(*args, **kwargs), ours(*args, **kwargs))
    assert ours(1) == ours(1, d=7)  # d is not compared
    assert ours(1) != ours(2)
    assert ours(1).c is not ours(1).c  # a fresh list each time
    assert ours(1).__eq__(object()) is NotImplemented
    assert ours.__hash__ is None and std.__hash__ is None  # mutable and eq: unhashable
    with pytest.raises(TypeError):
        ours()
    with pytest.raises(TypeError):
        ours(1, nope=2)
    assert ours.__match_args__ == std.__match_args__
    assert ours.b == "x"  # the default stays a class attribute


FROZEN = """
@dataclass(frozen=True)
class C:
    a: int
    b: tuple[int, ...] = ()
    k: ClassVar[int] = 5
"""


def test_frozen_records_hash_and_refuse_assignment() -> None:
    _, ours = both(FROZEN)
    assert hash(ours(1, (2,))) == hash(ours(1, (2,)))
    assert {ours(1), ours(1)} == {ours(1)}
    # (exec'd code hides ClassVar from dataclasses, which resolves it in the class's module)
    assert repr(ours(1)) == "C(a=1, b=())"
    value = ours(1)
    with pytest.raises(records.FrozenInstanceError):
        value.a = 2
    with pytest.raises(records.FrozenInstanceError):
        value.other = 2  # not a field either: the frozen class itself refuses
    with pytest.raises(records.FrozenInstanceError):
        del value.a
    assert isinstance(records.FrozenInstanceError("x"), AttributeError)
    assert [f.name for f in records.fields(ours)] == ["a", "b"]  # the ClassVar is no field
    assert ours.k == 5


def test_replace_and_post_init() -> None:
    std, ours = both(
        """
@dataclass
class C:
    a: int
    b: int = 0
    def __post_init__(self) -> None:
        self.b = self.b or self.a * 10
"""
    )
    same(std(2), ours(2))
    changed = records.replace(ours(2), a=3)
    assert (changed.a, changed.b) == (3, 20)
    with pytest.raises(TypeError):
        records.replace(object())


def test_methods_written_in_the_class_stay() -> None:
    _, ours = both(
        """
@dataclass(frozen=True)
class C:
    a: int
    def __repr__(self) -> str:
        return "mine"
    def __hash__(self) -> int:
        return 7
"""
    )
    assert repr(ours(1)) == "mine" and hash(ours(1)) == 7


def test_inheritance_extends_the_fields() -> None:
    std, ours = both(
        """
@dataclass
class B:
    a: int
    b: int = 1

@dataclass
class C(B):
    c: int = 2
    b: int = 3
"""
    )
    same(std(0), ours(0))
    assert [f.name for f in records.fields(ours)] == [f.name for f in dataclasses.fields(std)]


def test_mistakes_are_refused_at_class_creation() -> None:
    with pytest.raises(ValueError, match="mutable default"):
        both("@dataclass\nclass C:\n    a: list[int] = []\n")
    with pytest.raises(TypeError, match="non-default argument"):
        both("@dataclass\nclass C:\n    a: int = 1\n    b: int\n")
    with pytest.raises(TypeError, match="does not support"):
        records.dataclass(order=True)  # type: ignore[call-overload]


def test_a_descriptor_field_sees_the_value() -> None:
    """As with dataclasses: the descriptor stays, its class-level value is the default."""

    class Upper:
        def __set_name__(self, owner: type, name: str) -> None:
            self.key = "_" + name

        def __get__(self, obj: object, owner: type | None = None) -> str:
            return "dflt" if obj is None else str(obj.__dict__[self.key]).upper()

        def __set__(self, obj: object, value: str) -> None:
            obj.__dict__[self.key] = value

    @records.dataclass(frozen=True)
    class R:
        name: Upper = Upper()

    assert R().name == "DFLT" and R("ab").name == "AB"


def test_importing_records_loads_neither_dataclasses_nor_inspect() -> None:
    code = (
        "import sys, bootsh.records\nprint('dataclasses' in sys.modules, 'inspect' in sys.modules)"
    )
    assert python_output(code) == "False False\n"


def test_eq_false_keeps_identity() -> None:
    std, ours = both("@dataclass(eq=False)\nclass C:\n    a: int\n")
    assert ours(1) != ours(1) and std(1) != std(1)
    value = ours(1)
    assert value == value and hash(value) == object.__hash__(value)


def test_the_generic_init_and_the_compiled_one_agree() -> None:
    """Before it is compiled (the first instances), __init__ binds the same way."""
    calls: list[tuple[tuple[object, ...], dict[str, object]]] = [
        ((1,), {}), ((1, "y"), {}), ((), {"a": 2}), ((1,), {"c": [5]}), ((), {}),
        ((1, "y", [1], 4, 5), {}), ((1,), {"a": 2}), ((1,), {"nope": 3}), ((), {"b": "x"}),
    ]  # fmt: skip

    def outcome(cls: Any, args: tuple[object, ...], kwargs: dict[str, object]) -> object:
        try:
            return repr(cls(*args, **kwargs))
        except TypeError as exc:
            return str(exc).split("() ", 1)[1]

    _, fresh = both(PLAIN)
    before = [outcome(fresh, a, k) for a, k in calls]
    for _ in range(records._COMPILE_AFTER):
        fresh(0)  # now compiled
    assert fresh.__init__ is not records._lazy_init
    assert [outcome(fresh, a, k) for a, k in calls] == before


@pytest.mark.parametrize("frozen", [False, True])
def test_slots_as_dataclasses_makes_them(frozen: bool) -> None:
    std, ours = both(
        f"@dataclass(frozen={frozen}, slots=True)\nclass C:\n"
        "    a: int\n    b: str = 'x'\n    c: tuple[int, ...] = field(default=())\n"
    )
    assert ours.__slots__ == std.__slots__ == ("a", "b", "c")
    for i in range(40):  # past the generic __init__ into the compiled one
        a, b = std(i), ours(i)
        assert not hasattr(b, "__dict__")
        same(a, b)
        assert (b == ours(i), b == ours(i + 1)) == (a == std(i), a == std(i + 1))
        assert (b.b, b.c) == (a.b, a.c)
    assert records.replace(ours(1), b="y") == ours(1, "y")
    if frozen:
        assert hash(ours(1, "z")) == hash(ours(1, "z"))
        with pytest.raises(records.FrozenInstanceError):
            ours(1).a = 2
    else:
        made = ours(1)
        made.a = 2
        assert made.a == 2
        with pytest.raises(AttributeError):
            made.other = 1


@pytest.mark.parametrize("slots", [False, True])
@pytest.mark.parametrize("frozen", [False, True])
def test_copy_deepcopy_and_pickle_as_dataclasses(frozen: bool, slots: bool) -> None:
    """Frozen records with slots too (dataclasses gives them __getstate__/__setstate__)."""
    std, ours = both(
        f"@dataclass(frozen={frozen}, slots={slots})\nclass C:\n"
        "    a: int\n    b: tuple[int, ...] = (1, 2)\n"
    )
    for cls in (std, ours):
        globals()["C"] = cls  # pickle finds a class by its module and name
        cls.__module__, cls.__qualname__ = __name__, "C"
        try:
            value = cls(3)
            for made in (copy.copy(value), copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
                assert made == value and made is not value
        finally:
            del globals()["C"]


def test_a_record_that_holds_itself_shows_dots() -> None:
    std, ours = both("@dataclass\nclass C:\n    a: object = None\n")
    a, b = std(), ours()
    a.a, b.a = a, b
    same(a, b)
    assert repr(b) == "C(a=...)"


def test_post_init_of_a_plain_subclass_is_never_called() -> None:
    """Only a record's own __post_init__ counts, from the first instance to the last."""
    for cls in both("@dataclass\nclass C:\n    a: int = 0\n"):
        sub = type("Sub", (cls,), {"__post_init__": lambda self: self.__dict__.update(seen=1)})
        assert [hasattr(sub(), "seen") for _ in range(2 * records._COMPILE_AFTER)] == [False] * (
            2 * records._COMPILE_AFTER
        )
