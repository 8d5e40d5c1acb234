"""A test PKI made with the openssl command line, the way boot-menu projects make theirs.

Roots with ``openssl req -x509`` (openssl's own CA defaults: basicConstraints CA:TRUE, subject
and authority key identifiers); everything else issued with ``openssl ca`` from a minimal CA
directory, as ipxe.org's code-signing instructions do (which also lets a test choose a
certificate's dates: an expired one); signatures with ``openssl cms -sign -binary -noattr
-outform DER``, carrying the chain with ``-certfile``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Extension sections of the CA config, by name (ipxe.org's ``codesigning`` first).
EXTENSIONS = """
[root]
basicConstraints = critical,CA:true
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[codesigning]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer

[codesigning_bare]
keyUsage = digitalSignature
extendedKeyUsage = codeSigning

[no_eku]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer

[server_eku]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer

[no_key_usage]
basicConstraints = critical,CA:false
extendedKeyUsage = critical,codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer

[intermediate]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer

[not_ca]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyCertSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
"""


def openssl(*args: str | Path, cwd: Path) -> None:
    """Run openssl; a failure shows its stderr."""
    done = subprocess.run(
        ["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"openssl {' '.join(map(str, args))}: {done.stderr}"


@dataclass(frozen=True)
class Identity:
    """A certificate and its key."""

    name: str
    cert: Path
    key: Path

    @property
    def der(self) -> bytes:
        return pem_to_der(self.cert.read_text())

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the DER, as iPXE's ``hex`` type prints it (what ``--trust`` takes)."""
        return ":".join(f"{b:02x}" for b in hashlib.sha256(self.der).digest())


def pem_to_der(text: str) -> bytes:
    import base64

    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


class Pki:
    def __init__(self, root: Path) -> None:
        if shutil.which("openssl") is None:
            pytest.skip("openssl is not installed (.ci/install-net.sh installs it)")
        self.dir = root
        self.dir.mkdir(parents=True, exist_ok=True)
        self.serial = 0x1000

    def _slug(self, name: str) -> str:
        return "".join(c if c.isalnum() else "-" for c in name).strip("-").lower()

    def root(
        self, name: str, *, key: str = "rsa:2048", start: str | None = None, end: str | None = None
    ) -> Identity:
        """A self-signed root: ``openssl req -x509`` (valid from now), or ``openssl ca
        -selfsign`` when ``start`` and ``end`` are given."""
        slug = self._slug(name)
        cert, keyfile = self.dir / f"{slug}.crt", self.dir / f"{slug}.key"
        if start is None or end is None:
            openssl(
                "req", "-x509", "-newkey", key, "-nodes", "-keyout", keyfile, "-out", cert,
                "-days", "3650", "-subj", f"/CN={name}", cwd=self.dir,
            )  # fmt: skip
            return Identity(name, cert, keyfile)
        config, csr = self._request(slug, name, key, keyfile, "sha256")
        openssl(
            "ca", "-batch", "-notext", "-selfsign", "-config", config, "-keyfile", keyfile,
            "-in", csr, "-out", cert, "-extensions", "root", "-startdate", start,
            "-enddate", end, cwd=self.dir,
        )  # fmt: skip
        return Identity(name, cert, keyfile)

    def _request(self, slug: str, name: str, key: str, keyfile: Path, md: str) -> tuple[Path, Path]:
        """A CA directory of its own for one ``openssl ca`` run, and a request for ``name``."""
        cadir = self.dir / f"ca-{slug}"
        cadir.mkdir()
        (cadir / "index.txt").write_text("")
        self.serial += 1
        (cadir / "serial").write_text(f"{self.serial:04X}\n")
        config = cadir / "ca.cnf"
        config.write_text(
            "[ca]\ndefault_ca = ca_default\n[ca_default]\n"
            f"dir = {cadir}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir\n"
            f"serial = $dir/serial\ndefault_md = {md}\npolicy = policy_any\n"
            "unique_subject = no\ncopy_extensions = none\n"
            "[policy_any]\ncommonName = supplied\n" + EXTENSIONS
        )
        csr = cadir / "req.csr"
        openssl(
            "req", "-new", "-newkey", key, "-nodes", "-keyout", keyfile, "-out", csr,
            "-subj", f"/CN={name}", cwd=self.dir,
        )  # fmt: skip
        return config, csr

    def issue(
        self,
        name: str,
        issuer: Identity,
        *,
        extensions: str = "codesigning",
        start: str | None = None,
        end: str | None = None,
        key: str = "rsa:2048",
        md: str = "sha256",
        pss: bool = False,
    ) -> Identity:
        """A certificate for ``name`` signed by ``issuer`` with ``openssl ca``; ``start`` and
        ``end`` as openssl takes them (``20200101000000Z``), else 365 days from now; ``pss``:
        the issuer signs with RSA-PSS."""
        slug = self._slug(name)
        keyfile, cert = self.dir / f"{slug}.key", self.dir / f"{slug}.crt"
        config, csr = self._request(slug, name, key, keyfile, md)
        dates = ["-startdate", start, "-enddate", end] if start and end else ["-days", "365"]
        if pss:
            dates += ["-sigopt", "rsa_padding_mode:pss"]
        openssl(
            "ca", "-batch", "-notext", "-config", config, "-cert", issuer.cert,
            "-keyfile", issuer.key, "-in", csr, "-out", cert, "-extensions", extensions,
            *dates, cwd=self.dir,
        )  # fmt: skip
        return Identity(name, cert, keyfile)

    def sign(
        self,
        data: Path,
        signer: Identity,
        *,
        chain: tuple[Identity, ...] = (),
        out: Path | None = None,
        attributes: bool = False,
        pem: bool = False,
        also: tuple[Identity, ...] = (),
        md: str | None = None,
        keyid: bool = False,
        certfile: Path | None = None,
    ) -> Path:
        """``openssl cms -sign -binary -noattr -outform DER`` of ``data`` (``-certfile`` with
        the ``chain``, or the ``certfile`` given); the signature file (``data`` + ``.sig`` unless
        ``out``). ``also``: more signers; ``md``: the digest (``-md``); ``keyid``: signers
        named by key identifier."""
        out = out or data.with_name(data.name + ".sig")
        args: list[str | Path] = ["cms", "-sign", "-binary", "-in", data]
        for identity in (signer, *also):
            args += ["-signer", identity.cert, "-inkey", identity.key]
        if md is not None:
            args += ["-md", md]
        if keyid:
            args.append("-keyid")
        if not attributes:
            args.append("-noattr")
        if chain:
            certfile = self.dir / f"chain-{self._slug(signer.name)}-{len(chain)}.pem"
            certfile.write_text("".join(c.cert.read_text() for c in chain))
        if certfile is not None:
            args += ["-certfile", certfile]
        args += ["-outform", "PEM" if pem else "DER", "-out", out]
        openssl(*args, cwd=self.dir)
        return out
