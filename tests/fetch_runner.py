"""Run one ``bootsh.boot.fetch.fetch`` in this process and report it: for tests and bench/fetch.py.

``python3 -m tests.fetch_runner URI DIR [--timeout S] [--set NAME=VALUE]... [--quiet]`` prints
iPXE's line on stdout (as a shell would) and, on stderr, one JSON line: the outcome (``ok``,
``error`` with the iPXE number, ``interrupted``), the file, its size and sha256, the final
URI and the process's peak RSS. Exit status 0 on success, 1 on a failed download, 130 after
Ctrl-C. Run inside the lab's client namespace with ``ip netns exec``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from bootsh.boot.fetch import FetchError, fetch
from bootsh.config import Choices, merge
from bootsh.context import Context
from bootsh.plugins import make_plugin_manager
from bootsh.shell import Shell


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fetch_runner")
    parser.add_argument("uri")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--timeout", type=float, default=None)
    parser.add_argument("--name", default=None)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--no-hash", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    ns = parser.parse_args(argv)
    config = merge(Choices(verbose=ns.verbose), {})
    err = io.StringIO()
    shell = Shell(make_plugin_manager(report=print), Context(config, stderr=err), err=err)
    for pair in ns.set:
        name, _, value = pair.partition("=")
        shell.settings.set(name, value)
    report: dict[str, Any] = {}
    status = 0
    started = time.perf_counter()
    try:
        got = fetch(shell, ns.uri, ns.directory, name=ns.name, timeout=ns.timeout, quiet=ns.quiet)
        report.update(outcome="ok", path=str(got.path), size=got.size, uri=got.uri)
        if not ns.no_hash:
            report["sha256"] = sha256(got.path)
    except FetchError as exc:
        report.update(outcome="error", errno=exc.errno, reason=exc.reason, detail=exc.detail)
        status = 1
    except KeyboardInterrupt:
        report.update(outcome="interrupted")
        status = 130
    report["fetch_s"] = round(time.perf_counter() - started, 4)
    sys.stdout.flush()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report["maxrss_kib"] = usage.ru_maxrss
    report["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 3)
    report["diagnostics"] = err.getvalue()
    print(json.dumps(report), file=sys.stderr, flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
