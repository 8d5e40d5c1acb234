"""``sanboot`` of real disk images and ISOs made by the real tools (tests/diskimages.py): the
entry GRUB/systemd-boot/syslinux would boot, its command line, and the errors. bootsh runs
with ``--dry-run`` and ``BOOTSH_NEVER_KEXEC``; each drive is given with ``--disk`` (never
this machine's own disks). After every run: no bootsh mount and no loop device left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import diskimages as d
from tests.helpers import ROOT

DATA = ROOT / "tests" / "data" / "disks"
ROOT_UUID = "3f1a7c2e-5b4d-4e8f-9a6b-1c2d3e4f5a6b"
BOOT_UUID = "0b7e6f4a-1111-4a2b-8c3d-5e6f7a8b9c0d"
KSIZE = 0


def kernel_size() -> int:
    return d.kernel_path().stat().st_size


def leftovers() -> list[str]:
    mounts = Path("/proc/self/mounts").read_text()
    return [
        line for line in mounts.splitlines() if "bootsh-mnt-" in line or "bootsh-iscsi-" in line
    ]


def sanboot(
    *disks: Path | str,
    lines: tuple[str, ...] = ("sanboot --no-describe",),
    options: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "bootsh", "--dry-run", *options]
    for disk in disks:
        argv += ["--disk", str(disk)]
    for line in lines:
        argv += ["-c", line]
    env = {**os.environ, "BOOTSH_NEVER_KEXEC": "1"}
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, timeout=180)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert leftovers() == []
    return proc


def grubenv(text: str) -> bytes:
    """A ``grubenv`` file: its header, ``text``, and ``#`` padding to 1024 bytes."""
    return f"# GRUB Environment Block\n{text}".ljust(1024, "#").encode()


def plan(kernel: str, initrd: str, initrd_size: int, cmdline: str) -> list[str]:
    return [
        f"boot: kernel {kernel} {kernel_size()} bytes -",
        f"boot: initrd {initrd} {initrd_size} bytes -",
        f'boot: cmdline "{cmdline}"',
    ]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("disks")


def test_debian_gpt_with_esp_on_a_loop_device(work: Path) -> None:
    cfg = (DATA / "debian-grub.cfg").read_text().replace("@ROOT@", ROOT_UUID)
    initrd = d.initrd_bytes("debian")
    root = d.ext4(work, "deb-root", {
        "boot/grub/grub.cfg": cfg.encode(),
        "boot/vmlinuz-6.1.0-18-amd64": d.kernel_path(),
        "boot/initrd.img-6.1.0-18-amd64": initrd,
        "vmlinuz": b"",
    }, uuid=ROOT_UUID, label="debian")  # fmt: skip
    stub = (
        f"search.fs_uuid {ROOT_UUID} root hd0,gpt2\nset prefix=($root)'/boot/grub'\n"
        "configfile $prefix/grub.cfg\n"
    )
    esp = d.fat(
        work, "deb-esp", {"EFI/debian/grub.cfg": stub.encode(), "EFI/debian/shimx64.efi": b"MZ"}
    )
    disk = d.gpt_disk(work / "debian.img", [("ef00", esp, "EFI System"), ("8300", root, "root")])
    with d.loop_device(disk) as device:
        proc = sanboot(device, lines=("sanboot --no-describe", "echo after"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "Booting from SAN device 0x80",
        # The ESP comes first, as the firmware boots it: its stub grub.cfg searches the root
        # file system and runs its grub.cfg (configfile), whose default entry is the choice.
        'SAN 0x80 partition 1 (vfat "ESP"): /EFI/debian/grub.cfg "Debian GNU/Linux"',
        *plan(
            "vmlinuz-6.1.0-18-amd64",
            "initrd.img-6.1.0-18-amd64",
            len(initrd),
            f"root=UUID={ROOT_UUID} ro quiet",
        ),
        "after",
    ]


def test_fedora_bls_with_saved_entry_and_kernelopts(work: Path) -> None:
    initrd = d.initrd_bytes("fedora")
    mid = "8c1f2b0e7d7a4d4f9f2c3b1a0e9d8c7b"
    entries: dict[str, bytes | Path] = {}
    for version in ("6.5.6-300.fc39.x86_64", "6.7.4-200.fc39.x86_64"):
        entries[f"loader/entries/{mid}-{version}.conf"] = (
            f"title Fedora Linux ({version}) 39 (Server Edition)\nversion {version}\n"
            f"linux /vmlinuz-{version}\ninitrd /initramfs-{version}.img\n"
            "options $kernelopts rhgb quiet\ngrub_users $grub_users\ngrub_arg --unrestricted\n"
            "grub_class fedora\n"
        ).encode()
        entries[f"vmlinuz-{version}"] = d.kernel_path()
        entries[f"initramfs-{version}.img"] = initrd
    grubenv = (
        f"# GRUB Environment Block\nsaved_entry={mid}-6.5.6-300.fc39.x86_64\n"
        f"kernelopts=root=UUID={ROOT_UUID} ro rootflags=subvol=root\n"
    ).ljust(1024, "#")
    cfg = (DATA / "fedora-grub.cfg").read_text().replace("@BOOT@", BOOT_UUID)
    boot = d.ext4(work, "fed-boot", {
        "grub2/grub.cfg": cfg.encode(), "grub2/grubenv": grubenv.encode(), **entries,
    }, uuid=BOOT_UUID, size_mib=64)  # fmt: skip
    rootfs = d.ext4(
        work, "fed-root", {"etc/fedora-release": b"Fedora release 39\n"}, uuid=ROOT_UUID
    )
    disk = d.gpt_disk(work / "fedora.img", [("8300", boot, "boot"), ("8300", rootfs, "root")])
    proc = sanboot(disk)
    assert proc.returncode == 0, proc.stderr
    version = "6.5.6-300.fc39.x86_64"  # saved_entry, not the newest
    assert proc.stdout.splitlines() == [
        "Booting from SAN device 0x80",
        "SAN 0x80 partition 1 (ext4): /grub2/grub.cfg"
        f' "Fedora Linux ({version}) 39 (Server Edition)"',
        *plan(
            f"vmlinuz-{version}",
            f"initramfs-{version}.img",
            len(initrd),
            f"root=UUID={ROOT_UUID} ro rootflags=subvol=root rhgb quiet",
        ),
    ]


def test_ubuntu_mbr_saved_entry_in_a_submenu(work: Path) -> None:
    initrd = d.initrd_bytes("ubuntu")
    cfg = (DATA / "ubuntu-grub.cfg").read_text().replace("@ROOT@", ROOT_UUID)
    saved = f"gnulinux-advanced-{ROOT_UUID}>gnulinux-5.15.0-88-generic-advanced-{ROOT_UUID}"
    root = d.ext4(work, "ubu-root", {
        "boot/grub/grub.cfg": cfg.encode(),
        "boot/grub/grubenv": grubenv(f"saved_entry={saved}\n"),
        "boot/vmlinuz-5.15.0-91-generic": d.kernel_path(),
        "boot/initrd.img-5.15.0-91-generic": initrd,
        "boot/vmlinuz-5.15.0-88-generic": d.kernel_path(),
        "boot/initrd.img-5.15.0-88-generic": initrd,
    }, uuid=ROOT_UUID)  # fmt: skip
    disk = d.mbr_disk(work / "ubuntu.img", [("83", root)])
    proc = sanboot(disk)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "Booting from SAN device 0x80",
        'SAN 0x80 partition 1 (ext4): /boot/grub/grub.cfg "Ubuntu, with Linux 5.15.0-88-generic"'
        " (Advanced options for Ubuntu)",
        *plan(
            "vmlinuz-5.15.0-88-generic",
            "initrd.img-5.15.0-88-generic",
            len(initrd),
            f"root=UUID={ROOT_UUID} ro quiet splash vt.handoff=7",
        ),
    ]


def test_extlinux_and_systemd_boot_on_the_second_drive(work: Path) -> None:
    initrd = d.initrd_bytes("extlinux")
    conf = (
        "# extlinux.conf written by u-boot-menu\ndefault l1\nmenu title U-Boot menu\n"
        "prompt 0\ntimeout 50\n\nlabel l0\n\tmenu label Debian 6.1.0-17\n"
        "\tlinux /boot/vmlinuz-6.1.0-17\n\tinitrd /boot/initrd.img-6.1.0-17\n"
        "\tappend root=/dev/vda1 ro quiet\n\nlabel l1\n\tmenu label Debian 6.1.0-18\n"
        "\tlinux /boot/vmlinuz-6.1.0-18\n\tinitrd /boot/initrd.img-6.1.0-18\n"
        "\tappend root=/dev/vda1 ro console=ttyS0\n"
    )
    root = d.ext4(work, "ext-root", {
        "boot/extlinux/extlinux.conf": conf.encode(),
        "boot/vmlinuz-6.1.0-18": d.kernel_path(), "boot/initrd.img-6.1.0-18": initrd,
    })  # fmt: skip
    disk1 = d.mbr_disk(work / "extlinux.img", [("83", root)])
    esp = d.fat(work, "sdboot-esp", {
        "loader/loader.conf": b"timeout 3\ndefault arch-lts.conf\n",
        "loader/entries/arch.conf": b"title Arch Linux\nlinux /vmlinuz-linux\n"
        b"initrd /initramfs-linux.img\noptions root=LABEL=arch rw\n",
        "loader/entries/arch-lts.conf": b"title Arch Linux LTS\nlinux /vmlinuz-linux-lts\n"
        b"initrd /initramfs-linux-lts.img\noptions root=LABEL=arch rw quiet\n",
        "vmlinuz-linux-lts": d.kernel_path(), "initramfs-linux-lts.img": initrd,
    })  # fmt: skip
    disk2 = d.gpt_disk(work / "sdboot.img", [("ef00", esp, "EFI")])
    proc = sanboot(disk2, disk1, lines=("sanboot --drive 0x81", "sanboot --drive 0x80"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "Booting from SAN device 0x81",
        'SAN 0x81 partition 1 (ext4): /boot/extlinux/extlinux.conf "Debian 6.1.0-18"',
        *plan(
            "vmlinuz-6.1.0-18",
            "initrd.img-6.1.0-18",
            len(initrd),
            "root=/dev/vda1 ro console=ttyS0",
        ),
        "Booting from SAN device 0x80",
        'SAN 0x80 partition 1 (vfat "ESP"): /loader/entries "Arch Linux LTS"',
        *plan(
            "vmlinuz-linux-lts", "initramfs-linux-lts.img", len(initrd), "root=LABEL=arch rw quiet"
        ),
    ]


def test_no_os_corrupt_fs_and_no_drive(work: Path) -> None:
    empty = d.ext4(work, "empty", {"home/user/notes.txt": b"hello\n"})
    no_os = d.gpt_disk(work / "no-os.img", [("8300", empty, "data")])
    broken = d.ext4(work, "broken", {"boot/grub/grub.cfg": b"menuentry x { linux /vmlinuz }\n"})
    with broken.open("r+b") as f:  # keep the superblock, wreck the group descriptors (1K
        f.seek(2048)  # blocks on a small ext4: they start at block 2) and what follows
        f.write(b"\xff" * 64 * 1024)
    corrupt = d.mbr_disk(work / "corrupt.img", [("83", broken)])
    proc = sanboot(no_os, corrupt, lines=(
        "sanboot || echo errno ${errno}",
        "sanboot --drive 0x81 || echo errno ${errno}",
        "sanboot --drive 0x85 || echo errno ${errno}",
    ))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "Booting from SAN device 0x80",
        "Boot from SAN device 0x80 failed: No such file or directory (https://ipxe.org/2d222002)",
        "errno 0x2d222002",
        "Booting from SAN device 0x81",
        "Boot from SAN device 0x81 failed: Input/output error (https://ipxe.org/1d222005)",
        "errno 0x1d222005",
        "Booting from SAN device 0x85",
        "Boot from SAN device 0x85 failed: No such device (https://ipxe.org/2c222013)",
        "errno 0x2c222013",
    ]
    errors = proc.stderr.splitlines()
    assert "no bootable Linux entry" in errors[0] and "no boot loader configuration" in errors[0]
    assert "cannot mount the ext4 file system" in errors[1]
    assert errors[2] == "bootsh: SAN device 0x85: there is no such drive"


def test_isos_with_isolinux_and_with_grub(work: Path) -> None:
    initrd = d.initrd_bytes("iso")
    txt = (
        "default install\nlabel install\n\tmenu label ^Install\n\tkernel /install.amd/vmlinuz\n"
        "\tappend vga=788 initrd=/install.amd/initrd.gz --- quiet\n"
        "label rescue\n\tmenu label ^Rescue mode\n\tkernel /install.amd/vmlinuz\n"
        "\tappend vga=788 initrd=/install.amd/initrd.gz rescue/enable=true --- quiet\n"
    )
    isolinux = d.iso(work, "debian-inst", {
        "isolinux/isolinux.cfg":
            b"path \ninclude menu.cfg\ndefault vesamenu.c32\nprompt 0\ntimeout 0\n",
        "isolinux/menu.cfg": b"menu hshift 4\ninclude txt.cfg\nmenu begin advanced\nmenu end\n",
        "isolinux/txt.cfg": txt.encode(),
        "install.amd/vmlinuz": d.kernel_path(), "install.amd/initrd.gz": initrd,
    }, isolinux=True)  # fmt: skip
    grub = (
        "set default=1\nset timeout=30\n"
        "menuentry 'Start Fedora-Everything 39' --class fedora {\n"
        "\tlinux /images/pxeboot/vmlinuz inst.stage2=hd:LABEL=Fedora-E-dvd-x86_64-39 quiet\n"
        "\tinitrd /images/pxeboot/initrd.img\n}\n"
        "menuentry 'Test this media & start Fedora-Everything 39' --class fedora {\n"
        "\tlinux /images/pxeboot/vmlinuz inst.stage2=hd:LABEL=Fedora-E-dvd-x86_64-39"
        " rd.live.check quiet\n"
        "\tinitrd /images/pxeboot/initrd.img\n}\n"
    )
    grubiso = d.iso(work, "fedora-inst", {
        "EFI/BOOT/grub.cfg": grub.encode(),
        "images/pxeboot/vmlinuz": d.kernel_path(), "images/pxeboot/initrd.img": initrd,
    }, label="Fedora-E-dvd-x86_64-39")  # fmt: skip
    proc = sanboot(isolinux, lines=("sanboot", f"sanboot file://{grubiso}"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "Booting from SAN device 0x80",
        'SAN 0x80 whole disk (iso9660 "BOOTSH"): /isolinux/isolinux.cfg "Install"',
        *plan("vmlinuz", "initrd.gz", len(initrd), "vga=788 --- quiet"),
        f"file://{grubiso}... ok",
        "Registered SAN device 0x80",
        "Booting from SAN device 0x80",
        'SAN 0x80 whole disk (iso9660 "Fedora-E-dvd-x86_64-39"): /EFI/BOOT/grub.cfg'
        ' "Test this media & start Fedora-Everything 39"',
        *plan(
            "vmlinuz",
            "initrd.img",
            len(initrd),
            "inst.stage2=hd:LABEL=Fedora-E-dvd-x86_64-39 rd.live.check quiet",
        ),
        "Unregistered SAN device 0x80",
    ]


def test_a_drive_the_running_system_uses_is_not_read(work: Path) -> None:
    """A disk with a mounted partition (mounted here through a loop device over the image, as a
    running system has its root mounted) is refused, named as the image or as another loop
    device over it: bootsh would otherwise mount a live file system a second time. Once it is
    unmounted, the same disk boots."""
    initrd = d.initrd_bytes("busy")
    cfg = "menuentry 'Busy Linux' {\n\tlinux /vmlinuz root=LABEL=busy\n\tinitrd /initrd.img\n}\n"
    root = d.ext4(work, "busy-root", {
        "boot/grub/grub.cfg": cfg.encode(), "vmlinuz": d.kernel_path(), "initrd.img": initrd,
    }, label="busy")  # fmt: skip
    disk = d.gpt_disk(work / "busy.img", [("8300", root, "root")])
    [(offset, size)] = d.partitions(disk)
    lines = ("sanboot || echo errno ${errno}", "sanboot --drive 0x81 || echo errno ${errno}")
    with d.loop_device(disk) as whole, d.mounted(disk, offset, size) as (part, point):
        proc = sanboot(disk, whole, lines=lines)
    assert proc.returncode == 0, proc.stderr
    busy = "Error 0x0a222010 (https://ipxe.org/0a222010)"  # EBUSY: iPXE has no text for it
    assert proc.stdout.splitlines() == [
        "Booting from SAN device 0x80",
        f"Boot from SAN device 0x80 failed: {busy}",
        "errno 0xa222010",
        "Booting from SAN device 0x81",
        f"Boot from SAN device 0x81 failed: {busy}",
        "errno 0xa222010",
    ]
    why = f"is in use by this system ({part} is mounted on {point}): not reading it"
    assert proc.stderr.splitlines() == [
        f"bootsh: SAN device 0x80 ({disk}) {why}",
        f"bootsh: SAN device 0x81 ({whole}) {why}",
    ]
    proc = sanboot(disk, lines=("sanboot",))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1:] == [
        'SAN 0x80 partition 1 (ext4 "busy"): /boot/grub/grub.cfg "Busy Linux"',
        *plan("vmlinuz", "initrd.img", len(initrd), "root=LABEL=busy"),
    ]


def test_under_never_kexec_only_named_drives_are_read(tmp_path: Path) -> None:
    """Without --disk the drives are the machine's disks in sysfs order (here a sysfs tree of
    the test's own); with BOOTSH_NEVER_KEXEC set (every test here) none of them is opened: a
    script that falls through to ``sanboot`` can never read the disks of the machine the tests
    run on."""
    for name in ("sda", "loop0", "nvme0n1", "sr0", "dm-0", "vda"):
        (tmp_path / "block" / name).mkdir(parents=True)
    proc = sanboot(
        lines=("sanboot --no-describe || echo errno ${errno}", "sanboot --drive 0x82"),
        options=("--sysfs-root", str(tmp_path)),
    )
    assert proc.stdout.splitlines() == [
        "Booting from SAN device 0x80",
        "Boot from SAN device 0x80 failed: Operation not permitted (https://ipxe.org/41222001)",
        "errno 0x41222001",
        "Booting from SAN device 0x82",
        "Boot from SAN device 0x82 failed: Operation not permitted (https://ipxe.org/41222001)",
    ]
    assert proc.stderr.splitlines() == [
        *(
            f"bootsh: SAN device {number} (/dev/{name}): BOOTSH_NEVER_KEXEC is set: only drives"
            " named with --disk are read"
            for number, name in (("0x80", "nvme0n1"), ("0x82", "vda"))  # nvme, sd, vd order
        ),
        "bootsh: -c:2: failed: sanboot --drive 0x82",
    ]


def test_filename_label_and_uuid_choose_the_configuration(work: Path) -> None:
    """``--filename`` names the configuration to read (GRUB, BLS entry, extlinux) or, as iPXE
    users write it, the EFI boot loader (its grub.cfg beside it is read, following Fedora's
    ESP stub to the boot partition); ``--label``/``--uuid`` limit the search to that file
    system; each mistake is one line and ENOENT."""
    initrd = d.initrd_bytes("choose")
    boot_uuid = "9d4a3c2b-1e0f-4a5b-8c7d-6e5f4a3b2c1d"
    stub = (
        f"search --no-floppy --root-dev-only --fs-uuid --set=dev {boot_uuid}\n"
        "set boot=${dev}\nset prefix=($dev)/grub2\nexport $prefix\nconfigfile $prefix/grub.cfg\n"
    )
    esp = d.fat(work, "choose-esp", {
        "EFI/fedora/shimx64.efi": b"MZ shim", "EFI/fedora/grub.cfg": stub.encode(),
        "EFI/BOOT/BOOTX64.EFI": b"MZ fallback",
    })  # fmt: skip
    grub = (
        f"set default=0\nsearch --no-floppy --fs-uuid --set=root {boot_uuid}\n"
        "menuentry 'Fedora A' {\n\tlinux /vmlinuz-a root=LABEL=a\n\tinitrd /initramfs.img\n}\n"
        "menuentry 'Fedora B' {\n\tlinux /vmlinuz-b root=LABEL=b\n\tinitrd /initramfs.img\n}\n"
    )
    bls = "title Fedora BLS\nlinux /vmlinuz-b\ninitrd /initramfs.img\noptions root=LABEL=bls\n"
    boot = d.ext4(work, "choose-boot", {
        "grub2/grub.cfg": grub.encode(), "loader/entries/fedora-bls.conf": bls.encode(),
        "vmlinuz-a": d.kernel_path(), "vmlinuz-b": d.kernel_path(), "initramfs.img": initrd,
    }, label="fedboot", uuid=boot_uuid)  # fmt: skip
    rescue = d.ext4(work, "choose-rescue", {
        "boot/extlinux/extlinux.conf":
            b"default r\nlabel r\n\tmenu label Rescue\n\tlinux /vmlinuz-rescue\n"
            b"\tinitrd /initrd-rescue.img\n\tappend root=LABEL=rescue single\n",
        "vmlinuz-rescue": d.kernel_path(), "initrd-rescue.img": initrd,
    }, label="rescue")  # fmt: skip
    disk = d.gpt_disk(work / "choose.img", [
        ("ef00", esp, "EFI System"), ("8300", boot, "boot"), ("8300", rescue, "rescue"),
    ])  # fmt: skip
    proc = sanboot(disk, lines=(
        "sanboot",
        "sanboot --filename \\EFI\\fedora\\shimx64.efi",  # iPXE scripts keep backslashes
        "sanboot --filename /grub2/grub.cfg",
        "sanboot --filename /loader/entries/fedora-bls.conf",
        "sanboot --label rescue",
        f"sanboot --uuid {boot_uuid.upper()}",
        "sanboot --filename /EFI/BOOT/BOOTX64.EFI || echo errno ${errno}",
        "sanboot --label nosuch || echo errno ${errno}",
        "sanboot --filename /nonexistent.cfg || echo errno ${errno}",
        "sanboot --label rescue --filename /grub2/grub.cfg || echo errno ${errno}",
        "imgtrust",
        "sanboot || echo errno ${errno}",
    ))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    fedora_a = plan("vmlinuz-a", "initramfs.img", len(initrd), "root=LABEL=a")
    failed = [
        "Boot from SAN device 0x80 failed: No such file or directory (https://ipxe.org/2d222002)",
        "errno 0x2d222002",
    ]
    assert proc.stdout.splitlines() == [
        "Booting from SAN device 0x80",
        'SAN 0x80 partition 1 (vfat "ESP"): /EFI/fedora/grub.cfg "Fedora A"',
        *fedora_a,
        "Booting \\EFI\\fedora\\shimx64.efi from SAN device 0x80",
        'SAN 0x80 partition 1 (vfat "ESP"): /EFI/fedora/grub.cfg "Fedora A"',
        *fedora_a,
        "Booting /grub2/grub.cfg from SAN device 0x80",
        'SAN 0x80 partition 2 (ext4 "fedboot"): /grub2/grub.cfg "Fedora A"',
        *fedora_a,
        "Booting /loader/entries/fedora-bls.conf from SAN device 0x80",
        'SAN 0x80 partition 2 (ext4 "fedboot"): /loader/entries "Fedora BLS"',
        *plan("vmlinuz-b", "initramfs.img", len(initrd), "root=LABEL=bls"),
        "Booting from SAN device 0x80",
        'SAN 0x80 partition 3 (ext4 "rescue"): /boot/extlinux/extlinux.conf "Rescue"',
        *plan("vmlinuz-rescue", "initrd-rescue.img", len(initrd), "root=LABEL=rescue single"),
        "Booting from SAN device 0x80",
        'SAN 0x80 partition 2 (ext4 "fedboot"): /grub2/grub.cfg "Fedora A"',
        *fedora_a,
        "Booting /EFI/BOOT/BOOTX64.EFI from SAN device 0x80",
        *failed,
        "Booting from SAN device 0x80",
        *failed,
        "Booting /nonexistent.cfg from SAN device 0x80",
        *failed,
        "Booting /grub2/grub.cfg from SAN device 0x80",
        *failed,
        # imgtrust: the kernel read from the disk is not verified, so it is not booted.
        "Booting from SAN device 0x80",
        'SAN 0x80 partition 1 (vfat "ESP"): /EFI/fedora/grub.cfg "Fedora A"',
        "Boot from SAN device 0x80 failed: Permission denied (https://ipxe.org/0200810d)",
        "errno 0x200810d",
    ]
    where = f"bootsh: SAN device 0x80 ({disk})"
    assert proc.stderr.splitlines() == [
        f'{where}: no bootable Linux entry: partition 1 (vfat "ESP") /EFI/BOOT/BOOTX64.EFI: an'
        " EFI program cannot be booted with kexec, and no grub.cfg is beside it nor BLS entries"
        " on its file system",
        f"{where}: no file system with label 'nosuch'",
        f"{where}: no bootable Linux entry: no file system has /nonexistent.cfg",
        f"{where}: no bootable Linux entry: no file system has /grub2/grub.cfg",
        "bootsh: cannot run vmlinuz-a: it is not trusted, and imgtrust requires trusted images"
        " (verify it with imgverify first)",
    ]


def test_lvm_raid_and_luks_are_refused_with_the_reason(work: Path) -> None:
    """Volumes bootsh does not open (it says which, and why): a LUKS header, an LVM physical
    volume partition, an md RAID member partition, all on one GPT disk."""
    luks = work / "luks.raw"
    luks.write_bytes(b"LUKS\xba\xbe\x00\x02".ljust(1 << 20, b"\0"))
    lvm = work / "lvm.raw"
    lvm.write_bytes((b"\0" * 512 + b"LABELONE").ljust(1 << 20, b"\0"))
    raid = work / "raid.raw"
    raid.write_bytes(b"\0" * (1 << 20))
    disk = d.gpt_disk(work / "refused.img", [
        ("8309", luks, "crypt"), ("8e00", lvm, "pv"), ("fd00", raid, "md"),
    ])  # fmt: skip
    proc = sanboot(disk, lines=("sanboot || echo errno ${errno}",))
    assert proc.stdout.splitlines()[-1] == "errno 0x2d222002"
    assert proc.stderr.splitlines() == [
        f"bootsh: SAN device 0x80 ({disk}): no bootable Linux entry:"
        " partition 1 (luks): LUKS encrypted volume (not supported);"
        " partition 2 (unknown): LVM physical volume (LVM is not supported);"
        " partition 3 (unknown): RAID member (md RAID is not supported)"
    ]
