"""The shell: runs command lines and scripts against the commands plugins registered.

``Shell.run_line(text) -> status`` is what the REPL uses (iPXE's ``system()``: one line,
``;``/``||``/``&&`` included, no labels); ``Shell.run_script(script)`` runs a parsed script
in its own call frame (labels, ``goto``, position, arguments), so a nested script (``chain``,
later) has its own and ``exit N`` returns N to its parent. Neither raises for a user's
mistake, and neither touches the terminal beyond ``out``/``err``.

Statuses are iPXE's error numbers of the Linux build (``bootsh.ipxe_errors``), so that
``${errno}`` shows what iPXE shows; ``exit N`` returns N itself. The CLI turns them into a
process status (0, N for ``exit N``, 1 for a failure).

Stopping follows iPXE's ``shell_stop()``: ``goto`` stops the rest of the current line
(STOP_COMMAND), ``exit`` stops the line and the script that runs it (STOP_SEQUENCE); the
interactive loop leaves on STOP_SEQUENCE too.
"""

from __future__ import annotations

import _signal  # the C module, loaded with the interpreter (``signal`` imports ``enum``)
import sys

from bootsh.context import DEFAULT_TWIN_POLICY, visible
from bootsh.errors import BootshError
from bootsh.ipxe_errors import (
    ECANCELED_NO_OP,
    EINVAL_CONTINUATION,
    ENOEXEC_COMMAND,
    ENOMEM_EXPAND,
    ERANGE_ARGS,
)
from bootsh.lang.commands import CommandTable, Invocation, ParseError, parse_argv
from bootsh.lang.script import CompiledCommand, ExpansionError, Script, compiled_line
from bootsh.lang.settings import Settings
from bootsh.records import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO, TypeVar

    T = TypeVar("T")

    from bootsh.context import Context
    from bootsh.lang.settings import Block, NicLike
    from bootsh.net.netstate import NetdevState, NetdevStates
    from bootsh.nics.netdevs import Netdev, Resolution
    from bootsh.nics.nic import Nic
    from bootsh.nics.twins import TwinPolicy
    from bootsh.plugins import PluginHost

#: The signals that end or interrupt bootsh: deferred while it cleans up.
ENDING_SIGNALS = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)
#: A clean-up that does not finish is ended after this many signals (the user insists).
SIGNALS_BEFORE_GIVING_UP = 3


class signals_deferred:
    """SIGINT, SIGTERM and SIGHUP only counted, not acted on, while the body runs.

    For clean-up that must not stop half-way. A signal that arrives then asks for what is
    already happening (bootsh is ending), so it is dropped; the third one is obeyed (as
    KeyboardInterrupt), in case the clean-up itself hangs. A signal the caller ignores
    (``nohup``) stays ignored. Outside the main thread signals cannot be handled: the body
    just runs. (A class on ``_signal``: ``contextlib`` and ``threading`` would import
    ``collections`` at every start.)
    """

    def __enter__(self) -> None:
        count = 0

        def note(signum: int, frame: object) -> None:
            nonlocal count
            count += 1
            if count >= SIGNALS_BEFORE_GIVING_UP:
                raise KeyboardInterrupt

        self.saved: dict[int, object] = {}
        try:
            for signum in ENDING_SIGNALS:
                if _signal.getsignal(signum) is not _signal.SIG_IGN:
                    self.saved[signum] = _signal.signal(signum, note)
        except ValueError:  # not the main thread (the first signal() refuses): just run
            pass

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self.saved.items():
            _signal.signal(signum, previous)  # type: ignore[arg-type]


#: The status of a handler's ``BootshError`` that carries no iPXE error number of its own.
FAILED = 1

STOP_COMMAND = 1  # iPXE's SHELL_STOP_COMMAND: the rest of the line is dropped (goto)
STOP_SEQUENCE = 2  # SHELL_STOP_COMMAND_SEQUENCE: the script or the shell ends (exit)

#: The bootsh-only scope holding the running script's arguments (see ``bootsh.lang.script``).
ARGS_SCOPE = "args"


@dataclass
class Frame:
    """A running script: its lines and labels, where it is, and its arguments."""

    script: Script
    args: list[str] = field(default_factory=list)
    pc: int = 0  # index of the next line to run


class Shell:
    def __init__(
        self,
        host: PluginHost,
        context: Context,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.host = host
        self.context = context
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        #: The last error (iPXE's ``errno``): set by a failing command, kept by a good one.
        self.errno = 0
        self.settings = Settings()
        # The store reads netN/... from the shown netdevs and builtin/errno from this shell,
        # lazily: nothing is probed until a setting of a netdev is asked for.
        self.settings.netdevs_provider = lambda: self.netdevs().shown
        self.settings.errno_source = lambda: self.errno
        self.settings.link_block = _link_block
        self.settings.sysfs_root = context.config.path_text("sysfs_root") or "/sys"
        self.commands: CommandTable = host.commands()
        self._policies: dict[str, TwinPolicy] | None = None
        self.settings.validators["twins"] = self.check_policy
        self._nics: list[Nic] | None = None
        self._resolution: Resolution | None = None
        #: Netdevs made by commands (``vcreate``'s VLANs), after the probed ones, as iPXE
        #: registers them after the hardware's.
        self.extra_netdevs: list[Netdev] = []
        self._with_extra: tuple[int, Resolution] | None = None
        self._netstate: NetdevStates | None = None
        self._policy: tuple[tuple[Settings, int], str] | None = None
        self.status = 0
        self.exit_requested: int | None = None
        #: Per-shell state of plugins (menus, ...), by a key each plugin owns: no globals.
        self.state: dict[str, object] = {}
        self.frames: list[Frame] = []
        #: Print each command after expansion on ``err`` (``-x``).
        self.trace = False
        #: Set by the CLI when Ctrl-C ended the run (it catches the KeyboardInterrupt
        #: before the shell's clean-up sees it): the clean-up then restores the links.
        self.interrupted = False
        self._stop = 0

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Shell:
        self.host.shell_startup(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: object,
    ) -> None:
        # The clean-up (the image directory, the netdevs) must finish even when the user
        # presses Ctrl-C again or a second SIGTERM comes: a signal in the middle of it left
        # a traceback from shutil.rmtree and tens of megabytes of images behind.
        with signals_deferred():
            try:
                self.host.shell_shutdown(self)
            finally:
                # Ended by Ctrl-C or a signal: every link bootsh set up goes down again, as
                # it was found. After a normal end an open netdev keeps its link up (what
                # ifopen or a lease did is the result the user asked for).
                if self._netstate is not None:
                    restore = self.interrupted or exc_type is not None
                    self._netstate.close_all(restore_links=restore)

    @property
    def netstate(self) -> NetdevStates:
        """Open sockets and bootsh's own counters per netdev (``ifopen``/``ifstat``); made
        on first use, so that a shell that opens nothing never imports ``socket``."""
        if self._netstate is None:
            from bootsh.net.netstate import NetdevStates

            self._netstate = NetdevStates()
        return self._netstate

    def netdev_state(self, name: str) -> NetdevState | None:
        """``netstate.peek(name)``, without making the states (and loading the socket code)
        when no netdev was ever opened: ``ifstat`` asks for every netdev."""
        return None if self._netstate is None else self._netstate.peek(name)

    # -- output ----------------------------------------------------------------------------

    def print(self, text: str = "", end: str = "\n") -> None:
        self.out.write(text + end)
        if not end.endswith("\n"):
            # A partial line (``echo -n``, a progress line) must show before the next,
            # possibly long, command runs, also when stdout is a pipe (block-buffered).
            self.out.flush()

    def diagnose(self, text: str) -> None:
        """bootsh's own diagnostics (not iPXE output): on stderr, prefixed, one line with
        control characters made visible (they may come from a server: ``visible``)."""
        self.err.write(f"bootsh: {visible(text)}\n")

    # -- netdevs ---------------------------------------------------------------------------

    @property
    def policies(self) -> dict[str, TwinPolicy]:
        """The twin policies the plugins declared, asked for when first needed."""
        if self._policies is None:
            self._policies = self.host.twin_policies()
        return self._policies

    def check_policy(self, name: str) -> None:
        # The default is valid even when no plugin registers it (``--no-plugin policies``):
        # then no plugin decides and every NIC is shown, which loses nothing.
        if name != DEFAULT_TWIN_POLICY and name not in self.policies:
            known = ", ".join(sorted({*self.policies, DEFAULT_TWIN_POLICY}))
            raise BootshError(f"unknown twin policy {name!r} (known: {known})")

    def policy(self) -> str:
        # Asked at every lookup that reaches a netdev's block: the search for "twins" is kept
        # for as long as no setting changed (Settings.generation).
        key = (self.settings, self.settings.generation)
        if self._policy is None or self._policy[0] != key:
            self._policy = (key, self.settings.get("twins") or self.context.config.twins)
        return self._policy[1]

    def nics(self) -> list[Nic]:
        """Every NIC the driver plugins found, probed once per shell."""
        if self._nics is None:
            self._nics = self.host.probe_nics(self.context)
            for nic in self._nics:
                if nic.problem:
                    self.diagnose(f"{nic.describe()} is unusable: {nic.problem}")
        return self._nics

    def netdevs(self) -> Resolution:
        """The current naming; recomputed when the twin policy has changed."""
        policy = self.policy()
        if self._resolution is None or self._resolution.policy != policy:
            self.check_policy(policy)
            from bootsh.nics.netdevs import resolve

            self._resolution = resolve(self.host, self.nics(), policy, self.context)
            self._with_extra = None
        if not self.extra_netdevs:
            return self._resolution
        key = hash(tuple(id(n) for n in self.extra_netdevs))
        if self._with_extra is None or self._with_extra[0] != key:
            from bootsh.nics.netdevs import Resolution

            base = self._resolution
            combined = Resolution(
                base.policy, [*base.netdevs, *self.extra_netdevs], base.unusable, base.groups
            )
            self._with_extra = (key, combined)
        return self._with_extra[1]

    def explain_no_netdevs(self) -> str:
        """Why no netdev exists, in one line: which drivers were asked, what they found."""
        asked = self.host.implementers("bootsh_probe_nics")
        nics = self.nics()
        res = self.netdevs()
        if not asked:
            return "no network devices: no driver plugin is loaded (bootsh --plugins lists them)"
        what = "asked " + ", ".join(asked)
        if not self.context.config.nets and "af_packet" in asked:
            what += " (no --net given)"
        if not nics:
            more = "" if self.context.config.verbose else "; -v says why each found none"
            return f"no network devices: {what}; they found no NIC{more}"
        parts = [f"{len(res.hidden)} hidden"] if res.hidden else []
        parts += [f"{len(res.unusable)} unusable"] if res.unusable else []
        return (
            f"no network devices: {what}; they found {len(nics)} NIC(s), none usable as a"
            f" netdev: {', '.join(parts)} (ifstat --all lists them with the reason)"
        )

    # -- settings as the language sees them ----------------------------------------------

    def lookup(self, name: str) -> str | None:
        """The formatted value of ``${name}`` (``[scope/]name[:type]``), or None.

        The shell owns the script arguments (``args/N``); everything else, ``errno`` and the
        other builtins included, is the settings store's, which reads the stored bytes
        through the requested type as iPXE does.
        """
        scope, slash, rest = name.partition("/")
        if slash and scope == ARGS_SCOPE:
            base, colon, type_ = rest.partition(":")
            return self._script_argument(base) if not colon or type_ == "string" else None
        return self.settings.get(name)

    def _script_argument(self, key: str) -> str | None:
        frame = self.frame
        if frame is None:
            return None
        if key == "count":
            return str(len(frame.args))
        # At most 9 digits: more cannot be an argument's index, and int() of over 4300 digits
        # raised ValueError in the middle of an expansion (a traceback).
        if key.isdigit() and key.isascii() and len(key) <= 9:
            index = int(key)
            words = [frame.script.name, *frame.args]
            return words[index] if index < len(words) else None
        return None

    # -- stopping (iPXE's shell_stop / shell_stopped) ----------------------------------------

    def stop(self, level: int) -> None:
        self._stop = level

    def stopped(self, level: int) -> bool:
        """Whether a stop at ``level`` or above is pending; a stop up to ``level`` is used up."""
        stopped = self._stop >= level
        if self._stop <= level:
            self._stop = 0
        return stopped

    @property
    def frame(self) -> Frame | None:
        """The innermost running script, if any."""
        return self.frames[-1] if self.frames else None

    # -- running ---------------------------------------------------------------------------

    def run_argv(self, argv: list[str]) -> int:
        """Run one expanded command (iPXE's ``execv``); a failure becomes ``${errno}``."""
        if not argv:
            return 0  # an empty command does nothing, successfully
        status = self._execute(argv)
        if status:
            self.errno = status & 0xFFFFFFFF
        return status

    def _execute(self, argv: list[str]) -> int:
        name = argv[0]
        cmd = self.commands.get(name)
        if cmd is None:
            self.print(f"{name}: command not found")
            return ENOEXEC_COMMAND
        options: dict[str, str | bool]
        if cmd.raw_args:
            options = {}
            args = argv[1:]
        else:
            args = argv[1:]
            if args and args[0][:1] == "-":  # else no option: getopt stops at the first word
                try:
                    options, args = parse_argv(cmd, name, args)
                except ParseError as exc:
                    self.print(str(exc))
                    self.print(cmd.usage(name))
                    return exc.errno
                if options.get("help"):
                    self.print(cmd.usage(name))
                    return ECANCELED_NO_OP
            else:
                options = {}
            if len(args) < cmd.min_args or (cmd.max_args is not None and len(args) > cmd.max_args):
                self.print(cmd.usage(name))
                return ERANGE_ARGS
        try:
            return cmd.handler(Invocation(self, name, options, args, tuple(argv)))
        except ParseError as exc:
            # A handler's argument that does not parse (an integer, say): iPXE prints the
            # reason only, no usage.
            self.print(str(exc))
            return exc.errno
        except BootshError as exc:
            self.print(str(exc))
            errno = getattr(exc, "errno", None)
            return errno if isinstance(errno, int) and errno else FAILED

    def state_for(self, key: str, kind: type[T], make: Callable[[], T]) -> T:
        """The per-shell state a plugin or service keeps under ``key`` (see ``state``): the
        one there when it is a ``kind``, else ``make()``'s, kept for the next call."""
        found = self.state.get(key)
        if not isinstance(found, kind):
            found = make()
            self.state[key] = found
        return found

    def run_line(self, text: str) -> int:
        """Run one command line (``;``, ``||`` and ``&&`` included) and return its status.

        iPXE's ``system()``: each command's words are expanded just before it runs (so
        ``set x 1 ; echo ${x}`` prints 1); a skipped command leaves the status as it was.
        """
        return self.run_commands(compiled_line(text))

    def run_commands(self, commands: tuple[CompiledCommand, ...]) -> int:
        """Run a line's commands, split beforehand (``Line.compiled``); see ``run_line``."""
        status = 0
        run = True
        lookup = self.lookup
        for command in commands:
            if run:
                try:
                    literal = command.literal
                    argv = list(literal) if literal is not None else command.argv(lookup)
                except ExpansionError as exc:
                    # iPXE fails the line with ENOMEM when expansion cannot allocate.
                    self.diagnose(str(exc))
                    status = ENOMEM_EXPAND
                    break
                if argv:
                    if self.trace:
                        self.err.write("+ " + " ".join(argv) + "\n")
                    status = self._execute(argv)
                    if status:
                        self.errno = status & 0xFFFFFFFF
                else:
                    status = 0  # an empty command does nothing, successfully
            if self._stop and self.stopped(STOP_COMMAND):
                break
            terminator = command.terminator
            if terminator is None:
                break
            if terminator == "||":
                run = status != 0
            elif terminator == "&&":
                run = status == 0
            else:
                run = True
        self.status = status
        return status

    def run_script(self, script: Script, args: list[str] | None = None) -> int:
        """Run a script in a new frame; stop at the first failing line or at ``exit``.

        Returns the script's status (for ``exit N``: N). When the outermost script ends by
        ``exit``, ``exit_requested`` holds N for the CLI. ``KeyboardInterrupt`` (Ctrl-C)
        passes through, leaving the frame stack as it was.
        """
        frame = Frame(script, list(args or []))
        self.frames.append(frame)
        status = 0
        exited = False
        try:
            lines, compiled = script.lines, script.compiled
            while frame.pc < len(lines):
                index = frame.pc
                line = lines[index]
                frame.pc = index + 1
                status = self.run_commands(compiled(index))
                if self._stop and self.stopped(STOP_SEQUENCE):
                    exited = True
                    break
                if status != 0:
                    from bootsh.boot.uri import redact_words

                    self.diagnose(
                        f"{script.name}:{line.number}: failed: {redact_words(line.text.strip())}"
                    )
                    break
            else:
                if script.dangling is not None:
                    line = script.dangling
                    status = EINVAL_CONTINUATION
                    self.diagnose(
                        f"{script.name}:{line.number}: failed: the file ends in a"
                        f" continued line, which never runs: {line.text.strip()}"
                    )
        finally:
            self.frames.pop()
            # Consumed on every normal path; after Ctrl-C no goto or exit may linger.
            self._stop = 0
        if exited and not self.frames:
            self.exit_requested = status
        self.status = status
        return status


def _link_block(nic: NicLike) -> Block | None:
    """The ``link`` block (iPXE's IPv6 link-local settings) of a NIC with an Ethernet MAC."""
    from bootsh.net.linklocal import LinkBlock  # only when a netdev's settings are first needed

    mac = bytes.fromhex((nic.mac or "").replace(":", ""))
    return LinkBlock(mac) if len(mac) == 6 else None
