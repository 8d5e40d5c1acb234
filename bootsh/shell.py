"""The shell: runs command lines and scripts against the commands plugins registered.

``Shell.run_line(text) -> status`` is the whole interface the CLI and the REPL use; it never
raises for a user's mistake and never touches the terminal beyond ``out``/``err``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO

from bootsh.commands import CommandTable, Invocation, ParseError, parse_argv
from bootsh.context import DEFAULT_TWIN_POLICY, Context
from bootsh.errors import BootshError
from bootsh.netdevs import Resolution, resolve
from bootsh.nic import Nic
from bootsh.plugins import PluginHost
from bootsh.settings import Settings

#: Status of a failed command. iPXE uses its own 32-bit error numbers; a process can only
#: return 8 bits, so the CLI maps any failure to 1 and keeps 2 for its own usage errors.
FAILED = 1

TERMINATORS = (";", "||", "&&")
SCRIPT_MAGICS = ("#!ipxe", "#!gpxe")


@dataclass(frozen=True)
class ScriptLine:
    source: str
    number: int
    text: str


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
        self.settings = Settings()
        self.commands: CommandTable = host.commands()
        self.policies = host.twin_policies()
        self.settings.validators["twins"] = self.check_policy
        self._nics: list[Nic] | None = None
        self._resolution: Resolution | None = None
        self.status = 0
        self.exit_requested: int | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Shell:
        self.host.shell_startup(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.host.shell_shutdown(self)

    # -- output ----------------------------------------------------------------------------

    def print(self, text: str = "", end: str = "\n") -> None:
        self.out.write(text + end)

    def diagnose(self, text: str) -> None:
        """bootsh's own diagnostics (not iPXE output): on stderr, prefixed."""
        self.err.write(f"bootsh: {text}\n")

    # -- netdevs ---------------------------------------------------------------------------

    def check_policy(self, name: str) -> None:
        # The default is valid even when no plugin registers it (``--no-plugin policies``):
        # then no plugin decides and every NIC is shown, which loses nothing.
        if name not in self.policies and name != DEFAULT_TWIN_POLICY:
            known = ", ".join(sorted({*self.policies, DEFAULT_TWIN_POLICY}))
            raise BootshError(f"unknown twin policy {name!r} (known: {known})")

    def policy(self) -> str:
        return self.settings.get("twins") or self.context.config.twins

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
            self._resolution = resolve(self.host, self.nics(), policy, self.context)
        return self._resolution

    # -- running ---------------------------------------------------------------------------

    def run_argv(self, argv: list[str]) -> int:
        name = argv[0]
        cmd = self.commands.get(name)
        if cmd is None:
            self.print(f"{name}: command not found")
            return FAILED
        try:
            options, args = parse_argv(cmd, name, argv[1:])
        except ParseError as exc:
            self.print(str(exc))
            self.print(cmd.usage(name))
            return FAILED
        if options.get("help"):
            self.print(cmd.usage(name))
            return FAILED
        if len(args) < cmd.min_args or (cmd.max_args is not None and len(args) > cmd.max_args):
            self.print(cmd.usage(name))
            return FAILED
        try:
            return cmd.handler(Invocation(self, name, options, args))
        except BootshError as exc:
            self.print(str(exc))
            return FAILED

    def run_line(self, text: str) -> int:
        """Run one command line (``;``, ``||`` and ``&&`` included) and return its status."""
        words: list[str] = []
        for token in text.split():
            if token.startswith("#"):
                break  # a comment token ends the line
            words.append(token)
        if words and words[0].startswith(":"):
            words = words[1:]  # a label line still runs the rest of its line
        status = self.status
        run_next = True
        command: list[str] = []
        sequence: list[str | None] = [*words, None]
        for word in sequence:
            if word is not None and word not in TERMINATORS:
                command.append(word)
                continue
            if run_next:
                # An empty command does nothing, successfully: that is why a trailing
                # "||" ignores the failure before it.
                status = self.run_argv(command) if command else 0
            command = []
            if word is None or self.exit_requested is not None:
                break
            run_next = word == ";" or (word == "||") == (status != 0)
        self.status = status
        return status

    def run_script(self, lines: list[ScriptLine]) -> int:
        """Run a script's lines in order, stopping at the first failing line."""
        status = 0
        for line in lines:
            status = self.run_line(line.text)
            if self.exit_requested is not None:
                return self.exit_requested
            if status != 0:
                self.diagnose(f"{line.source}:{line.number}: failed: {line.text.strip()}")
                return status
        return status


def script_lines(text: str, source: str) -> tuple[list[ScriptLine], bool]:
    """Split a script into lines; return them and whether it carried the ``#!ipxe`` magic."""
    raw = text.split("\n")
    lines = [ScriptLine(source, i + 1, line.removesuffix("\r")) for i, line in enumerate(raw)]
    has_magic = bool(lines) and any(
        lines[0].text.startswith(m)
        and (len(lines[0].text) == len(m) or lines[0].text[len(m)].isspace())
        for m in SCRIPT_MAGICS
    )
    if has_magic:
        lines = lines[1:]
    return lines, has_magic
