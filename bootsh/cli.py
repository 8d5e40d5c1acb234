"""The ``bootsh`` command: argv, a script file, ``-c`` lines, or commands on stdin.

Exit status: 0 on success, ``N`` for ``exit N`` (its low 8 bits, as a process status holds),
1 when a command fails (iPXE's own error number is in ``${errno}``; the process cannot return
32 bits), 2 when bootsh's own command line or configuration is wrong, 130 on Ctrl-C, 141
(128 + SIGPIPE) without a word when the reader of stdout or stderr went away.

A script file, the ``-c`` lines (one script line each) and commands on stdin all run as one
script: labels and ``goto`` work, and the first failing line ends it.
"""

from __future__ import annotations

import gc
import io
import os
import sys

from bootsh import __version__
from bootsh.config import Choices, merge
from bootsh.context import Context, visible
from bootsh.errors import BootshError, UsageError
from bootsh.lang.files import read_bounded, read_stream
from bootsh.lang.script import MAX_SCRIPT_SIZE, has_magic, parse_script
from bootsh.plugins import PluginHost, make_plugin_manager, pluggy_verdict, plugin_key
from bootsh.shell import Shell

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping, Sequence
    from pathlib import Path
    from typing import TextIO

    from bootsh.boot.images import Image

    _TextIOBase = TextIO  # what OutputGuard is to type checkers
else:
    _TextIOBase = object  # at run time: no typing at start-up

USAGE_ERROR = 2
#: The shells ``--completion`` writes a script for (argcomplete's own shell code).
COMPLETION_SHELLS = ("bash", "zsh", "fish")
#: ``bootsh lab ...`` is the lab, checked before the script argument: the first word is the
#: subcommand only when it is exactly ``lab`` (a script of that name runs as ``./lab``).
LAB_COMMAND = "lab"
#: The name iPXE gives the image it was booted with as an initrd (``arch/x86/core/runtime.c``).
INITRD_NAME = "<INITRD>"
#: ``bootsh initramfs ...`` builds the initramfs (bootsh.initramfs), the same way.
INITRAMFS_COMMAND = "initramfs"


# -- the standard streams when their reader goes away ---------------------------------------
#
# Python ignores SIGPIPE, so a write to a pipe whose reader has exited raises BrokenPipeError
# wherever it happens: in Shell.print, in a plugin writing to shell.out, in a diagnostic on
# stderr, or at the interpreter's last flush. Unix tools are killed by SIGPIPE instead and end
# quietly. bootsh does the same on purpose, with cleanup: OutputGuard wraps stdout and stderr;
# the first write or flush that meets a closed reader points the descriptor at /dev/null (so
# later writes, the shell's shutdown and the interpreter's final flush find nothing to
# complain about) and raises OutputClosed. That is a BaseException, like KeyboardInterrupt:
# the ``except OSError`` and ``except Exception`` of commands and plugins (a download's error
# handling, the REPL's "internal error" net) do not swallow it, while ``finally`` blocks and
# context managers still run. main() catches it and exits with CLOSED_OUTPUT_STATUS, without a
# word (stderr may be the same pipe). reopen_closed_standard_fds handles the other way to lose
# a stream, a descriptor closed before bootsh started (``bootsh >&-``): it becomes /dev/null.

#: 128 + SIGPIPE: the status a shell shows for a command that SIGPIPE killed.
CLOSED_OUTPUT_STATUS = 141


class OutputClosed(BaseException):
    """stdout or stderr lost its reader; the run ends quietly (see the module docstring)."""


def _to_devnull(stream: TextIO) -> None:
    """Point ``stream``'s descriptor at /dev/null, when it has one: the data still buffered
    in it and anything written later go nowhere instead of failing again."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return  # an in-memory stream: nothing to redirect
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


class OutputGuard(io.TextIOBase, _TextIOBase):
    """``stream`` with a closed reader turned into one ``OutputClosed``; otherwise the same
    stream (terminal checks, ``fileno``, ``buffer`` for prompt_toolkit pass through)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        #: Set once the reader was found gone; later writes are dropped silently.
        self.reader_gone = False

    def _gone(self) -> OutputClosed:
        self.reader_gone = True
        _to_devnull(self.stream)
        return OutputClosed(getattr(self.stream, "name", "output"))

    def write(self, text: str) -> int:
        if self.reader_gone:
            return len(text)
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            raise self._gone() from None

    def flush(self) -> None:
        if self.reader_gone:
            return
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise self._gone() from None
        except ValueError:
            pass  # flushing a stream someone closed: nothing is pending there

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.stream, "errors", None)

    @property
    def name(self) -> str:
        return str(getattr(self.stream, "name", "<output>"))

    @property
    def buffer(self) -> io.BufferedIOBase:  # type: ignore[override]
        # prompt_toolkit writes a terminal's bytes here; AttributeError (an in-memory
        # stream) makes its hasattr() check fall back to write().
        buffer: io.BufferedIOBase = self.stream.buffer  # type: ignore[assignment]
        return buffer


def guard(stream: TextIO) -> OutputGuard:
    """``stream`` guarded (once: a guard is not wrapped again)."""
    return stream if isinstance(stream, OutputGuard) else OutputGuard(stream)


def reopen_closed_standard_fds() -> None:
    """Open /dev/null on any of descriptors 0, 1, 2 that is closed (``bootsh <&- >&-``).

    Python leaves ``sys.stdin``/``sys.stdout`` None then, which no code expects; worse, the
    next file or socket bootsh opened would get the free number and ``print`` would write into
    it. A closed stdin reads as empty, a closed stdout or stderr discards (as ``>/dev/null``).
    """
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        opened = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
        if opened != fd:
            os.dup2(opened, fd)
            os.close(opened)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))  # noqa: SIM115


def build_parser() -> argparse.ArgumentParser:
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(
        prog="bootsh",
        description="An iPXE-compatible boot shell for Linux user space.",
        epilog="Without a script or -c, commands are read from standard input, or an"
        " interactive prompt is started when it is a terminal. `bootsh lab ...` runs the"
        " network lab (bootsh lab --help), `bootsh initramfs ...` builds an initramfs that"
        " boots into bootsh (bootsh initramfs --help); scripts of those names run as"
        " `bootsh ./lab`, `bootsh ./initramfs`.",
    )
    parser.add_argument("script", nargs="?", help="an iPXE script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    parser.add_argument(
        "-c",
        dest="commands",
        action="append",
        metavar="LINE",
        help="run LINE (repeatable; each is one script line)",
    )
    parser.add_argument(
        "--initrd",
        type=Path,
        metavar="FILE",
        help="register FILE as the image <INITRD> before anything runs, as iPXE does with the"
        " initrd it was booted with; without a script or -c, run it",
    )
    parser.add_argument(
        "--interactive",
        action="store_true",
        help="start the interactive shell even when standard input is no terminal",
    )
    parser.add_argument(
        "--shell-after",
        action="store_true",
        help="after the script or -c lines, start the interactive shell whatever their status"
        " (images and settings stay); what the initramfs's /init runs",
    )
    parser.add_argument(
        "-x",
        dest="trace",
        action="store_true",
        help="print each command after expansion on stderr, like sh -x",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="say why drivers found nothing, show each DHCP frame as scapy decodes it, and more",
    )
    parser.add_argument(
        "--sysfs-root",
        type=Path,
        metavar="DIR",
        help="read PCI and xen-bus devices under DIR (default /sys; env BOOTSH_SYSFS_ROOT)",
    )
    parser.add_argument(
        "--xen-domid",
        type=int,
        metavar="N",
        help="the guest's domain id when reading XenStore from dom0 or a dump"
        " (env BOOTSH_XEN_DOMID)",
    )
    parser.add_argument(
        "--xenstore-dump",
        type=Path,
        metavar="FILE",
        help="read XenStore from a `xenstore-ls -f` dump instead of xenstored",
    )
    parser.add_argument(
        "--xenstore-timeout",
        type=float,
        metavar="SECONDS",
        help="bound on each XenStore request (default 5)",
    )
    parser.add_argument(
        "--machine",
        type=Path,
        metavar="DIR",
        help="a machine directory: DIR/sysfs and DIR/xenstore.txt",
    )
    parser.add_argument(
        "--twins",
        metavar="POLICY",
        help="twin policy: hide-emulated (default), label, both, hide-netfront,"
        " unplug, or one a plugin adds (env BOOTSH_TWINS)",
    )
    parser.add_argument(
        "--allow-unplug",
        action="store_true",
        help="confirm that the unplug policy may unplug emulated NICs (irreversible)",
    )
    parser.add_argument(
        "--net",
        action="append",
        default=[],
        metavar="af_packet,if=IFACE[,key=value...]",
        help="use the kernel interface IFACE as a NIC (repeatable; iPXE's Linux-build syntax);"
        " with --net, bootsh uses exactly these NICs and discovers none",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="boot of a kernel prints the boot plan (kernel, initrds, command line)"
        " instead of loading it with kexec",
    )
    parser.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="FINGERPRINT|FILE.pem",
        help="trust the root certificate with this SHA-256 fingerprint (hex, aa:bb:...), or"
        " the certificates of a PEM file, for imgverify (repeatable, comma-separated; env"
        " BOOTSH_TRUST; read once at start-up, as iPXE reads its trust setting); by default no"
        " root is trusted",
    )
    parser.add_argument(
        "--disk",
        action="append",
        default=[],
        metavar="PATH",
        help="a local drive for sanboot (a block device or a disk/ISO image; repeatable, in"
        " drive order: the first is 0x80; env BOOTSH_DISKS); default: every disk in sysfs",
    )
    parser.add_argument(
        "--allow-local-from-network",
        action="store_true",
        help="let a script or DHCP filename that came from the network fetch file:// and"
        " other local-only URIs (refused by default: it could read this machine's files)",
    )
    parser.add_argument("--port-device", type=Path, metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML config file (default: $BOOTSH_CONFIG,"
        " ~/.config/bootsh/config.toml, /etc/bootsh/config.toml)",
    )
    parser.add_argument(
        "--no-plugin",
        action="append",
        default=[],
        metavar="NAME",
        help="do not load plugin NAME (repeatable; env BOOTSH_DISABLE_PLUGINS)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="check the scripts named after it for mistakes without running them"
        " (file:line: messages; exit status 1 when there is an error)",
    )
    parser.add_argument(
        "--plugins",
        action="store_true",
        help="list plugins, where they come from and their hooks, then exit",
    )
    parser.add_argument(
        "--completion",
        choices=COMPLETION_SHELLS,
        metavar="SHELL",
        help="print the completion script of bootsh's options for SHELL (bash, zsh or fish),"
        ' e.g. eval "$(bootsh --completion bash)"',
    )
    parser.add_argument("--version", action="version", version=f"bootsh {__version__}")
    return parser


#: The options the CLI parses itself, without argparse: importing and building argparse's
#: parser costs more than the rest of a ``bootsh -c`` start. ``parse_args`` takes the simple,
#: common command lines here (each option spelled out, its value in the next word or after
#: ``=``); anything else (an abbreviation, bundled short options, ``-cLINE``, ``--help``,
#: ``--version``, ``--``, a value starting with ``-``, an unknown option, a value that does not
#: convert) goes to argparse, which also prints the errors. Option -> (dest, kind); the kinds
#: are argparse's actions: ``true`` (store_true), ``append`` (default None), ``list`` (append
#: with ``default=[]``), a value with its ``type`` (``str``, ``int``, ``float``, ``path``),
#: or ``choice`` (one of ``FAST_CHOICES[dest]``). tests/host/test_cli_args.py checks the
#: table against ``build_parser()`` and both parsers against each other. An option added
#: to ``build_parser`` and not here still works (the fast result asks argparse for what it
#: lacks), but costs argparse's import.
FAST_OPTIONS: dict[str, tuple[str, str]] = {
    "-c": ("commands", "append"),
    "--initrd": ("initrd", "path"),
    "--interactive": ("interactive", "true"),
    "--shell-after": ("shell_after", "true"),
    "-x": ("trace", "true"),
    "-v": ("verbose", "true"),
    "--verbose": ("verbose", "true"),
    "--sysfs-root": ("sysfs_root", "path"),
    "--xen-domid": ("xen_domid", "int"),
    "--xenstore-dump": ("xenstore_dump", "path"),
    "--xenstore-timeout": ("xenstore_timeout", "float"),
    "--machine": ("machine", "path"),
    "--twins": ("twins", "str"),
    "--allow-unplug": ("allow_unplug", "true"),
    "--net": ("net", "list"),
    "--dry-run": ("dry_run", "true"),
    "--trust": ("trust", "list"),
    "--disk": ("disk", "list"),
    "--allow-local-from-network": ("allow_local_from_network", "true"),
    "--port-device": ("port_device", "path"),
    "--config": ("config", "path"),
    "--no-plugin": ("no_plugin", "list"),
    "--check": ("check", "true"),
    "--plugins": ("plugins", "true"),
    "--completion": ("completion", "choice"),
}
#: The values a ``choice`` option takes.
FAST_CHOICES: dict[str, tuple[str, ...]] = {"completion": COMPLETION_SHELLS}
if TYPE_CHECKING:
    from argparse import Namespace
else:

    class Namespace:
        """argparse's ``Namespace`` for the fast path: the values, and the command line for
        whatever the table does not know (an option added to ``build_parser`` only): asked
        for, it is argparse's answer."""

        def __init__(self, **values: object) -> None:
            self.__dict__.update(values)  # the command line itself as _argv

        def __getattr__(self, name: str) -> object:
            if name.startswith("_"):
                raise AttributeError(name)
            if not self.__dict__.get("_complete"):  # argparse once, whatever is asked next
                full = vars(build_parser().parse_args(self._argv))
                for key, value in full.items():
                    self.__dict__.setdefault(key, value)
                self._complete = True
            try:
                return self.__dict__[name]
            except KeyError:  # as argparse's: getattr(ns, name, default) and hasattr work
                raise AttributeError(name) from None

        def __repr__(self) -> str:
            values = sorted((k, v) for k, v in vars(self).items() if not k.startswith("_"))
            shown = ", ".join(f"{k}={v!r}" for k, v in values)
            return f"Namespace({shown})"


def fast_parse(argv: Sequence[str]) -> Namespace | None:
    """What ``build_parser().parse_args(argv)`` returns, for the simple command lines; None
    for any other (see ``FAST_OPTIONS``)."""
    if "--" in argv:
        return None  # argparse's own rules for it (it may drop it from the script's args)
    # argparse's defaults: False for flags, [] for the lists, None for the rest.
    values: dict[str, object] = {"script": None, "args": []}
    for dest, kind in FAST_OPTIONS.values():
        values[dest] = False if kind == "true" else [] if kind == "list" else None
    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if not word.startswith("-") or word == "-":
            values["script"] = word  # and everything after it is the script's
            values["args"] = list(argv[i:])
            break
        option, eq, inline = word.partition("=")
        known = FAST_OPTIONS.get(option if word.startswith("--") else word)
        if known is None:
            return None
        dest, kind = known
        if kind == "true":
            if eq:
                return None
            values[dest] = True
            continue
        if eq and word.startswith("--"):
            text = inline
        elif eq or i >= len(argv) or argv[i].startswith("-"):
            return None
        else:
            text = argv[i]
            i += 1
        if kind == "path" and not text:
            return None  # argparse makes it Path("."), which is not "not given"
        if kind in ("append", "list"):
            current = values[dest]
            values[dest] = [*current, text] if isinstance(current, list) else [text]
            continue
        if kind == "choice" and text not in FAST_CHOICES[dest]:
            return None  # argparse says what is wrong
        try:
            values[dest] = int(text) if kind == "int" else float(text) if kind == "float" else text
        except ValueError:
            return None  # argparse says what is wrong
    return Namespace(_argv=list(argv), **values)


def parse_args(argv: Sequence[str]) -> Namespace:
    return fast_parse(argv) or build_parser().parse_args(argv)


def _choices(ns: Namespace) -> Choices:
    return Choices(
        config_file=ns.config,
        sysfs_root=ns.sysfs_root,
        xen_domid=ns.xen_domid,
        xenstore_dump=ns.xenstore_dump,
        xenstore_timeout=ns.xenstore_timeout,
        twins=ns.twins,
        allow_unplug=ns.allow_unplug,
        port_device=ns.port_device,
        verbose=ns.verbose,
        machine=ns.machine,
        no_plugin=list(ns.no_plugin),
        nets=list(ns.net),
        dry_run=ns.dry_run,
        trust=list(ns.trust),
        disks=list(ns.disk),
        allow_local_from_network=ns.allow_local_from_network,
    )


def _warn_unknown_plugins(host: PluginHost, names: frozenset[str], err: TextIO) -> None:
    known = {plugin_key(n) for n in host.plugins}
    for name in sorted(names):
        if plugin_key(name) not in known:
            print(f"bootsh: no plugin named {name!r} to disable", file=err)


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    reopen_closed_standard_fds()
    _bytes_out(stdout or sys.stdout, stderr or sys.stderr)
    # A reader that goes away (``bootsh ... | head -1``) ends the run quietly with 141, as
    # SIGPIPE ends a Unix tool, after the shell's cleanup (OutputGuard below).
    out, err = guard(stdout or sys.stdout), guard(stderr or sys.stderr)
    try:
        try:
            return _main(argv, os.environ if env is None else env, stdin or sys.stdin, out, err)
        finally:
            # Inside the try: output still buffered when the reader left fails here, not
            # in the interpreter's last flush (which would print a traceback-like warning).
            out.flush()
            err.flush()
    except OutputClosed:
        return CLOSED_OUTPUT_STATUS


def _main(
    argv: Sequence[str] | None,
    env: Mapping[str, str],
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "_ARGCOMPLETE" in os.environ:
        _complete()  # exits when it is the shell asking
    if argv[:1] == [LAB_COMMAND]:
        return _lab(argv[1:], stdout, stderr)
    if argv[:1] == [INITRAMFS_COMMAND]:
        return _initramfs(argv[1:])
    ns = fast_parse(argv) or _parse(build_parser(), argv, stdout, stderr)
    if ns.completion:
        stdout.write(_completion_script(ns.completion))
        return 0
    try:
        config = merge(_choices(ns), env, warn=lambda line: print(f"bootsh: {line}", file=stderr))
    except KeyboardInterrupt:  # waiting for a FIFO named as the config file, say
        print("bootsh: interrupted", file=stderr)
        return 130
    except UsageError as exc:
        print(f"bootsh: {visible(str(exc))}", file=stderr)
        return USAGE_ERROR

    host = make_plugin_manager(
        disabled=config.disabled_plugins, report=lambda line: print(f"bootsh: {line}", file=stderr)
    )
    _warn_unknown_plugins(host, config.disabled_plugins, stderr)
    try:
        # Each --net now, before anything runs: a mistake is one line and status 2, not a
        # bare "failed" at the first network command (nothing to check without one).
        if config.nets:
            from bootsh.nics.netspec import check_net_specs

            check_net_specs(config.nets, host.net_drivers(), config)
    except UsageError as exc:
        print(f"bootsh: {exc}", file=stderr)
        return USAGE_ERROR
    if ns.plugins:
        for line in host.describe():
            print(line, file=stdout)
        agrees, verdict = pluggy_verdict(host)
        for line in verdict:
            print(line, file=stdout if agrees else stderr)
        return 0 if agrees else 1
    if ns.check:
        try:
            return _check(host, [ns.script, *ns.args] if ns.script else [], stdout, stderr)
        except KeyboardInterrupt:
            print("bootsh: interrupted", file=stderr)
            return 130

    context = Context(config, stderr=stderr)
    shell = Shell(host, context, out=stdout, err=stderr)
    shell.trace = ns.trace
    try:
        shell.check_policy(config.twins)
    except BootshError as exc:
        print(f"bootsh: {visible(str(exc))}", file=stderr)
        return USAGE_ERROR
    from bootsh.console.terminal import no_echoctl, terminal_fd

    # The termination handler stays installed around the shell's clean-up (a second SIGTERM
    # then is dropped instead of killing bootsh half-way, images left behind); the clean-up
    # itself defers every signal (Shell.__exit__). No "^C" echoed into a command's line on
    # a terminal, in a script as at the prompt.
    try:
        with _termination_ends_the_shell(), shell, no_echoctl(terminal_fd(stdin)):
            try:
                return _run(shell, ns, stdin)
            except UsageError as exc:
                print(f"bootsh: {visible(str(exc))}", file=stderr)
                return USAGE_ERROR
            except BootshError as exc:
                print(f"bootsh: {visible(str(exc))}", file=stderr)
                return 1
            except KeyboardInterrupt:
                shell.interrupted = True
                print("bootsh: interrupted", file=stderr)
                return 130
    except KeyboardInterrupt:
        # A second Ctrl-C while the first one was being handled (before the clean-up,
        # which finished anyway): the same outcome, without a traceback.
        return 130


def _bytes_out(*streams: TextIO) -> None:
    """Write undecodable input bytes out unchanged, whatever the locale.

    iPXE's strings are bytes: a script may ``echo Caf\xe9`` in Latin-1. bootsh decodes
    every input with ``surrogateescape`` (the byte becomes a lone surrogate), and a strict
    UTF-8 locale's stdout (``LC_ALL=en_US.UTF-8``; C.UTF-8 and C already escape) would
    refuse to encode it: ``UnicodeEncodeError`` in the middle of a script (stderr would
    show ``\udce9``). With ``surrogateescape`` on the way out the same byte is written
    back, as iPXE prints it.
    """
    for stream in streams:
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", None) != "surrogateescape":
            try:  # noqa: SIM105 - contextlib is not imported at start-up
                reconfigure(errors="surrogateescape")
            except (ValueError, OSError):  # closed or detached: nothing to do
                pass


def build_lab_parser() -> argparse.ArgumentParser:
    import argparse

    from bootsh import lab

    parser = argparse.ArgumentParser(
        prog=f"bootsh {LAB_COMMAND}",
        description="A throw-away network lab: DHCP, TFTP, DNS and HTTP from a server network"
        " namespace, a command (bootsh, say) in a client namespace joined to it by a veth pair;"
        " everything is removed when the command ends, on Ctrl-C, SIGTERM or SIGHUP.",
    )
    lab.add_arguments(parser)
    return parser


def _lab(argv: list[str], stdout: TextIO, stderr: TextIO) -> int:
    """``bootsh lab ...``: the network lab of ``bootsh.lab`` (loaded only here; it prints
    on the process's own stderr and hands the terminal to the command it runs)."""
    from bootsh import lab

    return lab.run(_parse(build_lab_parser(), argv, stdout, stderr))


def _complete() -> None:
    """Answer the shell's Tab (argcomplete's protocol: ``_ARGCOMPLETE`` and ``COMP_LINE`` in
    the environment, the candidates written to descriptor 8 or the file it names) and exit.
    argcomplete loads only here: an ordinary run never pays for it."""
    import argcomplete

    argcomplete.autocomplete(build_parser())


def _completion_script(shell: str) -> str:
    from argcomplete.shell_integration import shellcode

    return str(shellcode(["bootsh"], shell=shell))


def _parse(
    parser: argparse.ArgumentParser, argv: list[str], stdout: TextIO, stderr: TextIO
) -> argparse.Namespace:
    """``parser.parse_args`` writing its help, version and errors to the guarded streams:
    argparse swallows a write error itself, which would hide a reader that left."""
    import contextlib

    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        return parser.parse_args(argv)


def _initramfs(argv: list[str]) -> int:
    """``bootsh initramfs ...``: build an initramfs with bootsh as PID 1 (``bootsh.initramfs``,
    loaded only here)."""
    import argparse

    from bootsh.initramfs import builder

    parser = argparse.ArgumentParser(
        prog=f"bootsh {INITRAMFS_COMMAND}", description=builder.DESCRIPTION
    )
    builder.add_arguments(parser)
    return builder.run(parser.parse_args(argv))


def _check(host: PluginHost, paths: list[str], out: TextIO, err: TextIO) -> int:
    if not paths:
        print("bootsh: --check needs at least one script", file=err)
        return USAGE_ERROR
    table = host.commands()
    from bootsh.lang.lint import check_files, resolver, summary  # only for --check

    findings = check_files(paths, resolver(table))
    for finding in findings:
        print(finding, file=out)
    # Last, as mypy and ruff do: a clean run is visibly a run, not nothing at all.
    print(summary(len(paths), findings), file=out)
    return 1 if any(f.severity == "error" for f in findings) else 0


class _termination_ends_the_shell:
    """SIGTERM and SIGHUP end the shell by ``SystemExit(128 + signal)``.

    Their default action kills the process on the spot, leaving a download's temporary
    file and the image directory behind; unwinding runs the same clean-up as Ctrl-C. A
    signal the caller ignores (``nohup``) stays ignored. Only the first one ends the
    shell: a second (SIGTERM twice, SIGHUP then SIGTERM) raised again in the middle of the
    unwinding and cut the clean-up short; it asks for what is already happening. Only the
    main thread can install handlers; elsewhere (a shell run from a test's thread) nothing
    changes. ``_signal`` is the C module the interpreter has loaded already (``signal``
    would import ``enum``, and ``threading`` ``collections``).
    """

    def __enter__(self) -> None:
        import _signal

        self.ending = False

        def handler(signum: int, frame: object) -> None:
            if self.ending:
                return
            self.ending = True
            raise SystemExit(128 + signum)

        self.saved: dict[int, object] = {}
        try:
            for signum in (_signal.SIGTERM, _signal.SIGHUP):
                if _signal.getsignal(signum) == _signal.SIG_DFL:
                    self.saved[signum] = _signal.signal(signum, handler)
        except ValueError:  # not the main thread: signals stay as they are
            pass

    def __exit__(self, *exc: object) -> None:
        import _signal

        # Once ending, the handler stays: a second signal between here and the process's
        # end would otherwise meet the default action (status -15 instead of 143).
        if not self.ending:
            for signum, previous in self.saved.items():
                _signal.signal(signum, previous)  # type: ignore[arg-type]


def _run(shell: Shell, ns: argparse.Namespace, stdin: TextIO) -> int:
    if ns.interactive and (ns.commands or ns.script is not None):
        raise UsageError("--interactive runs no script and no -c")
    # What start-up built (modules, classes, records, the plugins) lives as long as the
    # process: out of the cycle collector's way, so that its full collections during a long
    # script scan what the script makes, not all of that again (a quarter of a 100 000-line
    # script's time). Reference counting still frees all of it as before.
    gc.freeze()
    if ns.initrd is not None:
        initrd = _register_initrd(shell, ns.initrd)
        if not ns.commands and ns.script is None and not ns.interactive:
            # iPXE runs its first image: the initrd when there is no command line. Its
            # ``exit N`` is the image's status N (iPXE's own error numbers are far above 255).
            from bootsh.boot.images import store_of

            status = store_of(shell).execute(shell, initrd)
            return status if 0 <= status <= 0xFF else 1
    if ns.shell_after and not (ns.commands or ns.script is not None):
        raise UsageError("--shell-after needs a script or -c")
    if ns.commands:
        if ns.script is not None:
            raise UsageError("give either a script or -c, not both")
        script = parse_script("\n".join(ns.commands), "-c")
        return _then_shell(shell, ns, stdin, "-c", shell.run_script(script))
    if ns.script is not None:
        from pathlib import Path

        path = Path(ns.script)
        try:
            # Bounded: /dev/zero or a 100 MB file is no script (and read whole, it costs
            # gigabytes, deaf to Ctrl-C). A pipe (bootsh <(cmd)) is read like any file.
            data = read_bounded(path, MAX_SCRIPT_SIZE)
        except OSError as exc:
            shell.diagnose(f"cannot read {path}: {exc.strerror}")
            return USAGE_ERROR
        # iPXE's scripts are bytes: undecodable ones are kept (surrogateescape) and go out
        # again as the same bytes (see _bytes_out).
        text = data.decode("utf-8", errors="surrogateescape")
        if not has_magic(text):
            # A user's own file may lack it; a fetched image without it is no script.
            shell.diagnose(f"{path}: no #!ipxe line; running it as a script anyway")
        # Relative URIs in the script (``kernel vmlinuz``) resolve next to it, as they
        # would against the URI iPXE fetched a script from.
        from bootsh.boot.images import set_cwuri

        set_cwuri(shell, path.resolve().as_uri())
        status = shell.run_script(parse_script(text, str(path)), list(ns.args))
        return _then_shell(shell, ns, stdin, str(path), status)
    if ns.interactive or stdin.isatty():
        return _interactive(shell, stdin)
    try:
        # The bytes, not the text: a strict UTF-8 locale's decoder refuses a byte like \xff.
        data = read_stream(getattr(stdin, "buffer", stdin), MAX_SCRIPT_SIZE, "<stdin>")
    except OSError as exc:
        shell.diagnose(f"cannot read standard input: {exc.strerror}")
        return USAGE_ERROR
    text = data.decode("utf-8", errors="surrogateescape")
    return _status(shell, shell.run_script(parse_script(text, "<stdin>")))


def _register_initrd(shell: Shell, path: Path) -> Image:
    """iPXE's ``initrd_init``: the initrd becomes the image ``<INITRD>``, with no URI (so
    running it leaves ``${cwuri}`` alone) and its type probed like any image's."""
    import shutil

    from bootsh.boot.images import Image, store_of

    store = store_of(shell)
    target = store.directory / store.new_file()
    try:
        shutil.copyfile(path, target)
    except OSError as exc:
        raise UsageError(f"cannot read the initrd {path}: {exc.strerror or exc}") from None
    image = Image(INITRD_NAME, None, target, target.stat().st_size)
    store.register(image)
    return image


def _then_shell(shell: Shell, ns: argparse.Namespace, stdin: TextIO, what: str, status: int) -> int:
    """With ``--shell-after``, the interactive shell follows the script (a line says why when
    the script failed); the script's ``exit`` ended the script, not the session."""
    if not ns.shell_after:
        return _status(shell, status)
    if shell.exit_requested is None and status != 0:
        shell.diagnose(f"{what} failed: the interactive shell follows")
    shell.exit_requested = None
    return _interactive(shell, stdin)


def _status(shell: Shell, status: int) -> int:
    if shell.exit_requested is not None:
        return shell.exit_requested & 0xFF
    return 0 if status == 0 else 1


def _interactive(shell: Shell, stdin: TextIO) -> int:
    # prompt_toolkit loads only here (bootsh.console.repl): a batch run never pays for it. A failing
    # command does not end the session; Ctrl-D leaves with 0, ``exit N`` with N.
    from bootsh.console.repl import interact

    interact(shell, stdin)
    return _status(shell, 0)
