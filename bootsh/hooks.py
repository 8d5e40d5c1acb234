"""Hook markers and the registry of hook implementations, in pluggy's terms and by its rules.

bootsh's plugins are pluggy plugins: a hook is a function marked ``@hookimpl`` (options
``tryfirst``, ``trylast``, ``optionalhook``, ``specname``, ``wrapper``, ``hookwrapper``), the
specifications are functions marked ``@hookspec`` in ``bootsh.hookspecs``, and a marked
function carries its options where pluggy puts them (the ``bootsh_impl``/``bootsh_spec``
attribute), so ``pluggy.HookimplMarker("bootsh")`` marks a bootsh hook too and pluggy's own
``PluginManager`` can load bootsh's plugins.

What pluggy's manager would add, bootsh does not use: it calls every implementation itself,
one at a time, to isolate a failing plugin (``bootsh.plugins``), and it refuses wrappers.
Importing pluggy costs about as much as Python's whole start (it imports ``inspect`` and
``typing``), at every ``bootsh`` run, so this module does the three things bootsh needs, the
way pluggy 1.x does them (``tests/host/test_hooks.py`` checks it against pluggy):

* find a plugin's implementations: its attributes in ``dir()`` order, looked up without
  running properties or other descriptors; plain functions, bound methods, static and class
  methods that carry the marker;
* validate each one against its specification: an implementation may leave out arguments but
  not add any; an unknown hook is an error unless ``optionalhook``; wrappers must be
  generator functions (bootsh then refuses them);
* order them: a later registration runs first, ``tryfirst`` ones before the others,
  ``trylast`` ones after (``Registry.implementations`` is pluggy's ``get_hookimpls()``: call
  order reversed).
"""

from __future__ import annotations

import types

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TypeVar, overload

    F = TypeVar("F", bound=Callable[..., object])


class HookspecMarker:
    """``pluggy.HookspecMarker``: marks a function as a hook specification."""

    __slots__ = ("project_name",)

    def __init__(self, project_name: str) -> None:
        self.project_name = project_name

    if TYPE_CHECKING:

        @overload
        def __call__(
            self,
            function: F,
            firstresult: bool = False,
            historic: bool = False,
            warn_on_impl: Warning | None = None,
            warn_on_impl_args: Mapping[str, Warning] | None = None,
        ) -> F: ...

        @overload
        def __call__(
            self,
            function: None = ...,
            firstresult: bool = ...,
            historic: bool = ...,
            warn_on_impl: Warning | None = ...,
            warn_on_impl_args: Mapping[str, Warning] | None = ...,
        ) -> Callable[[F], F]: ...

    def __call__(
        self,
        function: Any = None,
        firstresult: bool = False,
        historic: bool = False,
        warn_on_impl: Warning | None = None,
        warn_on_impl_args: Mapping[str, Warning] | None = None,
    ) -> Any:
        def mark(func: Any) -> Any:
            if historic and firstresult:
                raise ValueError("cannot have a historic firstresult hook")
            opts = {
                "firstresult": firstresult,
                "historic": historic,
                "warn_on_impl": warn_on_impl,
                "warn_on_impl_args": warn_on_impl_args,
            }
            setattr(func, self.project_name + "_spec", opts)
            return func

        return mark if function is None else mark(function)


class HookimplMarker:
    """``pluggy.HookimplMarker``: marks a function as a hook implementation."""

    __slots__ = ("project_name",)

    def __init__(self, project_name: str) -> None:
        self.project_name = project_name

    if TYPE_CHECKING:

        @overload
        def __call__(
            self,
            function: F,
            hookwrapper: bool = ...,
            optionalhook: bool = ...,
            tryfirst: bool = ...,
            trylast: bool = ...,
            specname: str | None = ...,
            wrapper: bool = ...,
        ) -> F: ...

        @overload
        def __call__(
            self,
            function: None = ...,
            hookwrapper: bool = ...,
            optionalhook: bool = ...,
            tryfirst: bool = ...,
            trylast: bool = ...,
            specname: str | None = ...,
            wrapper: bool = ...,
        ) -> Callable[[F], F]: ...

    def __call__(
        self,
        function: Any = None,
        hookwrapper: bool = False,
        optionalhook: bool = False,
        tryfirst: bool = False,
        trylast: bool = False,
        specname: str | None = None,
        wrapper: bool = False,
    ) -> Any:
        def mark(func: Any) -> Any:
            opts = {
                "wrapper": wrapper,
                "hookwrapper": hookwrapper,
                "optionalhook": optionalhook,
                "tryfirst": tryfirst,
                "trylast": trylast,
                "specname": specname,
            }
            setattr(func, self.project_name + "_impl", opts)
            return func

        return mark if function is None else mark(function)


class PluginValidationError(Exception):
    """A plugin that does not fit the specifications (pluggy's exception of that name)."""

    def __init__(self, plugin: object, message: str) -> None:
        super().__init__(message)
        self.plugin = plugin


# -- reading functions -------------------------------------------------------------------------

_IMPLICIT_NAMES = ("self", "cls")
_ABSENT = object()


def _unwrap(func: Any) -> Any:
    """``inspect.unwrap``: follow ``__wrapped__`` (functools.wraps) to the real function."""
    seen = {id(func)}
    while hasattr(func, "__wrapped__"):
        func = func.__wrapped__
        if id(func) in seen:
            raise ValueError(f"wrapper loop when unwrapping {func!r}")
        seen.add(id(func))
    return func


def varnames(func: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """pluggy's ``varnames``: the positional parameters without and with a default, the
    implicit ``self``/``cls`` of a method left out."""
    is_bound = False
    if isinstance(func, type):
        func = getattr(func, "__init__", None)
        is_bound = True
    elif not _is_routine(func):
        func = getattr(func, "__call__", func)  # noqa: B004 (the attribute itself is wanted)
    if isinstance(func, types.MethodType):
        is_bound = True
    func = _unwrap(func)
    if isinstance(func, types.MethodType):
        is_bound = True
        func = func.__func__
    try:
        code = func.__code__
        defaults = func.__defaults__
        qualname: str = func.__qualname__
    except AttributeError:
        return (), ()
    args: tuple[str, ...] = code.co_varnames[: code.co_argcount]
    kwargs: tuple[str, ...] = ()
    if defaults:
        args, kwargs = args[: -len(defaults)], args[-len(defaults) :]
    in_class = "." in qualname.rsplit("<locals>.", 1)[-1]
    if args and (is_bound or (in_class and args[0] in _IMPLICIT_NAMES)):
        args = args[1:]
    return args, kwargs


def _is_routine(obj: object) -> bool:
    return isinstance(
        obj,
        (
            types.FunctionType,
            types.MethodType,
            types.BuiltinFunctionType,
            types.MethodDescriptorType,
            types.WrapperDescriptorType,
            types.MethodWrapperType,
            types.ClassMethodDescriptorType,
        ),
    )


def _static_lookup(obj: object, name: str) -> object:
    """``inspect.getattr_static`` for what hooks can be: no descriptor is run."""
    if not isinstance(obj, type):
        own = getattr(obj, "__dict__", None)
        if isinstance(own, dict) and name in own:
            return own[name]
        mro: tuple[type, ...] = type(obj).__mro__
    else:
        mro = obj.__mro__
    if isinstance(obj, types.ModuleType):
        return obj.__dict__.get(name, _ABSENT)
    for klass in mro:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return _ABSENT


def _hookable(obj: object, name: str) -> tuple[object, Callable[..., object]] | None:
    """``(marker holder, function bound as getattr would)`` for ``name`` on ``obj``."""
    is_class = isinstance(obj, type)
    is_module = isinstance(obj, types.ModuleType)
    if not (is_class or is_module):
        own = getattr(obj, "__dict__", None)
        value = own.get(name, _ABSENT) if isinstance(own, dict) else _ABSENT
        if value is _ABSENT:
            # A value in a __slots__ slot is the instance's own too (reading it runs no code).
            slot = _static_lookup(obj, name)
            if isinstance(slot, types.MemberDescriptorType):
                try:
                    value = slot.__get__(obj, type(obj))
                except AttributeError:
                    value = _ABSENT
        if value is not _ABSENT:
            if isinstance(value, types.MethodType):
                return value.__func__, value
            if isinstance(value, types.FunctionType):
                return value, value
            return None
    static = _static_lookup(obj, name)
    if isinstance(static, staticmethod):
        return static, static.__func__
    if isinstance(static, classmethod):
        owner: type = obj if isinstance(obj, type) else type(obj)
        return static, static.__get__(owner, owner)
    if isinstance(static, types.MethodType):
        return static.__func__, static
    if isinstance(static, types.FunctionType):
        if is_class or is_module:
            return static, static
        return static, types.MethodType(static, obj)
    return None


def _marker_opts(holder: object, attrname: str) -> dict[str, Any] | None:
    opts = getattr(holder, attrname, None)
    if opts is None:
        func = getattr(holder, "__func__", None)
        opts = getattr(func, attrname, None) if func is not None else None
    return opts if isinstance(opts, dict) else None


def _is_generator_function(func: object) -> bool:
    func = _unwrap(func)
    if isinstance(func, types.MethodType):
        func = func.__func__
    code = getattr(func, "__code__", None)
    return code is not None and bool(code.co_flags & 0x20)  # CO_GENERATOR


def _formatdef(func: Callable[..., object]) -> str:
    import inspect  # only for an error message

    return f"{func.__name__}{inspect.signature(func)}"


# -- the registry ------------------------------------------------------------------------------


class HookImpl:
    """One implementation: the function, its plugin and pluggy's options."""

    __slots__ = (
        "argnames",
        "function",
        "hookwrapper",
        "kwargnames",
        "optionalhook",
        "opts",
        "plugin",
        "plugin_name",
        "tryfirst",
        "trylast",
        "wrapper",
    )

    def __init__(
        self, plugin: object, plugin_name: str, function: Callable[..., Any], opts: dict[str, Any]
    ) -> None:
        self.function = function
        self.argnames, self.kwargnames = varnames(function)
        self.plugin = plugin
        self.plugin_name = plugin_name
        self.opts = opts
        self.wrapper = bool(opts.get("wrapper"))
        self.hookwrapper = bool(opts.get("hookwrapper"))
        self.optionalhook = bool(opts.get("optionalhook"))
        self.tryfirst = bool(opts.get("tryfirst"))
        self.trylast = bool(opts.get("trylast"))

    def __repr__(self) -> str:
        return f"<HookImpl plugin_name={self.plugin_name!r}, plugin={self.plugin!r}>"


class HookSpec:
    __slots__ = ("argnames", "function", "kwargnames", "name", "opts")

    def __init__(self, name: str, function: Callable[..., object], opts: dict[str, Any]) -> None:
        self.name = name
        self.function = function
        self.opts = opts
        self.argnames, self.kwargnames = varnames(function)


class Registry:
    """pluggy's ``PluginManager`` without the calling: specs, plugins by name (None when
    blocked, as pluggy marks them), implementations per hook in pluggy's order."""

    def __init__(self, project_name: str) -> None:
        self.project_name = project_name
        self.specs: dict[str, HookSpec] = {}
        self._name2plugin: dict[str, object | None] = {}
        self._impls: dict[str, list[HookImpl]] = {}

    def add_hookspecs(self, namespace: object) -> None:
        names = []
        for name in dir(namespace):
            found = _hookable(namespace, name)
            opts = _marker_opts(found[0], self.project_name + "_spec") if found else None
            if found is not None and opts is not None:
                self.specs[name] = HookSpec(name, found[1], opts)
                names.append(name)
        if not names:
            raise ValueError(f"did not find any {self.project_name!r} hooks in {namespace!r}")

    # -- plugins -----------------------------------------------------------------------------

    def register(self, plugin: object, name: str) -> str | None:
        """pluggy's ``register``: every implementation is validated before anything changes;
        a blocked name registers nothing (None)."""
        if name in self._name2plugin:
            if self._name2plugin[name] is None:
                return None
            raise ValueError(f"Plugin name already registered: {name}={plugin}")
        if any(p is plugin for p in self._name2plugin.values()):
            raise ValueError(f"Plugin already registered under a different name: {name}={plugin}")
        found: list[tuple[str, HookImpl]] = []
        for attr in dir(plugin):
            hookable = _hookable(plugin, attr)
            if hookable is None:
                continue
            opts = _marker_opts(hookable[0], self.project_name + "_impl")
            if opts is None:
                continue
            for key, default in (
                ("tryfirst", False),
                ("trylast", False),
                ("wrapper", False),
                ("hookwrapper", False),
                ("optionalhook", False),
                ("specname", None),
            ):
                opts.setdefault(key, default)
            impl = HookImpl(plugin, name, hookable[1], opts)
            hook_name = opts.get("specname") or attr
            spec = self.specs.get(hook_name)
            if spec is not None:
                self._verify(spec, impl)
            found.append((hook_name, impl))
        self._name2plugin[name] = plugin
        for hook_name, impl in found:
            self._add(self._impls.setdefault(hook_name, []), impl)
        return name

    def _verify(self, spec: HookSpec, impl: HookImpl) -> None:
        if spec.opts.get("historic") and (impl.hookwrapper or impl.wrapper):
            raise PluginValidationError(
                impl.plugin,
                f"Plugin {impl.plugin_name!r}\nhook {spec.name!r}\n"
                "historic incompatible with yield/wrapper/hookwrapper",
            )
        notinspec = set(impl.argnames) - (set(spec.argnames) | set(spec.kwargnames))
        if notinspec:
            raise PluginValidationError(
                impl.plugin,
                f"Plugin {impl.plugin_name!r} for hook {spec.name!r}\n"
                f"hookimpl definition: {_formatdef(impl.function)}\n"
                f"Argument(s) {notinspec} are declared in the hookimpl but "
                "can not be found in the hookspec",
            )
        if (impl.wrapper or impl.hookwrapper) and not _is_generator_function(impl.function):
            raise PluginValidationError(
                impl.plugin,
                f"Plugin {impl.plugin_name!r} for hook {spec.name!r}\n"
                f"hookimpl definition: {_formatdef(impl.function)}\n"
                "Declared as wrapper=True or hookwrapper=True "
                "but function is not a generator function",
            )
        if impl.wrapper and impl.hookwrapper:
            raise PluginValidationError(
                impl.plugin,
                f"Plugin {impl.plugin_name!r} for hook {spec.name!r}\n"
                f"hookimpl definition: {_formatdef(impl.function)}\n"
                "The wrapper=True and hookwrapper=True options are mutually exclusive",
            )

    @staticmethod
    def _add(impls: list[HookImpl], impl: HookImpl) -> None:
        """pluggy's ``HookCaller._add_hookimpl``: the list is in reverse call order."""
        splitpoint = next(
            (i for i, m in enumerate(impls) if m.hookwrapper or m.wrapper), len(impls)
        )
        start, end = (
            (splitpoint, len(impls)) if impl.hookwrapper or impl.wrapper else (0, splitpoint)
        )
        if impl.trylast:
            impls.insert(start, impl)
        elif impl.tryfirst:
            impls.insert(end, impl)
        else:
            i = end - 1
            while i >= start and impls[i].tryfirst:
                i -= 1
            impls.insert(i + 1, impl)

    def check_pending(self) -> None:
        """An implementation of a hook without a specification is an error unless it is
        marked ``optionalhook``."""
        for hook_name, impls in self._impls.items():
            if hook_name in self.specs:
                continue
            for impl in impls:
                if not impl.optionalhook:
                    raise PluginValidationError(
                        impl.plugin, f"unknown hook {hook_name!r} in plugin {impl.plugin!r}"
                    )

    def unregister(self, plugin: object) -> None:
        for impls in self._impls.values():
            impls[:] = [impl for impl in impls if impl.plugin is not plugin]
        for name, registered in list(self._name2plugin.items()):
            if registered is plugin:
                del self._name2plugin[name]

    def set_blocked(self, name: str) -> None:
        plugin = self._name2plugin.get(name)
        if plugin is not None:
            self.unregister(plugin)
        self._name2plugin[name] = None

    def is_blocked(self, name: str) -> bool:
        return name in self._name2plugin and self._name2plugin[name] is None

    def is_registered(self, plugin: object) -> bool:
        return any(p is plugin for p in self._name2plugin.values())

    def get_plugin(self, name: str) -> object | None:
        return self._name2plugin.get(name)

    def implementations(self, hook_name: str) -> list[HookImpl]:
        """The hook's implementations in pluggy's ``get_hookimpls()`` order (a copy)."""
        return list(self._impls.get(hook_name, ()))

    def hooks_of(self, plugin: object) -> list[str]:
        return [
            name
            for name, impls in self._impls.items()
            if any(impl.plugin is plugin for impl in impls)
        ]
