"""imgverify, imgtrust and the certificate commands in a real shell, on files made with the
openssl command line (``tests.trust.cases``) and fetched over ``file://``; the lab tests
(``test_trust_lab.py``) do the same over HTTP against upstream iPXE's recorded answers.

Every refusal is checked for iPXE's line and number, the status a script's ``|| goto`` sees,
and bootsh's explanation on stderr.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bootsh.boot.images import SealedCopy, store_of
from bootsh.cli import main
from bootsh.config import Choices, merge
from bootsh.context import Context
from bootsh.plugins import PluginHost
from bootsh.shell import Shell
from tests.helpers import ROOT, run_cli
from tests.initrd import kernel, newc
from tests.trust.cases import SIGNER_NAME
from tests.trust.conftest import Cases
from tests.trust.pki import Pki

DENIED = "Could not verify: Permission denied (https://ipxe.org/{:08x})"


def verify_script(cases: Cases, image: str, signature: str, *options: str) -> list[str]:
    """A script that verifies and reports where ``|| goto error`` sent it."""
    extra = " ".join(options)
    return [
        f"imgverify -q {extra} {cases.uri(image)} {cases.uri(signature)} || goto error",
        "echo verified",
        "exit 0",
        ":error",
        "echo caught ${errno}",
    ]


def trust_options(cases: Cases) -> tuple[str, ...]:
    return ("--dry-run", "--trust", cases.built.trust)


@pytest.mark.parametrize(
    ("case", "signature", "options", "errno", "why"),
    [
        ("flipped.ipxe", "good.ipxe.sig", (), 0x0227E10D,
         "does not match the SHA-256 digest of flipped.ipxe: the image is not the file"),
        ("good.ipxe", "other.ipxe.sig", (), 0x0227E10D, "does not match the SHA-256 digest"),
        ("expired.ipxe", "expired.ipxe.sig", (), 0x0216E40D,
         'certificate "expired.bootsh.test" expired on 2021-01-01 00:00:00 UTC'),
        ("future.ipxe", "future.ipxe.sig", (), 0x0216E40D, "is not valid before 2090-01-01"),
        ("noeku.ipxe", "noeku.ipxe.sig", (), 0x022AE20D,
         "is not for code signing: it has no extendedKeyUsage extension"),
        ("servereku.ipxe", "servereku.ipxe.sig", (), 0x022AE20D,
         "it has extendedKeyUsage serverAuth, not codeSigning"),
        ("noku.ipxe", "noku.ipxe.sig", (), 0x022AE10D, "may not sign: it has no keyUsage"),
        ("untrusted.ipxe", "untrusted.ipxe.sig", (), 0x0216EB0D,
         'ends at "bootsh-other-root", which is not a trusted root (SHA-256 fingerprint'),
        ("nocertfile.ipxe", "nocertfile.ipxe.sig", (), 0x0216EB0D,
         "whose issuer is not in the signature (sign with -certfile"),
        ("good.ipxe", "good.ipxe.sig", ("--signer", "someone.else"), 0x022AE40D,
         'no signer is named "someone.else" (the signers: "codesign.bootsh.test")'),
        ("attributes.ipxe", "attributes.ipxe.sig", (), 0x0227E10D,
         "the signature has signed attributes (made without openssl cms -noattr)"),
        ("notca.ipxe", "notca.ipxe.sig", (), 0x0216E20D, "but is not a CA"),
        ("nocerts.ipxe", "nocerts.ipxe.sig", (), 0x022AE50D, "the signature has no signer"),
    ],
)  # fmt: skip
def test_a_refused_signature_gives_ipxes_line_and_number(
    cases: Cases, case: str, signature: str, options: tuple[str, ...], errno: int, why: str
) -> None:
    status, out, err = run_cli(
        *verify_script(cases, case, signature, *options), options=trust_options(cases)
    )
    assert status == 0, err  # `|| goto error` caught it and the script ended well
    assert out.splitlines() == [DENIED.format(errno), f"caught 0x{errno:x}"]
    assert why in err


@pytest.mark.parametrize(
    ("signature", "text", "why"),
    [
        ("truncated.ipxe.sig", "Operation not supported (https://ipxe.org/3c00e05f)",
         "is not a DER or PEM object: its outer object claims"),
        ("garbage.ipxe.sig", "Operation not supported (https://ipxe.org/3c00e05f)",
         "it starts with byte 0x00, not an ASN.1 SEQUENCE"),
        ("notcms.ipxe.sig", "Operation not supported (https://ipxe.org/3c2ae15f)",
         "not a CMS message"),
        ("enveloped.ipxe.sig", "Error 0x3d2ae019 (https://ipxe.org/3d2ae019)",
         "an encrypted CMS message (envelopedData), not a signature"),
        ("keyid.ipxe.sig", "Invalid argument (https://ipxe.org/1c00e116)",
         "named by subject key identifier (openssl cms -keyid)"),
        ("md5.ipxe.sig", "Operation not supported (https://ipxe.org/3c00e15f)",
         "the digest algorithm: 1.2.840.113549.2.5 is not one iPXE builds in"),
    ],
)  # fmt: skip
def test_a_malformed_signature_is_one_line_and_a_reason(
    cases: Cases, signature: str, text: str, why: str
) -> None:
    status, out, err = run_cli(
        *verify_script(cases, "good.ipxe", signature), options=trust_options(cases)
    )
    assert status == 0, err
    assert out.splitlines()[0] == f"Could not verify: {text}"
    assert out.splitlines()[1].startswith("caught 0x")
    assert why in err
    assert "Traceback" not in err


def test_a_certificate_algorithm_ipxe_does_not_build_in_is_unsupported(
    cases: Cases, tmp_path: Path
) -> None:
    """A signer certificate signed with RSA-PSS: iPXE knows the identifier, but not as a
    certificate's signature algorithm (``Inappropriate algorithm``, a bare number)."""
    pki = Pki(tmp_path / "pki")
    signer = pki.issue("pss.bootsh.test", cases.built.root, pss=True)
    image = tmp_path / "pss.ipxe"
    image.write_text("#!ipxe\necho pss\n")
    sig = pki.sign(image, signer, chain=(cases.built.root,))
    status, out, err = run_cli(
        f"imgverify -q {image.as_uri()} {sig.as_uri()} || echo caught ${{errno}}",
        options=trust_options(cases),
    )
    assert status == 0, err
    assert out.splitlines() == [
        "Could not verify: Error 0x3d00e119 (https://ipxe.org/3d00e119)",
        "caught 0x3d00e119",
    ]
    assert (
        'the signature algorithm of certificate "pss.bootsh.test": rsassa-pss'
        " (1.2.840.113549.1.1.10) is not a signature algorithm to iPXE"
    ) in err


def test_a_good_signature_trusts_the_image_and_frees_the_signature(cases: Cases) -> None:
    status, out, err = run_cli(
        f"imgverify {cases.uri('good.ipxe')} {cases.uri('good.ipxe.sig')}",
        "imgstat",
        f"imgverify -q --keep -s {SIGNER_NAME} good.ipxe {cases.uri('good.ipxe.sig')}",
        "imgstat",
        options=trust_options(cases),
    )
    assert status == 0, err
    size = (cases.served / "good.ipxe").stat().st_size
    sig = (cases.served / "good.ipxe.sig").stat().st_size
    assert out.splitlines() == [
        f"{cases.uri('good.ipxe')}... ok",
        f"{cases.uri('good.ipxe.sig')}... ok",
        f"good.ipxe : {size} bytes [script] [TRUSTED]",
        f"good.ipxe : {size} bytes [script] [TRUSTED]",
        f"good.ipxe.sig : {sig} bytes [DER]",
    ]
    assert err == ""


def test_intermediates_pem_and_ecdsa_signatures_pass(cases: Cases) -> None:
    lines = [
        f"imgverify -q {cases.uri(n + '.ipxe')} {cases.uri(n + '.ipxe.sig')}"
        for n in ("intermediate", "pem", "ecdsa", "sha512", "margin", "twogood")
    ]
    status, out, err = run_cli(*lines, "imgstat", options=trust_options(cases))
    assert status == 0, err
    assert all(line.endswith("[script] [TRUSTED]") for line in out.splitlines())
    assert len(out.splitlines()) == 6


def test_without_trusted_roots_nothing_verifies_and_stderr_says_why(cases: Cases) -> None:
    status, out, err = run_cli(*verify_script(cases, "good.ipxe", "good.ipxe.sig"))
    assert status == 0
    assert out.splitlines() == [DENIED.format(0x0216EB0D), "caught 0x216eb0d"]
    assert "bootsh trusts no root certificate until one is configured (--trust" in err


def test_set_trust_in_a_script_changes_nothing(cases: Cases) -> None:
    """iPXE reads its roots at start-up: a ``set trust`` later is stored and shown, no more."""
    root = cases.built.root.fingerprint
    status, out, err = run_cli(
        f"set trust {root}",
        "show trust",
        *verify_script(cases, "good.ipxe", "good.ipxe.sig"),
    )
    assert status == 0
    assert out.splitlines() == [
        f"trust:hex = {root}",
        DENIED.format(0x0216EB0D),
        "caught 0x216eb0d",
    ]
    assert "the trust setting changes nothing now: trusted roots are read at start-up" in err
    # The other way round: trusting the test root at start-up, then "set trust" to another.
    other = cases.built.other_root.fingerprint
    status, out, _ = run_cli(
        f"set trust {other}",
        *verify_script(cases, "good.ipxe", "good.ipxe.sig"),
        options=trust_options(cases),
    )
    assert (status, out.splitlines()) == (0, ["verified"])


# -- where the trusted roots come from ----------------------------------------------------------


def run(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(argv, env=env or {}, stdin=io.StringIO(), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_trust_sources_first_given_wins(cases: Cases, tmp_path: Path) -> None:
    good = [f"imgverify -q {cases.uri('good.ipxe')} {cases.uri('good.ipxe.sig')}"]
    script = ["-c", good[0]]
    root, other = cases.built.root, cases.built.other_root
    config = tmp_path / "config.toml"
    config.write_text(f'trust = ["{other.fingerprint}", "{root.cert}"]\n')
    # The config file alone: a list of a fingerprint and a PEM file.
    assert run(["--config", str(config), *script])[0] == 0
    # BOOTSH_TRUST wins over the file, --trust over both.
    assert run(["--config", str(config), *script], {"BOOTSH_TRUST": other.fingerprint})[0] == 1
    assert run(["--trust", str(root.cert), *script], {"BOOTSH_TRUST": other.fingerprint})[0] == 0
    # Colons are optional; several fingerprints may follow each other or be comma-separated.
    plain = root.fingerprint.replace(":", "")
    for spec in (plain, f"{other.fingerprint},{plain}", other.fingerprint + ":" + plain):
        assert run(["--trust", spec, *script])[0] == 0, spec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ab:cd", "--trust: 'ab:cd' is 2 bytes of hex; a SHA-256 fingerprint is 32"),
        ("/nonexistent/ca.pem",
         "--trust: '/nonexistent/ca.pem' is neither SHA-256 fingerprints (hex) nor a readable"),
        (",", "--trust: no fingerprint and no file given"),
    ],
)  # fmt: skip
def test_a_bad_trust_value_is_a_usage_error(spec: str, message: str) -> None:
    status, out, err = run(["--trust", spec, "-c", "echo never"])
    assert (status, out) == (2, "")
    assert err.startswith(f"bootsh: {message}")


def test_a_pem_file_of_keys_is_refused_naming_it(cases: Cases, tmp_path: Path) -> None:
    status, _, err = run(["--trust", str(cases.built.root.key), "-c", "echo never"])
    assert status == 2
    assert "holds PRIVATE KEY, not only certificates" in err
    config = tmp_path / "c.toml"
    config.write_text("trust = 5\n")
    status, _, err = run(["--config", str(config), "-c", "echo never"])
    assert status == 2 and "'trust' has the wrong type (int)" in err


# -- imgtrust ------------------------------------------------------------------------------------


def test_imgtrust_refuses_unverified_images_and_runs_verified_ones(cases: Cases) -> None:
    status, out, err = run_cli(
        f"imgfetch -q {cases.uri('unsigned.ipxe')}",
        f"imgverify -q {cases.uri('good.ipxe')} {cases.uri('good.ipxe.sig')}",
        "imgtrust",
        "chain unsigned.ipxe || echo refused ${errno}",
        "chain good.ipxe",
        "imgtrust --allow",
        "chain unsigned.ipxe",
        options=trust_options(cases),
    )
    assert status == 0, err
    assert out.splitlines() == [
        "Could not boot: Permission denied (https://ipxe.org/0200810d)",
        "refused 0x200810d",
        "hello from good.ipxe",
        "hello from unsigned.ipxe",
    ]
    assert "cannot run unsigned.ipxe: it is not trusted, and imgtrust requires" in err


def test_imgtrust_permanent_cannot_be_undone(cases: Cases) -> None:
    status, out, _ = run_cli(
        f"imgfetch -q {cases.uri('unsigned.ipxe')}",
        "imgtrust --permanent",
        "imgtrust --allow || echo allow ${errno}",
        "imgtrust -a -p || echo allow-permanent ${errno}",
        "imgtrust",
        "chain unsigned.ipxe || echo still refused",
    )
    assert status == 0
    assert out.splitlines() == [
        "Could not set image trust requirement: Permission denied (https://ipxe.org/0200820d)",
        "allow 0x200820d",
        "Could not set image trust requirement: Permission denied (https://ipxe.org/0200820d)",
        "allow-permanent 0x200820d",
        "Could not boot: Permission denied (https://ipxe.org/0200810d)",
        "still refused",
    ]
    # As iPXE's image_set_trust: "--allow --permanent" forbids ever requiring trust.
    status, out, _ = run_cli("imgtrust -a -p", "imgtrust || echo locked ${errno}")
    assert out.splitlines()[-1] == "locked 0x200820d"


# -- what was verified is what runs -------------------------------------------------------------


def make_shell(host: PluginHost, cases: Cases) -> Shell:
    config = merge(Choices(trust=[cases.built.trust], dry_run=True), {})
    err = io.StringIO()
    return Shell(host, Context(config, stderr=err), out=io.StringIO(), err=err)


def output(shell: Shell) -> tuple[list[str], str]:
    assert isinstance(shell.out, io.StringIO) and isinstance(shell.err, io.StringIO)
    out, err = shell.out.getvalue().splitlines(), shell.err.getvalue()
    shell.out.seek(0), shell.out.truncate()
    shell.err.seek(0), shell.err.truncate()
    return out, err


@pytest.mark.parametrize("imgtrust", [False, True])
def test_an_image_changed_on_disk_after_verification_never_runs(
    host: PluginHost, cases: Cases, imgtrust: bool
) -> None:
    with make_shell(host, cases) as shell:
        good, sig = cases.uri("good.ipxe"), cases.uri("good.ipxe.sig")
        assert shell.run_line(f"imgverify -q {good} {sig}") == 0
        if imgtrust:
            shell.run_line("imgtrust")
        image = store_of(shell).find("good.ipxe")
        assert image is not None and image.trusted
        image.path.write_bytes(b"#!ipxe\necho swapped behind bootsh's back\n")
        assert shell.run_line("chain good.ipxe") == 0x0200810D
        out, err = output(shell)
        assert out == ["Could not boot: Permission denied (https://ipxe.org/0200810d)"]
        assert "good.ipxe changed after imgverify verified it (SHA-256 now" in err
        assert "swapped" not in "".join(out)
        # Refused for good, without its trusted mark, until verified again.
        assert shell.run_line("imgstat good.ipxe") == 0
        assert output(shell)[0][0].endswith("bytes [script]")
        assert shell.run_line("chain good.ipxe") != 0
        image.path.write_bytes((cases.served / "good.ipxe").read_bytes())
        output(shell)
        assert shell.run_line(f"imgverify -q good.ipxe {cases.uri('good.ipxe.sig')}") == 0
        assert shell.run_line("chain good.ipxe") == 0
        assert output(shell)[0] == ["hello from good.ipxe"]


def test_a_verified_image_runs_from_a_sealed_copy(tmp_path: Path) -> None:
    source = tmp_path / "image"
    source.write_bytes(b"#!ipxe\necho sealed\n")
    copy = SealedCopy(source, tmp_path)
    try:
        assert copy.path.read_bytes() == source.read_bytes()
        source.write_bytes(b"changed")  # the original may change: the copy does not
        assert copy.path.read_bytes() == b"#!ipxe\necho sealed\n"
        with copy.path.open("r+b", buffering=0) as f, pytest.raises(PermissionError):
            f.write(b"x")  # F_SEAL_WRITE: not even this process may write it
    finally:
        copy.close()


# -- kexec: the kernel and its initrds ----------------------------------------------------------


@pytest.fixture(scope="module")
def boot_files(cases: Cases, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("boot")
    shutil.copyfile(kernel(), root / "vmlinuz")
    (root / "initrd.cpio").write_bytes(newc({"init": b"#!/bin/sh\necho hi\n"}))
    pki = Pki(cases.pki)
    signer = cases.built.signer
    for name in ("vmlinuz", "initrd.cpio"):
        pki.sign(root / name, signer, chain=(cases.built.root,))
    return root


def test_imgtrust_boots_a_verified_kernel_and_initrd_only(
    host: PluginHost, cases: Cases, boot_files: Path
) -> None:
    k, i = (boot_files / "vmlinuz").as_uri(), (boot_files / "initrd.cpio").as_uri()
    with make_shell(host, cases) as shell:
        for line in ("imgtrust", f"kernel -q {k} quiet", f"initrd -q {i}"):
            assert shell.run_line(line) == 0
        assert shell.run_line("boot") == 0x0200810D
        out, err = output(shell)
        assert out == ["Could not boot: Permission denied (https://ipxe.org/0200810d)"]
        assert "cannot run vmlinuz: it is not trusted" in err
        assert shell.run_line(f"imgverify -q vmlinuz {k}.sig") == 0
        # The kernel is trusted, its initrd is not: bootsh refuses (iPXE would boot it).
        assert shell.run_line("boot") == 0x0200810D
        out, err = output(shell)
        assert "cannot boot vmlinuz (bootsh also checks initrds) with initrd.cpio" in err
        assert shell.run_line(f"imgverify -q initrd.cpio {i}.sig") == 0
        assert shell.run_line("boot") == 0
        out, err = output(shell)
        assert out[0].startswith("boot: kernel vmlinuz ") and out[-1] == 'boot: cmdline "quiet"'
        # An initrd changed after it was verified stops the boot, with or without imgtrust.
        shell.run_line("imgtrust --allow")
        initrd = store_of(shell).find("initrd.cpio")
        assert initrd is not None
        initrd.path.write_bytes(newc({"init": b"#!/bin/sh\necho evil\n"}))
        assert shell.run_line("boot") == 0x0200810D
        out, err = output(shell)
        assert "initrd.cpio changed after imgverify verified it" in err
        assert not any(line.startswith("boot:") for line in out)


# -- certificates --------------------------------------------------------------------------------


def test_certstore_takes_every_certificate_of_a_pem_bundle(cases: Cases, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(cases.built.root.cert.read_text() + cases.built.signer.cert.read_text())
    status, out, err = run_cli(
        f"certstore -k {bundle.as_uri()}",
        "certstat",
        "imgstat",
        f"certfree -s {SIGNER_NAME}",
        "certstat",
    )
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == f"{bundle.as_uri()}... ok"
    assert [line.split(" : ")[0] for line in lines[1:3]] == [SIGNER_NAME, "bootsh-test-root"]
    assert all(line.endswith(" [EXPLICIT]") for line in lines[1:3])
    assert lines[3].startswith("bundle.pem : ") and lines[3].endswith(" bytes [PEM]")
    assert [line.split(" : ")[0] for line in lines[4:]] == ["bootsh-test-root"]


def test_check_knows_the_trust_commands() -> None:
    """``--check`` knows the commands' options and arguments: in the cases script, only the two
    deliberate usage errors (its "== usage" section) are reported."""
    script = ROOT / "tests" / "data" / "trust" / "cases.ipxe"
    done = subprocess.run(
        [sys.executable, "-m", "bootsh", "--check", str(script)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    lines = script.read_text().splitlines()
    usage = lines.index("echo == usage") + 1
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"{script}:{usage + 1}: error: imgverify: 1 argument(s), expected 2",
        f"{script}:{usage + 2}: error: imgtrust: 1 argument(s), expected 0",
        "checked 1 file: 2 errors, 0 warnings",  # --check's summary line
    ]


def test_a_shell_that_verifies_nothing_loads_no_crypto_library(cases: Cases) -> None:
    """Start-up stays light: with roots configured (fingerprints), the libraries load only
    when a signature is read."""
    code = (
        "import sys\nfrom bootsh.cli import main\n"
        f"main(['--trust', {cases.built.trust!r}, '-c', 'echo hi', '-c', 'set trust 00'])\n"
        "print([m for m in sys.modules if m.split('.')[0] in ('cryptography', 'asn1crypto')])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.stdout.splitlines() == ["hi", "[]"], done.stderr


def test_a_real_boot_hashes_each_verified_initrd_as_it_copies_it(tmp_path: Path) -> None:
    """``combine_initrds``: the bytes given to the kernel are the bytes verified, or nothing."""
    import hashlib

    from bootsh.boot.kexec import PinMismatch, PlanFile, combine_initrds

    good, bad = tmp_path / "good.cpio", tmp_path / "bad.cpio"
    good.write_bytes(newc({"a": b"1"}))
    bad.write_bytes(newc({"b": b"2"}))
    pin = hashlib.sha256(good.read_bytes()).digest()
    target = tmp_path / "combined"
    files = (PlanFile("good.cpio", good, good.stat().st_size, None, pin=pin),)
    assert combine_initrds(files, target) == target
    assert target.read_bytes().startswith(good.read_bytes())
    swapped = (PlanFile("good.cpio", bad, bad.stat().st_size, None, pin=pin),)
    with pytest.raises(PinMismatch) as caught:
        combine_initrds(swapped, target)
    assert caught.value.digest == hashlib.sha256(bad.read_bytes()).digest()
    assert not target.exists()  # nothing half-written is left for a kernel to load
