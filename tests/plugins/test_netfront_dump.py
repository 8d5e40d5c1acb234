"""netfront's `xenstore-ls -f` reader: escaping, `-p`, guest-relative dumps, errors, domain ids.

Escaping is checked against the real ``xenstore-ls`` of Xen 4.17 run on a real xenstored (the
harness of tests/xenstored.py) as well as against the rules of its ``sanitise_value``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bootsh.context import Config, Context
from bootsh.errors import XenStoreError
from bootsh.nics.netdevs import resolve
from bootsh.nics.twins import Verdict
from bootsh.plugins import make_plugin_manager

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bootsh_netfront.connect import Opened, open_guest
from bootsh_netfront.dump import DumpError, DumpXenStore, parse_line, sanitise, unsanitise
from bootsh_netfront.probe import probe
from bootsh_netfront.store import Guest, XenStoreDenied
from tests.xenstored import Xenstored

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "tests" / "data" / "xenstore-ls-f-sample.txt"
EXAMPLE = REPO / "examples" / "machines" / "xen-hvm"
MAC0, MAC1 = "00:16:3e:5f:48:e4", "00:16:3e:1a:2b:3c"
NO_SYSFS = Path("/nonexistent-sysfs")


def vif_lines(domid: int, n: int, mac: str, prefix: str | None = None, **extra: str) -> str:
    """A vif's frontend and backend as `xenstore-ls -f` prints them."""
    front = prefix if prefix is not None else f"/local/domain/{domid}/"
    back = f"/local/domain/0/backend/vif/{domid}/{n}"
    keys = {
        "backend": back,
        "backend-id": "0",
        "state": "4",
        "handle": str(n),
        "mac": mac,
        **extra,
    }
    lines = [f'{front}device/vif/{n}/{k} = "{v}"' for k, v in keys.items()]
    lines += [f'{back}/type = "vif_ioemu"', f'{back}/bridge = "xenbr0"']
    return "\n".join(lines) + "\n"


def open_dump(tmp_path: Path, text: str, domid: int | None = None) -> Opened:
    path = tmp_path / "xenstore.txt"
    path.write_text(text)
    return open_guest(Config(xenstore_dump=path, xen_domid=domid), env={}, xenbus=NO_SYSFS)


def guest_of(opened: Opened) -> Guest:
    assert opened.guest is not None, opened.reason
    return opened.guest


# -- escaping --------------------------------------------------------------------------------


def test_sanitise_follows_xenstore_ls_rules() -> None:
    assert sanitise(b'plain "quoted" (text)') == 'plain "quoted" (text)'
    assert sanitise(b"a\\b") == "a\\\\b"
    assert sanitise(b"\t\n\r") == "\\t\\n\\r"
    assert sanitise(b"\x00\x01\x07") == "\\000\\001\\007"
    assert sanitise(b"\x08\x0b\x1f\x7f\x80\xff") == "\\x08\\x0b\\x1f\\x7f\\x80\\xff"
    assert sanitise(b"") == ""


def test_unsanitise_accepts_what_xenstore_write_accepts() -> None:
    assert unsanitise("\\x4") == b"\x04"
    assert unsanitise("\\x41B") == b"AB"
    assert unsanitise("\\7") == b"\x07"
    assert unsanitise("\\1011") == b"A1"
    assert unsanitise("\\777") == b"\xff"  # C keeps the low byte
    assert unsanitise("caf\u00e9") == "caf\u00e9".encode()
    for bad, reason in (("abc\\", "ends the value"), ("\\q", "unknown escape"), ("\\xg", "hex")):
        with pytest.raises(ValueError, match=reason):
            unsanitise(bad)


@given(st.binary(max_size=64))
def test_unsanitise_undoes_sanitise(value: bytes) -> None:
    assert unsanitise(sanitise(value)) == value


@pytest.fixture(scope="module")
def xsd(stub: Path) -> Iterator[Xenstored]:
    if shutil.which("xenstore-ls") is None:
        pytest.skip("xenstore-ls (xenstore-utils) is not installed")
    with Xenstored(stub=stub) as daemon:
        yield daemon


ODD_VALUES = {
    "every-byte": bytes(range(1, 256)),
    "nul-inside": b"a\x00b",
    "quote-paren": b'x"  (n0)',
    "trailing-quote": b'ends with "',
    "empty": b"",
    "backslashes": b"\\x41\\\\",
}


@pytest.mark.parametrize("flags", [("-f",), ("-f", "-p")])
def test_real_xenstore_ls_output_round_trips(xsd: Xenstored, flags: tuple[str, ...]) -> None:
    for name, value in ODD_VALUES.items():
        xsd.write_raw(f"/odd/{name}", value)
    result = subprocess.run(
        ["xenstore-ls", *flags, "/odd"], env=xsd.tool_env(), capture_output=True, check=True
    )
    store = DumpXenStore.from_text(result.stdout.decode("ascii"), "real")
    for name, value in ODD_VALUES.items():
        assert store.read(f"/odd/{name}") == value, name
    assert store.directory("/odd") == list(ODD_VALUES)


# -- the line format -------------------------------------------------------------------------


def test_permissions_suffix() -> None:
    assert parse_line('/a/b = "v"   (n0,r7)') == ("/a/b", b"v", ("n0", "r7"))
    assert parse_line('/a/b = "x"  (n0)"   (b7)') == ("/a/b", b'x"  (n0)', ("b7",))
    # Without -p a value may look like a permission suffix; the closing quote decides.
    assert parse_line('/a/b = "x"  (n0)"') == ("/a/b", b'x"  (n0)', None)
    # -p, but the permissions could not be read: xenstore-ls leaves a trailing space.
    assert parse_line('/a/b = "v" ') == ("/a/b", b"v", None)


def test_blank_comment_unreadable_and_crlf_lines() -> None:
    assert parse_line("") is None
    assert parse_line("   ") is None
    assert parse_line("# taken on dom0 with xenstore-ls -f") is None
    assert parse_line("/local/domain/7/secret:") == ("/local/domain/7/secret", None, None)
    assert parse_line('/a = "v"\r\n') == ("/a", b"v", None)


def test_unreadable_node_is_denied_not_missing(tmp_path: Path) -> None:
    text = vif_lines(7, 0, MAC0).replace(f'device/vif/0/mac = "{MAC0}"', "device/vif/0/mac:")
    guest = guest_of(open_dump(tmp_path, text + "\n"))
    with pytest.raises(XenStoreDenied, match="not readable"):
        guest.store.read("/local/domain/7/device/vif/0/mac")
    [nic] = probe(guest, NO_SYSFS).nics
    assert nic.problem == "mac is not readable" and nic.mac is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("/local/domain/7/name = xen-hvm", 'expected `PATH = "VALUE"`'),
        (' name = "xen-hvm"', "without -f"),
        ('/local/domain/7/name = "unterminated', "no closing quote"),
        ('/local/domain/7/name = "v"   (x0)', "bad permissions"),
        ('/local//domain = "v"', "not a XenStore path"),
        ('/local/domain/ = "v"', "not a XenStore path"),
        ('/local/domain/7/name = "bad \\q escape"', "unknown escape"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    text = vif_lines(7, 0, MAC0) + "\n# a comment\n" + line + "\n"
    number = text.count("\n")
    with pytest.raises(DumpError) as info:
        open_dump(tmp_path, text)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'xenstore.txt'}:{number}: ")
    assert reason in message


def test_same_node_twice_must_agree(tmp_path: Path) -> None:
    text = vif_lines(7, 0, MAC0)
    guest_of(open_dump(tmp_path, text + text))  # the same dump pasted twice is fine
    with pytest.raises(DumpError, match="appears twice with different values"):
        open_dump(tmp_path, text + f'/local/domain/7/device/vif/0/mac = "{MAC1}"\n')


def test_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    config = Config(xenstore_dump=tmp_path / "nope.txt")
    with pytest.raises(XenStoreError, match=r"cannot read XenStore dump .*nope.txt: No such file"):
        open_guest(config, env={}, xenbus=NO_SYSFS)


# -- whole dumps -------------------------------------------------------------------------


def test_real_sample_dump() -> None:
    opened = open_guest(Config(xenstore_dump=SAMPLE), env={}, xenbus=NO_SYSFS)
    guest = guest_of(opened)
    assert (guest.home, guest.domid) == ("/local/domain/1", 1)
    result = probe(guest, NO_SYSFS)
    assert [(n.location, n.mac, n.problem) for n in result.nics] == [
        ("vif/0", MAC0, None),
        ("vif/1", MAC1, None),
    ]
    assert result.nics[0].facts == {
        "mac": MAC0,
        "backend": "/local/domain/0/backend/vif/1/0",
        "backend-id": "0",
        "handle": "0",
        "state": "4 (Connected)",
        "backend/type": "vif_ioemu",
        "backend/bridge": "xenbr0",
        "backend/script": "/etc/xen/scripts/vif-bridge",
    }


def test_guest_relative_dump(tmp_path: Path) -> None:
    """`xenstore-ls -f device` inside a guest prints paths relative to the guest."""
    text = 'domid = "7"\n' + vif_lines(7, 0, MAC0, prefix="") + vif_lines(7, 1, MAC1, prefix="")
    text += '/local/domain/0/backend/pci/7/0/num_devs = "1"\n'
    text += '/local/domain/0/backend/pci/7/0/dev-0 = "0000:03:00.0"\n'
    text += '/local/domain/0/backend/pci/7/0/vdevfn-0 = "28"\n'
    guest = guest_of(open_dump(tmp_path, text))
    assert (guest.home, guest.domid) == ("", 7)
    assert guest.path("device/vif") == "device/vif"
    result = probe(guest, NO_SYSFS)
    assert [(n.location, n.mac, n.problem) for n in result.nics] == [
        ("vif/0", MAC0, None),
        ("vif/1", MAC1, None),
    ]
    assert result.nics[1].facts["backend/type"] == "vif_ioemu"
    assert result.passthrough == {"0000:00:05.0": "0000:03:00.0"}


def test_relative_dump_without_domid_skips_passthrough(tmp_path: Path) -> None:
    guest = guest_of(open_dump(tmp_path, vif_lines(7, 0, MAC0, prefix="")))
    assert guest.domid is None
    result = probe(guest, NO_SYSFS)
    assert [n.mac for n in result.nics] == [MAC0]
    assert any("domain id is unknown" in note for note in result.notes)


def test_domid_detection(tmp_path: Path) -> None:
    one = vif_lines(7, 0, MAC0)
    assert guest_of(open_dump(tmp_path, one)).domid == 7
    two = one + vif_lines(9, 0, MAC1)
    with pytest.raises(XenStoreError, match=r"several guests \(domains 7, 9\).*--xen-domid"):
        open_dump(tmp_path, two)
    guest = guest_of(open_dump(tmp_path, two, domid=9))
    assert [n.mac for n in probe(guest, NO_SYSFS).nics] == [MAC1]
    nothing = open_dump(tmp_path, '/local/domain/0/name = "Domain-0"\n')
    assert nothing.guest is None and "no guest with vifs" in nothing.reason
    # A domain id with no vifs in the dump: found nothing, and says where it looked.
    guest = guest_of(open_dump(tmp_path, one, domid=3))
    result = probe(guest, NO_SYSFS)
    assert result.nics == [] and "no vifs under /local/domain/3/device/vif" in result.notes[0]


def test_requests_are_counted(tmp_path: Path) -> None:
    text = "".join(vif_lines(7, n, f"00:16:3e:00:00:{n:02x}") for n in range(10))
    guest = guest_of(open_dump(tmp_path, text, domid=7))
    probe(guest, NO_SYSFS)
    # 1 listing, 9 reads per vif, the PCI frontend and the PCI backend's num_devs.
    assert guest.store.requests == 1 + 9 * 10 + 2


# -- the built-in example machine, end to end --------------------------------------------------


def test_example_machine_twins_are_confirmed() -> None:
    """examples/machines/xen-hvm: its dump and its sysfs give two vifs with confirmed twins."""
    lines: list[str] = []
    host = make_plugin_manager(report=lines.append)
    config = Config(
        sysfs_root=EXAMPLE / "sysfs", xenstore_dump=EXAMPLE / "xenstore.txt", verbose=True
    )
    context = Context(config, warn_sink=lines.append)
    nics = host.probe_nics(context)
    vifs = [n for n in nics if n.driver == "netfront"]
    assert [(n.location, n.mac, n.problem) for n in vifs] == [
        ("vif/0", MAC0, None),
        ("vif/1", MAC1, None),
    ]
    for nic in vifs:  # the interface the example's sysfs binds to vif-N
        net = EXAMPLE / "sysfs" / "bus" / "xen" / "devices" / f"vif-{nic.location[4:]}" / "net"
        assert nic.ifname is not None and [nic.ifname] == [p.name for p in net.iterdir()]
    assert vifs[0].facts["backend/type"] == "vif_ioemu"
    resolution = resolve(host, nics, "hide-emulated", context)
    verdicts = {p.other.location: p.verdict for g, _ in resolution.groups for p in g.pairs}
    assert verdicts == {"0000:00:04.0": Verdict.TWIN, "0000:00:05.0": Verdict.TWIN}
    assert [(n.name, n.nic.location) for n in resolution.shown] == [
        ("net0", "vif/0"),
        ("net1", "vif/1"),
    ]
    evidence = {e.key for g, _ in resolution.groups for p in g.pairs for e in p.evidence}
    assert "backend-type" in evidence
    assert not [line for line in lines if "netfront" in line and "error" in line.lower()]
