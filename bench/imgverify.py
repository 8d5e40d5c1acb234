"""``imgverify`` of Debian's kernel against ``openssl cms -verify`` of the same signature.

A test PKI (tests/trust/pki.py: root CA, code-signing certificate, ``openssl cms -sign -binary
-noattr -certfile``) signs the bzImage (.ci/install-kernel.sh). Paired runs, ``--runs`` times:

- bootsh: ``bootsh --trust ROOT -c 'imgfetch -q file://vmlinuz' -c 'imgverify vmlinuz
  file://vmlinuz.sig'`` as a process (what a user waits for), and the same with only the
  ``imgfetch`` (so the difference is the verification: parsing, the chain, the path verifier,
  the kernel's digest);
- openssl: ``openssl cms -verify -binary -inform DER -content vmlinuz -CAfile ca.crt -purpose
  any -out /dev/null`` (the same checks, in C, without iPXE's rules);
- in this process: the one-time import of cryptography and asn1crypto, and the median of
  ``bootsh.trust.verify.verify`` alone (what an ``imgverify`` costs in a running shell).

Medians of each and the ratio are printed. No network: the files are local (fetching is
bench/fetch.py's subject).

    python3 bench/imgverify.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.trust.pki import Pki  # noqa: E402 (the test PKI, made with the openssl CLI)

KERNEL = Path("/opt/bootsh-kernel/vmlinuz")
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
        cwd=ROOT, timeout=300,
    )  # fmt: skip
    return time.perf_counter() - start


def in_process(kernel: Path, signature: Path, trust: str, runs: int) -> tuple[float, float]:
    """The libraries' import time and the median verification time, in milliseconds."""
    start = time.perf_counter()
    import asn1crypto.cms  # noqa: F401 (timed)
    import cryptography.x509.verification  # noqa: F401 (timed)

    imports = time.perf_counter() - start
    from datetime import UTC, datetime

    from bootsh.trust.anchors import Anchors, parse_spec
    from bootsh.trust.certs import CertStore
    from bootsh.trust.verify import verify

    anchors = Anchors(parse_spec(trust, "bench"), "bench")
    data = signature.read_bytes()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        verdict = verify(
            kernel, data, name=None, now=datetime.now(UTC), store=CertStore(), anchors=anchors
        )
        times.append(time.perf_counter() - start)
        assert verdict.errno == 0, verdict.why
    return imports * 1000, statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    ns = parser.parse_args()
    if not KERNEL.is_file():
        sys.exit(f"{KERNEL} missing: run .ci/install-kernel.sh")
    work = Path(tempfile.mkdtemp(prefix="bootsh-bench-imgverify-"))
    try:
        pki = Pki(work / "pki")
        root = pki.root("bench-root")
        signer = pki.issue("bench-signer", root)
        kernel = work / "vmlinuz"
        shutil.copyfile(KERNEL, kernel)
        sig = pki.sign(kernel, signer, chain=(root,))
        bootsh = [sys.executable, "-m", "bootsh", "--trust", root.fingerprint]
        fetch = ["-c", f"imgfetch -q {kernel.as_uri()}"]
        verify = [*fetch, "-c", f"imgverify vmlinuz {sig.as_uri()}"]
        openssl = [
            "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(sig),
            "-content", str(kernel), "-CAfile", str(root.cert), "-purpose", "any",
            "-out", "/dev/null",
        ]  # fmt: skip
        timed([*bootsh, *verify])  # warm the byte-code and page caches
        with_verify, fetch_only, reference = [], [], []
        for _ in range(ns.runs):
            with_verify.append(timed([*bootsh, *verify]))
            fetch_only.append(timed([*bootsh, *fetch]))
            reference.append(timed(openssl))
        a, b, c = (statistics.median(x) * 1000 for x in (with_verify, fetch_only, reference))
        imports, alone = in_process(kernel, sig, root.fingerprint, ns.runs)
        size = kernel.stat().st_size / (1 << 20)
        print(f"kernel: {size:.1f} MiB, {ns.runs} paired runs, medians")
        print(f"bootsh imgfetch + imgverify: {a:.1f} ms")
        print(f"bootsh imgfetch only:        {b:.1f} ms  (imgverify itself: {a - b:.1f} ms)")
        print(f"openssl cms -verify:         {c:.1f} ms")
        print(f"ratio imgverify / openssl:   {(a - b) / c:.2f} (whole bootsh run: {a / c:.2f})")
        print(f"in a running shell: verify {alone:.1f} ms (one-time import: {imports:.0f} ms)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
