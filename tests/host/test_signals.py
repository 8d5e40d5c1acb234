"""Two signals in a row (issue 14, item 10).

bootsh fetches 300 images (15 MB in its image directory), then starts a download that never
ends (a loopback server that accepts and says nothing). Once that download's line is out,
the test sends two signals 1 to 5 ms apart: SIGINT twice, SIGTERM twice, SIGHUP then
SIGTERM. The second one used to land in the clean-up (``shutil.rmtree``): a KeyboardInterrupt
traceback, or, for SIGTERM, the default action killing bootsh half-way; either way the
``bootsh-images-*`` directory stayed. Now: one line at most (the failed line for Ctrl-C,
which cancels the download as in iPXE), the first signal's status, nothing left in
``$TMPDIR``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, readline
from tests.hostile import http_raw

IMAGES = 300
SIZE = 50_000

PAIRS = {
    # Ctrl-C cancels the download ("Operation canceled"): the script fails on that line.
    "INT-INT": (signal.SIGINT, signal.SIGINT, 1),
    "TERM-TERM": (signal.SIGTERM, signal.SIGTERM, 128 + signal.SIGTERM),
    "HUP-TERM": (signal.SIGHUP, signal.SIGTERM, 128 + signal.SIGHUP),
}


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("signals") / "image.bin"
    path.write_bytes(os.urandom(SIZE))
    return path


@pytest.mark.parametrize("gap_ms", [1, 3, 5])
@pytest.mark.parametrize("pair", PAIRS)
def test_a_second_signal_does_not_stop_the_clean_up(
    tmp_path: Path, image: Path, pair: str, gap_ms: int
) -> None:
    first, second, status = PAIRS[pair]
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    script = tmp_path / "many.ipxe"
    with http_raw([60.0], connections=1) as base:  # accepts, reads the request, then nothing
        hang = f"{base}/never"
        script.write_text(
            "#!ipxe\n" + f"imgfetch {image.as_uri()}\n" * IMAGES + f"imgfetch {hang}\n"
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "bootsh", str(script)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, "TMPDIR": str(tmpdir), "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            for _ in range(IMAGES):
                assert readline(proc.stdout, 60).endswith("... ok\n")
            # The hanging download's line is flushed before it waits: the event to act on.
            assert proc.stdout.read(len(hang) + 3) == f"{hang}..."
            proc.send_signal(first)
            time.sleep(gap_ms / 1000)  # the attack: a second signal right after the first
            proc.send_signal(second)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert "Traceback" not in err, err
    assert proc.returncode == status, (proc.returncode, err)
    assert len(err.splitlines()) <= 1, err
    assert list(tmpdir.iterdir()) == [], "images left behind"
