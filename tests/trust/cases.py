"""The files ``tests/data/trust/cases.ipxe`` fetches: a test PKI (``tests.trust.pki``) and one
image and signature per case, written into a directory the lab serves.

The same builder made the files of the upstream iPXE recording (``ipxe-output.txt``); every
run makes a fresh PKI, so what the two outputs share is all that is compared: texts, error
numbers, names, and the certificate store's order and flags (not the fingerprints).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.trust.pki import Identity, Pki, openssl

DATA = Path(__file__).resolve().parent.parent / "data" / "trust"
CASES_SCRIPT = DATA / "cases.ipxe"
RECORDED = DATA / "ipxe-output.txt"

ROOT_NAME = "bootsh-test-root"
SIGNER_NAME = "codesign.bootsh.test"


def script(name: str) -> bytes:
    return f"#!ipxe\necho hello from {name}\n".encode()


@dataclass(frozen=True)
class Built:
    """What the cases need besides the served files."""

    root: Identity
    other_root: Identity
    signer: Identity
    #: What ``--trust`` (bootsh) and the ``trust`` setting (iPXE) are given: the fingerprints
    #: of the test root and of an older root, one after the other (iPXE's ``hex`` form).
    trust: str


def build(served: Path, pki_dir: Path) -> Built:
    """Every file ``cases.ipxe`` fetches, in ``served``; the PKI in ``pki_dir``."""
    served.mkdir(parents=True, exist_ok=True)
    pki = Pki(pki_dir)
    root = pki.root(ROOT_NAME)
    other_root = pki.root("bootsh-other-root")
    signer = pki.issue(SIGNER_NAME, root)
    intermediate = pki.issue("bootsh-test-intermediate", root, extensions="intermediate")
    not_ca = pki.issue("not-a-ca.bootsh.test", root, extensions="not_ca")
    ec_params = pki_dir / "p256.pem"
    openssl("ecparam", "-name", "prime256v1", "-out", ec_params, cwd=pki_dir)

    def case(
        name: str,
        identity: Identity,
        chain: tuple[Identity, ...] = (root,),
        *,
        attributes: bool = False,
        pem: bool = False,
        also: tuple[Identity, ...] = (),
        md: str | None = None,
        keyid: bool = False,
    ) -> Path:
        image = served / f"{name}.ipxe"
        image.write_bytes(script(f"{name}.ipxe"))
        pki.sign(
            image, identity, chain=chain, attributes=attributes, pem=pem, also=also, md=md,
            keyid=keyid,
        )  # fmt: skip
        return image

    shutil.copyfile(CASES_SCRIPT, served / "cases.ipxe")
    case("nocertfile", signer, chain=())
    good = case("good", signer)
    flipped = bytearray(good.read_bytes())
    flipped[-2] ^= 0x01  # "good.ipxe" -> "good.ipxd"
    (served / "flipped.ipxe").write_bytes(bytes(flipped))
    case("other", signer)
    case("expired", pki.issue("expired.bootsh.test", root, start="20200101000000Z",
                              end="20210101000000Z"))  # fmt: skip
    case("future", pki.issue("future.bootsh.test", root, start="20900101000000Z",
                             end="20910101000000Z"))  # fmt: skip
    case("noeku", pki.issue("noeku.bootsh.test", root, extensions="no_eku"))
    case("servereku", pki.issue("servereku.bootsh.test", root, extensions="server_eku"))
    case("noku", pki.issue("noku.bootsh.test", root, extensions="no_key_usage"))
    case("untrusted", pki.issue("untrusted.bootsh.test", other_root), chain=(other_root,))
    case(
        "intermediate",
        pki.issue("intermediate.bootsh.test", intermediate),
        chain=(intermediate, root),
    )
    case("notca", pki.issue("under-not-a-ca.bootsh.test", not_ca), chain=(not_ca, root))
    case("attributes", signer, attributes=True)
    case("pem", signer, pem=True)
    ecdsa = case("ecdsa", pki.issue("ecdsa.bootsh.test", root, key=f"ec:{ec_params}"))
    (served / "ecdsaflipped.ipxe").write_bytes(ecdsa.read_bytes().replace(b"hello", b"hallo"))
    nocerts = served / "nocerts.ipxe"
    nocerts.write_bytes(script("nocerts.ipxe"))
    openssl(
        "cms", "-sign", "-binary", "-noattr", "-nocerts", "-in", nocerts, "-signer",
        signer.cert, "-inkey", signer.key, "-outform", "DER", "-out",
        served / "nocerts.ipxe.sig", cwd=pki_dir,
    )  # fmt: skip
    enveloped = served / "enveloped.ipxe"
    enveloped.write_bytes(script("enveloped.ipxe"))
    openssl(
        "cms", "-encrypt", "-binary", "-aes256", "-in", enveloped, "-outform", "DER",
        "-out", served / "enveloped.ipxe.sig", signer.cert, cwd=pki_dir,
    )  # fmt: skip
    case("truncated", signer)
    sig = served / "truncated.ipxe.sig"
    sig.write_bytes(sig.read_bytes()[: len(sig.read_bytes()) // 2])
    (served / "garbage.ipxe").write_bytes(script("garbage.ipxe"))
    (served / "garbage.ipxe.sig").write_bytes(bytes(range(256)) * 4)
    (served / "notcms.ipxe").write_bytes(script("notcms.ipxe"))
    # One well-formed DER object that is no CMS message: a certificate.
    (served / "notcms.ipxe.sig").write_bytes(root.der)
    case("keyid", signer, keyid=True)
    case("md5", signer, md="md5")
    case("sha512", signer, md="sha512")
    # Signed under the intermediate with no -certfile: the intermediate and the root are in
    # the certificate store since the "intermediate" case.
    case("storecompletes", pki.issue("store.bootsh.test", intermediate), chain=())
    untrusted_signer = pki.issue("second-untrusted.bootsh.test", other_root)
    case("twosigners", signer, chain=(root, other_root), also=(untrusted_signer,))
    case("twogood", signer, also=(pki.issue("second.bootsh.test", root),))
    # Expired two hours ago, within iPXE's 12.5 hours for a wrong clock, under a root that
    # was valid then.
    old_root = pki.root("bootsh-old-root", start="20200101000000Z", end="20400101000000Z")
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    margin = pki.issue("margin.bootsh.test", old_root, start="20200101000000Z",
                       end=two_hours_ago.strftime("%Y%m%d%H%M%SZ"))  # fmt: skip
    case("margin", margin, chain=(old_root,))
    case("rsa1024", pki.issue("rsa1024.bootsh.test", root, key="rsa:1024"))
    case("sha1cert", pki.issue("sha1cert.bootsh.test", root, md="sha1"))
    case("psscert", pki.issue("psscert.bootsh.test", root, pss=True))
    (served / "unsigned.ipxe").write_bytes(script("unsigned.ipxe"))
    shutil.copyfile(pki.issue("extra.bootsh.test", root).cert, served / "extra.crt")
    (served / "notacert.txt").write_text("this is not a certificate\n")
    return Built(root, other_root, signer, f"{root.fingerprint}:{old_root.fingerprint}")
