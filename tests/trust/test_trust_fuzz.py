"""Hostile signatures: garbage DER of every length, every truncation and every byte flipped of
a real signature, huge and cyclic certificate chains, deeply nested ASN.1, random bytes.

Each must end in a verdict (an iPXE error number and one line of explanation), never an
exception, in bounded time and memory. The bounds asserted are generous (a hundred times what
this machine takes): they catch a loop or a blow-up, not a slow CI machine.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bootsh.trust import numbers
from bootsh.trust.anchors import Anchors
from bootsh.trust.certs import CertStore
from bootsh.trust.cms import MAX_CERTIFICATES, MAX_CHAIN
from bootsh.trust.verify import MAX_SIGNATURE, Verdict, verify
from tests.trust.conftest import Cases
from tests.trust.pki import Pki

#: Every number a verdict may carry: iPXE's (bootsh.trust.numbers) and the image's EIO.
KNOWN = {v for k, v in vars(numbers).items() if k.isupper() and not k.startswith("ERRFILE")}


def anchors(cases: Cases) -> Anchors:
    from bootsh.trust.anchors import parse_spec

    return Anchors(parse_spec(cases.built.trust, "test"), "test")


def check(cases: Cases, signature: bytes, image: str = "good.ipxe") -> Verdict:
    verdict = verify(
        cases.served / image,
        signature,
        name=None,
        now=datetime.now(UTC),
        store=CertStore(),
        anchors=anchors(cases),
    )
    assert verdict.errno == 0 or verdict.errno in KNOWN, hex(verdict.errno)
    assert verdict.errno == 0 or verdict.why  # a refusal always says why
    assert "\n" not in verdict.why
    return verdict


def bounded(what: Callable[[], object], seconds: float = 10, megabytes: int = 64) -> None:
    tracemalloc.start()
    start = time.monotonic()
    try:
        what()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < seconds
    assert peak < megabytes << 20, f"{peak} bytes"


def der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + der_length(len(body)) + body


def test_garbage_der_of_every_length(cases: Cases) -> None:
    """A well-formed outer SEQUENCE around garbage, 0 to 2047 bytes of it; and garbage that
    is not even that."""
    pattern = bytes(range(7, 256, 13)) * 200

    def run() -> None:
        for n in range(2048):
            body = pattern[:n]
            assert check(cases, tlv(0x30, body)).errno != 0
            assert check(cases, body).errno != 0

    bounded(run, seconds=60)


def unread_bytes(signature: bytes) -> set[int]:
    """The offsets of the fields iPXE's cms.c steps over without reading them: SignedData's
    version, digestAlgorithms and encapContentInfo, the SignerInfo's version and the
    parameters of its signatureAlgorithm."""
    from asn1crypto import cms

    signed = cms.ContentInfo.load(signature)["content"]
    unread: set[int] = set()

    def field(encoded: bytes, start: int = 0) -> tuple[int, int]:
        at = signature.find(encoded, start)
        assert at >= 0
        unread.update(range(at, at + len(encoded)))
        return at, at + len(encoded)

    for name in ("version", "digest_algorithms", "encap_content_info"):
        field(signed[name].dump())
    info = signed["signer_infos"][0]
    sid_at = signature.find(info["sid"].dump())
    unread.update(range(sid_at - len(info["version"].dump()), sid_at))
    _, end = field(info["signature_algorithm"].dump(), sid_at)
    unread.difference_update(range(end - len(info["signature_algorithm"].dump()), end))
    unread.update(range(end - len(info["signature_algorithm"]["parameters"].dump()), end))
    return unread


def test_every_truncation_and_every_flipped_byte_of_a_real_signature(cases: Cases) -> None:
    signature = (cases.served / "good.ipxe.sig").read_bytes()
    assert check(cases, signature).errno == 0
    unread = unread_bytes(signature)

    def run() -> None:
        for n in range(len(signature)):
            verdict = check(cases, signature[:n])
            assert verdict.errno == numbers.ENOTSUP_ASN1, (n, verdict.why)
        for i in range(len(signature)):
            flipped = bytearray(signature)
            flipped[i] ^= 0xFF
            verdict = check(cases, bytes(flipped))
            # Only a byte iPXE never reads may change without a refusal.
            assert verdict.errno != 0 or i in unread, i

    bounded(run, seconds=120)


def test_deeply_nested_asn1(cases: Cases) -> None:
    """100 000 nested SEQUENCEs as the signature, and as a certificate inside a SignedData."""
    nested = b""
    for _ in range(100_000):
        nested = tlv(0x30, nested)
        if len(nested) > MAX_SIGNATURE - 1024:
            break
    signed_data_oid = tlv(0x06, bytes.fromhex("2a864886f70d010702"))

    def run() -> None:
        assert check(cases, nested).errno == numbers.ENOTSUP_TYPE
        signed = tlv(
            0x30,
            tlv(0x02, b"\x01") + tlv(0x31, b"") + tlv(0x30, tlv(0x06, b"\x2a\x86"))
            + tlv(0xA0, nested) + tlv(0x31, b""),
        )  # fmt: skip
        message = tlv(0x30, signed_data_oid + tlv(0xA0, signed))
        verdict = check(cases, message)
        assert verdict.errno != 0

    bounded(run)


def test_an_oversized_signature_is_refused_unread(cases: Cases) -> None:
    verdict = check(cases, tlv(0x30, bytes(MAX_SIGNATURE)))
    assert verdict.errno == numbers.ENOMEM_CMS
    assert f"bootsh reads at most {MAX_SIGNATURE}" in verdict.why


@pytest.fixture(scope="module")
def chains(cases: Cases, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Signatures with too many certificates, a chain too long, and a certificate cycle."""
    pki = Pki(tmp_path_factory.mktemp("chains"))
    ec = f"ec:{cases.pki / 'p256.pem'}"  # EC keys: made in no time, unlike RSA ones
    root = cases.built.root
    image = cases.served / "good.ipxe"
    out = {}
    # MAX_CERTIFICATES + 1 certificates: distinct ones (openssl refuses a duplicate).
    many = pki.dir / "many.pem"
    many.write_text(
        "".join(
            pki.issue(f"many-{i}", root, key=ec).cert.read_text() for i in range(MAX_CERTIFICATES)
        )
    )
    out["many"] = pki.sign(image, cases.built.signer, chain=(), out=pki.dir / "many.sig",
                           certfile=many)  # fmt: skip
    # A chain of MAX_CHAIN + 4 intermediates under the trusted root.
    issuer = root
    intermediates = []
    for i in range(MAX_CHAIN + 4):
        issuer = pki.issue(f"long-{i}", issuer, extensions="intermediate", key=ec)
        intermediates.append(issuer)
    leaf = pki.issue("long-leaf.bootsh.test", issuer)
    out["long"] = pki.sign(image, leaf, chain=(*reversed(intermediates), root),
                           out=pki.dir / "long.sig")  # fmt: skip
    # A cycle: cyc-b issued by cyc-a, and a second cyc-a issued by cyc-b.
    cyc_a = pki.root("cyc-a")
    cyc_b = pki.issue("cyc-b", cyc_a, extensions="intermediate")
    cyc_a_again = pki.issue("cyc-a", cyc_b, extensions="intermediate")
    leaf = pki.issue("cycle-leaf.bootsh.test", cyc_b)
    out["cycle"] = pki.sign(image, leaf, chain=(cyc_b, cyc_a_again), out=pki.dir / "cycle.sig")
    return out


def test_too_many_certificates(cases: Cases, chains: dict[str, Path]) -> None:
    verdict = check(cases, chains["many"].read_bytes())
    assert verdict.errno == numbers.ENOMEM_CMS
    assert f"bootsh takes at most {MAX_CERTIFICATES}" in verdict.why


def test_a_chain_longer_than_bootsh_follows(cases: Cases, chains: dict[str, Path]) -> None:
    verdict = check(cases, chains["long"].read_bytes())
    assert verdict.errno == numbers.EACCES_USELESS
    assert f"is longer than {MAX_CHAIN} certificates" in verdict.why


def test_a_certificate_cycle_ends(cases: Cases, chains: dict[str, Path]) -> None:
    def run() -> None:
        verdict = check(cases, chains["cycle"].read_bytes())
        assert verdict.errno == numbers.EACCES_USELESS
        assert '"cyc-b" <- "cycle-leaf.bootsh.test"' in verdict.why

    bounded(run)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(cases: Cases, data: bytes) -> None:
    check(cases, data)
    check(cases, b"\x30" + der_length(len(data)) + data)
