"""The plugin host: loads plugins from the ``bootsh`` entry-point group and calls hooks.

The core never calls a hook directly; it calls the typed methods of ``PluginHost``, which
call each implementation on its own so that one failing plugin is reported in one line and
dropped while the others go on (a pluggy multicall would abort the whole hook call). The
implementations are found, validated and ordered by ``bootsh.hooks`` (pluggy's rules,
without importing pluggy), the entry points read by ``bootsh.entry_points``.
"""

from __future__ import annotations

from bootsh import hookspecs
from bootsh.errors import BootshError
from bootsh.hooks import HookImpl, PluginValidationError, Registry
from bootsh.lang.commands import Command, CommandGroup, CommandTable
from bootsh.records import dataclass, field, replace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any, Protocol

    from bootsh.boot.fetch import UriScheme
    from bootsh.boot.images import ImageType
    from bootsh.context import Context
    from bootsh.nics.netspec import NetDriver
    from bootsh.nics.nic import Nic
    from bootsh.nics.twins import Decision, Evidence, TwinPolicy
    from bootsh.shell import Shell

    class EntryPointLike(Protocol):
        """``bootsh.entry_points.EntryPoint`` or ``importlib.metadata.EntryPoint``."""

        @property
        def name(self) -> str: ...
        @property
        def value(self) -> str: ...
        def load(self) -> Any: ...


ENTRY_POINT_GROUP = "bootsh"


def plugin_key(name: str) -> str:
    """Plugin names compare without regard to case or ``-``/``_`` (``pci-nics`` = ``pci_nics``)."""
    return name.strip().lower().replace("-", "_")


@dataclass
class PluginInfo:
    name: str
    module: str
    state: str = "loaded"  # loaded | blocked | failed
    reason: str = ""
    #: The installed distribution (``bootsh.entry_points.Distribution`` or importlib's);
    #: its metadata is read only when the name or version is shown.
    dist: Any = None

    @property
    def distribution(self) -> str | None:
        return str(self.dist.name) if self.dist is not None else None

    @property
    def version(self) -> str | None:
        return str(self.dist.version) if self.dist is not None else None


@dataclass
class PluginHost:
    """A plugin registry plus the record of what was loaded, blocked or failed, and why."""

    registry: Registry
    report: Callable[[str], None]
    plugins: dict[str, PluginInfo] = field(default_factory=dict)

    # -- loading ---------------------------------------------------------------------------

    def register(self, plugin: object, name: str, info: PluginInfo | None = None) -> bool:
        """Register one plugin object; report and skip it if it does not fit the API."""
        info = info or PluginInfo(name, getattr(plugin, "__name__", type(plugin).__name__))
        if self.registry.is_blocked(name):
            info.state, info.reason = "blocked", "disabled by the user"
            self.plugins[name] = info
            return False
        try:
            self.registry.register(plugin, name)
            self.registry.check_pending()
            wrappers = [
                impl.plugin_name
                for hook in self.registry.hooks_of(plugin)
                for impl in self.registry.implementations(hook)
                if impl.plugin is plugin and (impl.hookwrapper or impl.wrapper)
            ]
            if wrappers:
                raise BootshError("hook wrappers are not supported by bootsh hooks")
        except (PluginValidationError, BootshError, ValueError) as exc:
            if self.registry.is_registered(plugin):
                self.registry.unregister(plugin)
            self._fail(info, f"does not fit the bootsh plugin API: {_one_line(exc)}")
            return False
        self.plugins[name] = info
        return True

    def load_entry_points(self, entry_points: Iterable[EntryPointLike]) -> None:
        for ep in entry_points:
            info = PluginInfo(ep.name, ep.value, dist=getattr(ep, "dist", None))
            if self.registry.is_blocked(ep.name) or ep.name in self.plugins:
                if ep.name not in self.plugins:
                    info.state, info.reason = "blocked", "disabled by the user"
                    self.plugins[ep.name] = info
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # any import-time error of someone else's code
                self._fail(info, f"failed to load: {_one_line(exc)}")
                continue
            self.register(plugin, ep.name, info)

    def _fail(self, info: PluginInfo, reason: str) -> None:
        info.state, info.reason = "failed", reason
        self.plugins[info.name] = info
        where = f" ({info.distribution} {info.version})" if info.distribution else ""
        self.report(f"plugin {info.name}{where} {reason}; skipped")

    # -- calling ---------------------------------------------------------------------------

    def _call(self, hook_name: str, first: bool = False, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call each implementation in pluggy's order, isolating failures.

        Returns ``(plugin name, result)`` for each non-None result (only the first one when
        ``first``). A ``BootshError`` is a clear, expected failure (XenStore gone, say): it is
        reported and the plugin stays. Anything else is a bug in the plugin: reported once and
        the plugin is unregistered for the rest of the session.
        """
        results: list[tuple[str, Any]] = []
        for impl in reversed(self.registry.implementations(hook_name)):
            try:
                result = impl.function(*(kwargs[arg] for arg in impl.argnames))
            except BootshError as exc:
                self.report(f"{impl.plugin_name}: {exc}")
                continue
            except Exception as exc:
                self._drop(impl, hook_name, exc)
                continue
            if result is not None:
                results.append((impl.plugin_name, result))
                if first:
                    break
        return results

    def _collect(self, hook_name: str, add: Callable[[Any, str], None]) -> None:
        """Call a registration hook of each plugin in pluggy's order, ``add(record, plugin
        name)`` for each ``register(record)``.

        Same isolation as ``_call`` (a plugin that raises, also inside ``add``, is dropped),
        but ``register`` must know which plugin calls it: each gets a callback of its own.
        """
        for impl in reversed(self.registry.implementations(hook_name)):

            def register(record: Any, source: str = impl.plugin_name) -> None:
                add(record, source)

            try:
                impl.function(*({"register": register}[arg] for arg in impl.argnames))
            except Exception as exc:
                self._drop(impl, hook_name, exc)

    def _first_wins(
        self, hook_name: str, what: str | None, key: Callable[[Any], str] = lambda r: r.name
    ) -> dict[str, Any]:
        """Registered records by ``key``, each with its ``source`` plugin filled in; a key
        taken twice keeps the first, and the others are reported when ``what`` names them."""
        records: dict[str, Any] = {}

        def add(record: Any, source: str) -> None:
            name = key(record)
            if name not in records:
                records[name] = replace(record, source=source)
            elif what is not None:
                self.report(
                    f"plugin {source}: {what} {name!r} is already provided by "
                    f"{records[name].source}; ignored"
                )

        self._collect(hook_name, add)
        return records

    def commands(self) -> CommandTable:
        collected: list[Command | CommandGroup] = []
        self._collect(
            "bootsh_register_commands",
            lambda cmd, source: collected.append(replace(cmd, source=source)),
        )
        table = CommandTable()
        for cmd in collected:
            if isinstance(cmd, CommandGroup):
                table.add_group(replace(cmd, load=self._guarded_load(cmd)))
            else:
                table.add(cmd)
        for conflict in table.conflicts:
            self.report(conflict)
        return table

    def _guarded_load(self, group: CommandGroup) -> Callable[[], list[Command]]:
        """A group's loader that reports a failure (a command module that does not import)
        in one line instead of raising into the command that needed it."""

        def load() -> list[Command]:
            try:
                return [replace(cmd, source=group.source) for cmd in group.load()]
            except Exception as exc:  # someone else's module, imported late
                self.report(f"plugin {group.source} failed to load commands: {_one_line(exc)}")
                return []

        return load

    def twin_policies(self) -> dict[str, TwinPolicy]:
        return self._first_wins("bootsh_register_twin_policies", None)

    def net_drivers(self) -> dict[str, NetDriver]:
        """``--net`` drivers by name; a name taken twice keeps the first."""
        return self._first_wins("bootsh_register_net_drivers", "--net driver")

    def implementers(self, hook_name: str) -> list[str]:
        """The plugins implementing a hook, in call order (``no network devices`` names
        the drivers that were asked)."""
        return [impl.plugin_name for impl in reversed(self.registry.implementations(hook_name))]

    def uri_schemes(self) -> dict[str, UriScheme]:
        """Download schemes by lower-case name; a name taken twice keeps the first."""
        schemes = self._first_wins(
            "bootsh_register_uri_schemes", "URI scheme", lambda s: s.name.lower()
        )
        return {name: replace(scheme, name=name) for name, scheme in schemes.items()}

    def image_types(self) -> list[ImageType]:
        """Image types in registration order; a name taken twice keeps the first."""
        return list(self._first_wins("bootsh_register_image_types", "image type").values())

    def _drop(self, impl: HookImpl, hook_name: str, exc: Exception) -> None:
        """A plugin bug: report it once and unregister the plugin for the rest of the session."""
        info = self.plugins.get(impl.plugin_name) or PluginInfo(impl.plugin_name, "?")
        if self.registry.is_registered(impl.plugin):
            self.registry.unregister(impl.plugin)
        self._fail(info, f"raised in {hook_name}: {_one_line(exc)}")

    def probe_nics(self, context: Context) -> list[Nic]:
        found: list[Nic] = []
        for name, nics in self._call("bootsh_probe_nics", context=context):
            found.extend(_checked(nic.with_source(name)) for nic in nics)
        return found

    def twin_evidence(self, paravirtual: Nic, other: Nic, context: Context) -> list[Evidence]:
        evidence: list[Evidence] = []
        for name, items in self._call(
            "bootsh_twin_evidence", paravirtual=paravirtual, other=other, context=context
        ):
            evidence.extend(replace(e, source=e.source or name) for e in items)
        return evidence

    def resolve_twins(self, group: Any, policy: str, context: Context) -> Decision | None:
        from bootsh.nics.twins import Decision

        answers = self._call(
            "bootsh_resolve_twins", first=True, group=group, policy=policy, context=context
        )
        if not answers:
            return None
        name, decision = answers[0]
        return replace(decision, by=name) if isinstance(decision, Decision) else None

    def shell_startup(self, shell: Shell) -> None:
        self._call("bootsh_shell_startup", shell=shell)

    def shell_shutdown(self, shell: Shell) -> None:
        self._call("bootsh_shell_shutdown", shell=shell)

    # -- introspection ---------------------------------------------------------------------

    def hooks_of(self, name: str) -> list[str]:
        plugin = self.registry.get_plugin(name)
        if plugin is None:
            return []
        return sorted(self.registry.hooks_of(plugin))

    def describe(self) -> list[str]:
        """Lines for ``plugins`` / ``bootsh --plugins``."""
        lines: list[str] = []
        for info in sorted(self.plugins.values(), key=lambda i: (i.state != "loaded", i.name)):
            origin = (
                f"{info.distribution} {info.version}"
                if info.distribution
                else "registered directly"
            )
            lines.append(f"{info.name}: {info.state} from {origin} (module {info.module})")
            if info.state == "loaded":
                lines.append(f"  hooks: {', '.join(self.hooks_of(info.name)) or '(none)'}")
            else:
                lines.append(f"  {info.reason}")
        return lines


def pluggy_verdict(host: PluginHost) -> tuple[bool, list[str]]:
    """Ask pluggy itself whether it reads the loaded plugins as ``bootsh.hooks`` did.

    ``bootsh --plugins`` ends with this: the plugins bootsh loaded are registered with a real
    ``pluggy.PluginManager`` against the same specifications, and each hook's implementations
    must come out the same, in the same order. A plugin author sees there whether pluggy
    accepts the plugin (its validation errors are pluggy's own words); a difference would be
    a bug in ``bootsh.hooks``. Here and not at start-up: pluggy's import costs as much as
    Python's whole start.
    """
    try:
        import pluggy
    except ImportError as exc:  # a pip-installed bootsh has it; a hand-made environment may not
        return True, [f"pluggy: not checked ({_one_line(exc)})"]
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    problems: list[str] = []
    loaded = [info.name for info in host.plugins.values() if info.state == "loaded"]
    for name in loaded:
        try:
            pm.register(host.registry.get_plugin(name), name=name)
        except Exception as exc:  # whatever pluggy makes of someone else's plugin: a line
            problems.append(f"pluggy refuses {name}: {_one_line(exc)}")
    try:
        pm.check_pending()
    except Exception as exc:  # PluginValidationError, or anything else: a line, not a traceback
        problems.append(f"pluggy: {_one_line(exc)}")
    count = 0
    for hook in sorted(host.registry.specs):
        ours = [i.plugin_name for i in host.registry.implementations(hook)]
        theirs = [i.plugin_name for i in getattr(pm.hook, hook).get_hookimpls()]
        count += len(ours)
        if ours != theirs and not problems:
            problems.append(f"pluggy orders {hook} as {theirs}, bootsh as {ours}")
    if problems:
        return False, problems
    version = getattr(pluggy, "__version__", "?")
    return True, [
        f"pluggy {version} agrees: {len(loaded)} plugins, {count} implementations, same order"
    ]


def _checked(nic: Nic) -> Nic:
    """A NIC whose MAC no NIC can have (broadcast, multicast, all zeros) is unusable,
    whichever driver reported it: the host checks, so that no driver can forget to."""
    if nic.problem is None and nic.mac is not None:
        from bootsh.nics.nic import mac_problem  # once NICs are probed, not at every start

        problem = mac_problem(nic.mac)
        if problem is not None:
            return replace(nic, problem=problem)
    return nic


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def make_plugin_manager(
    disabled: Iterable[str] = (),
    report: Callable[[str], None] | None = None,
    entry_points: bool = True,
    extra: Sequence[tuple[str, object]] = (),
) -> PluginHost:
    """Build a fresh host: specs, blocked names, entry-point plugins, then ``extra`` ones.

    Tests pass ``extra`` plugin objects (and often ``entry_points=False``); nothing is cached
    between calls, so every shell and every test gets its own manager, and a plugin installed
    or removed is seen by the next one.
    """
    from bootsh.entry_points import entry_points as find_entry_points

    registry = Registry(hookspecs.PROJECT)
    registry.add_hookspecs(hookspecs)
    host = PluginHost(registry, report or (lambda line: None))
    installed = find_entry_points(ENTRY_POINT_GROUP) if entry_points else []
    # Block by the name the plugin is registered under, matching loosely so that
    # "--no-plugin pci-nics" works for the "pci_nics" entry point.
    wanted = {plugin_key(n) for n in disabled if n.strip()}
    for name in [ep.name for ep in installed] + [n for n, _ in extra]:
        if plugin_key(name) in wanted:
            registry.set_blocked(name)
    host.load_entry_points(installed)
    for name, plugin in extra:
        host.register(plugin, name)
    return host
