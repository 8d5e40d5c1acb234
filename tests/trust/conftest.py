"""The trust tests' PKI and case files, made once per session (openssl key generation is the
slow part)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.trust.cases import Built, build


@dataclass(frozen=True)
class Cases:
    served: Path
    pki: Path
    built: Built

    def uri(self, name: str) -> str:
        return (self.served / name).as_uri()


@pytest.fixture(scope="session")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Cases:
    base = tmp_path_factory.mktemp("trust")
    served, pki = base / "served", base / "pki"
    return Cases(served, pki, build(served, pki))
