"""bootsh's ``/init``: PID 1 of the initramfs ``bootsh initramfs`` builds.

The builder installs this file itself as ``/init`` (with a ``#!/usr/bin/python3 -I`` line), so
it imports nothing but the standard library: PID 1 must survive whatever happens to bootsh. It

1. mounts ``/proc``, ``/sys``, ``/dev`` (devtmpfs), ``/dev/pts``, and tmpfs on ``/tmp`` (where
   bootsh keeps downloaded images) and ``/run``;
2. loads the kernel modules the machine's devices ask for: every ``modalias`` under
   ``/sys/bus/*/devices`` is matched against the ``alias=`` patterns of the modules in the
   image (their index, ``lib/modules/VERSION/bootsh-modules.json``), as udev does, each module
   after its dependencies, again until a round loads nothing new (a virtio-pci driver makes the
   virtio devices whose driver is the next round's); ``bootsh.modules=all`` loads every module
   in the image, ``bootsh.modules=none`` none;
3. starts bootsh (``python3 -I -m bootsh``) as its child, in a session of its own whose
   controlling terminal is the console (so Ctrl-C reaches bootsh, never PID 1): the embedded
   script, else ``bootsh.script=URI`` (``dhcp``, then ``chain URI``), else ``autoboot``; with
   ``--shell-after``, so a failed boot (or a script that ends) leaves bootsh at its prompt on
   the console with its images and settings; ``bootsh.shell`` skips straight to the prompt;
4. reaps every child (orphans are re-parented to PID 1) and, when bootsh ends (``exit``, a
   crash), starts the interactive shell again: PID 1 never exits, since the kernel panics when
   it does and the machine is lost.

Kernel command-line options: ``bootsh.script=URI``, ``bootsh.twins=POLICY`` (bootsh's
``--twins``), ``bootsh.shell``, ``bootsh.modules=auto|all|none`` and ``bootsh.console=TTY``.
The build's choices (embedded script, console) are in ``/etc/bootsh/init.json``. A successful
``boot`` never comes back: ``reboot(LINUX_REBOOT_CMD_KEXEC)`` replaces the kernel.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import fnmatch
import json
import os
import platform
import struct
import sys
import termios
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: The build's configuration, written by ``bootsh initramfs``.
CONFIG_PATH = Path("/etc/bootsh/init.json")
PYTHON = "/usr/bin/python3"
MODULE_INDEX = "bootsh-modules.json"
_FINIT_MODULE = {"x86_64": 313, "aarch64": 273}
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 0x2, 0x4, 0x8
_TIOCSWINSZ = 0x5414
_TIOCGWINSZ = 0x5413


def say(text: str) -> None:
    """One line on the console, flushed (PID 1's stderr is /dev/console)."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"bootsh init: {text}\n")
        sys.stderr.flush()


# -- the kernel command line -------------------------------------------------------------------


@dataclass
class Options:
    """What the kernel command line and the build's ``init.json`` ask for."""

    script: str | None = None  # the embedded script's path in the image
    script_uri: str | None = None  # bootsh.script=
    twins: str | None = None  # bootsh.twins=
    shell: bool = False  # bootsh.shell
    modules: str = "auto"  # bootsh.modules=
    console: str = "auto"  # bootsh.console=, else the build's --console
    unknown: list[str] = field(default_factory=list)


def parse_options(cmdline: str, config: Mapping[str, object]) -> Options:
    """The options for this boot: ``bootsh.*`` words of ``cmdline`` override the build's
    ``config``. Unknown ``bootsh.`` words are collected (reported, never fatal)."""
    options = Options()
    script = config.get("script")
    options.script = script if isinstance(script, str) else None
    console = config.get("console")
    options.console = console if isinstance(console, str) and console else "auto"
    for word in cmdline.split():
        if not word.startswith("bootsh."):
            continue
        key, _, value = word[len("bootsh.") :].partition("=")
        if key == "script" and value:
            options.script_uri = value
        elif key == "twins" and value:
            options.twins = value
        elif key == "shell" and value in ("", "1", "yes", "on"):
            options.shell = True
        elif key == "modules" and value in ("auto", "all", "none"):
            options.modules = value
        elif key == "console" and value:
            options.console = value.removeprefix("/dev/")
        else:
            options.unknown.append(word)
    return options


def bootsh_argv(options: Options, phase: str) -> list[str]:
    """The bootsh command for ``phase``: ``"boot"`` (script or autoboot, then the prompt) or
    ``"shell"`` (the prompt only)."""
    argv = [PYTHON, "-I", "-m", "bootsh"]
    if options.twins:
        argv += ["--twins", options.twins]
    if phase == "shell" or options.shell:
        return [*argv, "--interactive"]
    argv.append("--shell-after")
    if options.script_uri:
        if options.script_uri.startswith("file:"):
            return [*argv, "-c", f"chain {options.script_uri}"]
        return [*argv, "-c", "dhcp", "-c", f"chain {options.script_uri}"]
    if options.script:
        return [*argv, options.script]
    return [*argv, "-c", "autoboot"]


# -- mounts ------------------------------------------------------------------------------------


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL("libc.so.6", use_errno=True)


def mount_all(libc: ctypes.CDLL) -> None:
    for source, target, fstype, flags, data in (
        ("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, ""),
        ("sysfs", "/sys", "sysfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, ""),
        ("devtmpfs", "/dev", "devtmpfs", _MS_NOSUID, "mode=0755"),
        ("devpts", "/dev/pts", "devpts", _MS_NOSUID | _MS_NOEXEC, "gid=5,mode=620,ptmxmode=666"),
        ("tmpfs", "/tmp", "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=1777"),
        ("tmpfs", "/run", "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755"),
    ):
        with contextlib.suppress(FileExistsError):
            os.makedirs(target, exist_ok=True)
        result = libc.mount(
            source.encode(), target.encode(), fstype.encode(), ctypes.c_ulong(flags), data.encode()
        )
        if result != 0:
            err = ctypes.get_errno()
            if err != errno.EBUSY:  # already mounted (a second run of /init, a test)
                say(f"cannot mount {fstype} on {target}: {os.strerror(err)}")


# -- kernel modules ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleEntry:
    name: str
    path: str
    depends: tuple[str, ...]
    aliases: tuple[str, ...]


def read_index(path: Path) -> list[ModuleEntry]:
    data = json.loads(path.read_text())
    return [
        ModuleEntry(m["name"], m["path"], tuple(m["depends"]), tuple(m["aliases"]))
        for m in data["modules"]
    ]


def modaliases(sys_root: Path = Path("/sys")) -> set[str]:
    """Every device's ``modalias`` (PCI, virtio, xen, ...), as udev sees them."""
    found = set()
    for path in sys_root.glob("bus/*/devices/*/modalias"):
        with contextlib.suppress(OSError):
            text = path.read_text().strip()
            if text:
                found.add(text)
    return found


def wanted_modules(modules: Sequence[ModuleEntry], aliases: Iterable[str]) -> list[str]:
    """Names of the modules one of whose alias patterns matches a device's modalias."""
    devices = sorted(aliases)
    return [
        m.name
        for m in modules
        if any(fnmatch.fnmatchcase(d, pattern) for pattern in m.aliases for d in devices)
    ]


def load_order(modules: Sequence[ModuleEntry], names: Iterable[str]) -> list[ModuleEntry]:
    """``names`` and their dependencies, in the index's order (which puts dependencies first)."""
    by_name = {m.name: m for m in modules}
    needed: set[str] = set()

    def add(name: str) -> None:
        if name in needed or name not in by_name:
            return  # a dependency built into the kernel is not in the index
        needed.add(name)
        for dep in by_name[name].depends:
            add(dep.replace("-", "_"))

    for name in names:
        add(name)
    return [m for m in modules if m.name in needed]


def finit_module(libc: ctypes.CDLL, path: Path) -> int:
    """Load one module file; 0 or the kernel's errno (EEXIST: loaded already)."""
    number = _FINIT_MODULE.get(platform.machine())
    if number is None:
        return errno.ENOSYS
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        result = libc.syscall(ctypes.c_long(number), ctypes.c_long(fd), b"", ctypes.c_long(0))
        return 0 if result == 0 else ctypes.get_errno()
    finally:
        os.close(fd)


def load_modules(
    libc: ctypes.CDLL,
    mode: str,
    root: Path = Path("/lib/modules"),
    sys_root: Path = Path("/sys"),
    load: Callable[[ctypes.CDLL, Path], int] = finit_module,
) -> list[str]:
    """Load the modules the devices need (``auto``) or all (``all``); returns their names."""
    if mode == "none":
        return []
    release = platform.release()
    index_path = root / release / MODULE_INDEX
    if not index_path.exists():
        others = sorted(p.parent.name for p in root.glob(f"*/{MODULE_INDEX}"))
        if others:
            say(
                f"the image has modules for kernel {', '.join(others)}, this is {release}:"
                " none loaded (rebuild with this kernel's modules)"
            )
        return []
    try:
        modules = read_index(index_path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        say(f"cannot read {index_path}: {exc}")
        return []
    loaded: list[str] = []
    failed: set[str] = set()
    while True:
        if mode == "all":
            names = [m.name for m in modules]
        else:
            names = wanted_modules(modules, modaliases(sys_root))
        todo = [
            m
            for m in load_order(modules, names)
            if m.name not in loaded and m.name not in failed
            and not (sys_root / "module" / m.name).exists()
        ]  # fmt: skip
        if not todo:
            return loaded
        for module in todo:
            err = load(libc, root / release / module.path)
            if err in (0, errno.EEXIST):
                loaded.append(module.name)
            else:
                failed.add(module.name)
                say(f"cannot load module {module.name}: {os.strerror(err)}")


# -- the console -------------------------------------------------------------------------------


def console_device(choice: str, sys_root: Path = Path("/sys")) -> str:
    """The tty bootsh runs on: ``choice``, or (``auto``) the kernel's primary console (the last
    of ``/sys/class/tty/console/active``; the VGA console ``tty0`` means the first VT)."""
    if choice != "auto":
        return f"/dev/{choice}"
    try:
        active = (sys_root / "class/tty/console/active").read_text().split()
    except OSError:
        active = []
    if not active:
        return "/dev/console"
    name = active[-1]
    return "/dev/tty1" if name == "tty0" else f"/dev/{name}"


def take_terminal(device: str) -> None:
    """In a new child: a session of its own with ``device`` as its controlling terminal on
    stdin, stdout and stderr (so that Ctrl-C there reaches bootsh's process group). A serial
    line reports no size: 80x24 is set, so full-screen menus draw."""
    os.setsid()
    try:
        fd = os.open(device, os.O_RDWR)
    except OSError as exc:
        say(f"cannot open {device} ({exc.strerror}): bootsh runs on /dev/console, no Ctrl-C")
        fd = os.open("/dev/console", os.O_RDWR | os.O_NOCTTY)
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(fd, target)
    if fd > 2:
        os.close(fd)
    with contextlib.suppress(OSError):
        rows, cols = struct.unpack("HHHH", fcntl.ioctl(0, _TIOCGWINSZ, b"\0" * 8))[:2]
        if not rows or not cols:
            fcntl.ioctl(0, _TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))


# -- supervising bootsh ------------------------------------------------------------------------


#: Consoles at the end of a line whose other end may be anything (QEMU's -nographic, a log
#: collector, a serial server): bootsh's prompt must not wait for terminal answers there.
SERIAL_CONSOLES = ("/dev/ttyS", "/dev/ttyAMA", "/dev/hvc", "/dev/ttyUSB", "/dev/console")


def environment(base: Mapping[str, str], device: str) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/usr/sbin:/bin:/sbin",
        "HOME": "/root",
        "TERM": base.get("TERM", "linux"),
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
    }
    if device.startswith(SERIAL_CONSOLES):
        # prompt_toolkit asks the terminal where the cursor is (CPR) and waits for the
        # answer; over a serial line nothing may answer, and keys typed meanwhile are lost.
        env["PROMPT_TOOLKIT_NO_CPR"] = "1"
    # Variables the kernel passed (unknown key=value words of its command line) stay.
    return {**{k: v for k, v in base.items() if k not in env}, **env}


def spawn(argv: Sequence[str], device: str, env: Mapping[str, str]) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            take_terminal(device)
            os.execve(argv[0], list(argv), dict(env))
        except BaseException as exc:  # nothing may return into PID 1's loop in the child
            say(f"cannot start bootsh: {exc}")
        finally:
            os._exit(127)
    return pid


def describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"status {os.waitstatus_to_exitcode(status)}"


def supervise(options: Options, device: str, env: Mapping[str, str]) -> None:
    """Run bootsh, and the shell again whenever it ends; reap every child. Never returns."""
    phase = "boot"
    failures = 0
    while True:
        started = time.monotonic()
        pid = spawn(bootsh_argv(options, phase), device, env)
        while True:
            try:
                done, status = os.wait()
            except ChildProcessError:
                done, status = pid, 0
            except InterruptedError:
                continue
            if done == pid:
                break
            # an orphan re-parented to PID 1: reaped, nothing else to do
        quick = time.monotonic() - started < 2
        failures = failures + 1 if quick else 0
        say(f"bootsh ended ({describe(status)}): starting the shell again")
        phase = "shell"
        if failures == 2 and options.twins:
            # A bad bootsh.twins= makes every start fail at once: drop it, keep a shell.
            say(f"dropping bootsh.twins={options.twins}: bootsh does not start with it")
            options = Options(console=options.console)
        if failures:
            # A shell that cannot start would fill the console: back off, 1 s up to 30 s.
            time.sleep(min(30, 2 ** (failures - 1)))


def main() -> None:
    """PID 1's whole life. Every failure is one line on the console; nothing ends it."""
    try:
        os.umask(0o022)
        libc = _libc()
        mount_all(libc)
        try:
            cmdline = Path("/proc/cmdline").read_text()
        except OSError:
            cmdline = ""
        try:
            config = json.loads(CONFIG_PATH.read_text())
        except (OSError, ValueError):
            config = {}
        options = parse_options(cmdline, config if isinstance(config, dict) else {})
        for word in options.unknown:
            say(f"unknown kernel option {word!r} ignored")
        loaded = load_modules(libc, options.modules)
        if loaded:
            say(f"loaded modules: {' '.join(loaded)}")
        device = console_device(options.console)
        supervise(options, device, environment(os.environ, device))
    except BaseException as exc:
        say(f"internal error: {exc!r}; reaping children forever")
        while True:
            try:
                os.wait()
            except ChildProcessError:
                time.sleep(3600)
            except BaseException:
                time.sleep(1)


if __name__ == "__main__":
    if os.getpid() != 1:
        say("this is the initramfs's PID 1 program; it does nothing as any other process")
        sys.exit(2)
    main()
