"""Fixtures of the VM boot tests: the initramfs built once per session with ``bootsh
initramfs`` (as a user runs it), and the boot server's directory."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import vm

#: The guest's NIC drivers (Debian's cloud kernel has virtio-net and vmxnet3, no e1000).
MODULES = ("virtio_net", "virtio_pci", "vmxnet3")


def build_initramfs(output: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``bootsh initramfs`` with the guest's modules from the kernel's .deb."""
    argv = [sys.executable, "-m", "bootsh", "initramfs", "-o", str(output),
            "--kernel-deb", str(vm.KERNEL_DEB)]  # fmt: skip
    for module in MODULES:
        argv += ["-m", module]
    return subprocess.run([*argv, *extra], capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="session")
def vm_parts() -> None:
    reason = vm.missing()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def image(vm_parts: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The initramfs every VM test boots (autoboot, no embedded script)."""
    output = tmp_path_factory.mktemp("initramfs") / "bootsh.cpio.zst"
    proc = build_initramfs(output)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and output.stat().st_size > 0
    return output


@pytest.fixture(scope="session")
def served(vm_parts: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The boot server's files: the kernel, the second stage, and boot scripts."""
    directory = tmp_path_factory.mktemp("served")
    (directory / "vmlinuz").write_bytes(vm.KERNEL.read_bytes())
    # The second stage also shows a file an initrd line put into its initramfs (cpio wrapping
    # of `initrd URI /etc/bootsh-hello mode=600`), when there is one.
    vm.second_stage(
        directory / "second.cpio.gz",
        '[ -f /etc/bootsh-hello ] && echo "hello file: $(/bin/busybox cat /etc/bootsh-hello)'
        ' mode $(/bin/busybox stat -c %a /etc/bootsh-hello)"\n',
    )
    (directory / "hello.txt").write_text("hello from bootsh")
    # A kernel cut short (a broken download): its header still says bzImage, so bootsh hands
    # it to kexec_file_load, which refuses it (setup sectors missing).
    (directory / "vmlinuz-cut").write_bytes(vm.KERNEL.read_bytes()[:4096])
    return directory


@pytest.fixture(scope="session")
def http(served: Path) -> Iterator[vm.HttpServer]:
    with vm.HttpServer(served) as server:
        yield server
