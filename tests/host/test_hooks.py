"""bootsh.hooks against pluggy itself: the same markers, the same implementations found, the
same validation verdicts and the same call order, for bootsh's plugins and crafted ones.

pluggy is installed with bootsh (a plugin may use its markers) but not imported at start-up:
bootsh follows its rules in bootsh.hooks. ``bootsh --plugins`` asks pluggy itself (the last
tests here).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pluggy
import pytest

from bootsh import hookimpl, hookspecs
from bootsh.entry_points import entry_points
from bootsh.hooks import PluginValidationError, Registry, varnames
from bootsh.plugins import ENTRY_POINT_GROUP, make_plugin_manager, pluggy_verdict

impl = pluggy.HookimplMarker("bootsh")  # a third-party plugin may mark hooks with pluggy's


def managers() -> tuple[pluggy.PluginManager, Registry]:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    registry = Registry(hookspecs.PROJECT)
    registry.add_hookspecs(hookspecs)
    return pm, registry


def order(pm: pluggy.PluginManager, hook: str) -> list[tuple[str, str]]:
    return [(i.plugin_name, i.function.__name__) for i in getattr(pm.hook, hook).get_hookimpls()]


def our_order(registry: Registry, hook: str) -> list[tuple[str, str]]:
    return [(i.plugin_name, i.function.__name__) for i in registry.implementations(hook)]


def test_the_markers_write_what_pluggy_writes() -> None:
    def f(context: object) -> None: ...

    def g(context: object) -> None: ...

    hookimpl(tryfirst=True, specname="x")(f)
    impl(tryfirst=True, specname="x")(g)
    assert f.bootsh_impl == g.bootsh_impl  # type: ignore[attr-defined]
    spec = pluggy.HookspecMarker("bootsh")

    def s1(a: int) -> None: ...

    def s2(a: int) -> None: ...

    hookspecs.hookspec(firstresult=True)(s1)
    spec(firstresult=True)(s2)
    assert s1.bootsh_spec == s2.bootsh_spec  # type: ignore[attr-defined]


def test_the_built_in_plugins_register_alike() -> None:
    pm, registry = managers()
    for ep in entry_points(ENTRY_POINT_GROUP):
        plugin = ep.load()
        pm.register(plugin, name=ep.name)
        registry.register(plugin, ep.name)
    pm.check_pending()
    registry.check_pending()
    for hook in registry.specs:
        assert our_order(registry, hook) == order(pm, hook), hook
        for ours, theirs in zip(
            registry.implementations(hook), getattr(pm.hook, hook).get_hookimpls(), strict=True
        ):
            assert (ours.argnames, ours.kwargnames) == (theirs.argnames, theirs.kwargnames)


def crafted() -> Iterator[tuple[str, object]]:
    """Plugins in all the shapes pluggy accepts: module-like objects, classes, instances,
    static and class methods, tryfirst/trylast, specname, arguments left out."""

    class First:
        @impl(tryfirst=True)
        def bootsh_probe_nics(self, context: object) -> None: ...

    class Last:
        @hookimpl(trylast=True)
        def bootsh_probe_nics(self) -> None: ...

        @hookimpl
        def bootsh_shell_startup(self, shell: object) -> None: ...

    class Plain:
        @hookimpl
        @staticmethod
        def bootsh_probe_nics(context: object) -> None: ...

        @hookimpl(specname="bootsh_shell_shutdown")
        @classmethod
        def shutting(cls, shell: object) -> None: ...

    class Renamed:
        @hookimpl(specname="bootsh_probe_nics")
        def anything(self, context: object) -> None: ...

        @hookimpl(optionalhook=True)
        def bootsh_not_yet_a_hook(self) -> None: ...

    class Slotted:  # a function stored in an instance's slot: the instance's own value
        __slots__ = ("bootsh_shell_startup",)

    @hookimpl
    def startup(shell: object) -> None: ...

    slotted = Slotted()
    slotted.bootsh_shell_startup = startup  # type: ignore[attr-defined]

    yield "first", First()
    yield "slotted", slotted
    yield "last", Last()
    yield "plain-class", Plain
    yield "second-first", First()
    yield "renamed", Renamed()
    yield "plain", Plain()


def test_crafted_plugins_order_alike() -> None:
    pm, registry = managers()
    for name, plugin in crafted():
        pm.register(plugin, name=name)
        registry.register(plugin, name)
    pm.check_pending()
    registry.check_pending()
    for hook in ("bootsh_probe_nics", "bootsh_shell_startup", "bootsh_shell_shutdown"):
        assert our_order(registry, hook) == order(pm, hook), hook
    assert registry.hooks_of(registry.get_plugin("renamed")) == [
        "bootsh_probe_nics",
        "bootsh_not_yet_a_hook",
    ]


class Misspelt:
    @hookimpl
    def bootsh_probe_nic(self, context: object) -> None: ...


class ExtraArgument:
    @hookimpl
    def bootsh_probe_nics(self, context: object, surprise: int) -> None: ...


class NotAGenerator:
    @hookimpl(wrapper=True)
    def bootsh_probe_nics(self, context: object) -> None: ...


class BothWrappers:
    @hookimpl(wrapper=True, hookwrapper=True)
    def bootsh_probe_nics(self, context: object) -> Iterator[None]:
        yield


@pytest.mark.parametrize("plugin", [Misspelt(), ExtraArgument(), NotAGenerator(), BothWrappers()])
def test_invalid_plugins_are_refused_alike(plugin: object) -> None:
    pm, registry = managers()
    with pytest.raises(pluggy.PluginValidationError) as theirs:
        pm.register(plugin, name="x")
        pm.check_pending()
    with pytest.raises(PluginValidationError) as ours:
        registry.register(plugin, "x")
        registry.check_pending()
    assert str(ours.value).split("\n")[0] == str(theirs.value).split("\n")[0]


def test_names_blocking_and_unregistering() -> None:
    registry = managers()[1]
    first = Misspelt()
    registry.set_blocked("blocked")
    assert registry.register(first, "blocked") is None
    assert registry.is_blocked("blocked") and not registry.is_registered(first)
    registry.register(first, "one")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Misspelt(), "one")
    with pytest.raises(ValueError, match="different name"):
        registry.register(first, "two")
    registry.unregister(first)
    assert registry.implementations("bootsh_probe_nic") == []
    assert registry.get_plugin("one") is None


def plain(a: int, b: int = 2) -> None: ...


class Holder:
    def method(self, a: int) -> None: ...

    @staticmethod
    def static(a: int) -> None: ...


def wrapped(func: Callable[..., Any]) -> Callable[..., Any]:
    import functools

    @functools.wraps(func)
    def inner(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return inner


@pytest.mark.parametrize(
    "func",
    [plain, Holder().method, Holder.method, Holder.static, wrapped(plain), Holder, len, object()],
)
def test_varnames_as_pluggy_reads_them(func: object) -> None:
    from pluggy._hooks import varnames as pluggy_varnames

    assert varnames(func) == pluggy_varnames(func)


class _First:
    @impl(tryfirst=True)
    def bootsh_shell_startup(self, shell: object) -> None: ...


class _Second:
    @hookimpl
    def bootsh_shell_startup(self, shell: object) -> None: ...


def test_pluggy_agrees_with_the_installed_plugins_and_says_so() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bootsh", "--plugins"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.splitlines()[-1]
    loaded = proc.stdout.count(": loaded from ")
    assert last.startswith(f"pluggy {pluggy.__version__} agrees: {loaded} plugins, ")
    assert last.endswith(" implementations, same order")


def test_pluggy_verdict_reports_an_order_pluggy_would_not_give() -> None:
    host = make_plugin_manager(
        entry_points=False, extra=[("first", _First()), ("second", _Second())]
    )
    agrees, lines = pluggy_verdict(host)
    assert (agrees, lines) == (
        True,
        [f"pluggy {pluggy.__version__} agrees: 2 plugins, 2 implementations, same order"],
    )
    host.registry._impls["bootsh_shell_startup"].reverse()  # what a bug in bootsh.hooks would do
    agrees, lines = pluggy_verdict(host)
    assert not agrees
    assert lines == [
        "pluggy orders bootsh_shell_startup as ['second', 'first'], bootsh as ['first', 'second']"
    ]
