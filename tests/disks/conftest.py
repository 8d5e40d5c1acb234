"""Every test here runs with ``BOOTSH_NEVER_KEXEC`` set: bootsh then never kexecs, reboots or
powers off, and reads only the drives a test names with ``--disk``, never this machine's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def never_kexec(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BOOTSH_NEVER_KEXEC", "1")
    yield
