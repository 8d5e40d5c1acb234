"""The differential corpus: every case under cases/ run by the real iPXE (Debian trixie's
ipxe.lkrn under QEMU) and by bootsh against the same lab servers, compared after
normalisation and the documented deliberate differences (README.md beside this file).

All cases run once, two at a time, in a session fixture; each case is then one test, so a
failure names its case and shows the difference as a diff.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.differential.harness import (
    Case,
    HarnessError,
    Result,
    all_cases,
    reference,
    run_cases,
)

CASES = all_cases()


@pytest.fixture(scope="session")
def results(request: pytest.FixtureRequest) -> Iterator[dict[str, Result]]:
    try:
        reference()
    except HarnessError as exc:
        if os.environ.get("CI") or os.environ.get("BOOTSH_NO_SKIP") == "1":
            pytest.fail(f"the differential reference is missing in CI: {exc}")
        pytest.skip(str(exc))
    from bootsh.lab import LabUnavailable

    # Only the cases this session runs (``pytest -k 'flow/echo'`` runs those, not all).
    selected = {
        case.name
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.originalname == "test_same_as_ipxe"
        for case in [item.callspec.params["case"]]
        if isinstance(case, Case)
    }
    cases = [c for c in CASES if c.name in selected]
    t0 = time.monotonic()
    try:
        done = {r.case.name: r for r in run_cases(cases)}
    except LabUnavailable as exc:
        pytest.skip(f"the lab cannot run here: {exc}")
    elapsed = time.monotonic() - t0
    print(f"\ndifferential: {len(done)} cases in {elapsed:.0f} s")
    yield done


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_as_ipxe(case: Case, results: dict[str, Result]) -> None:
    result = results[case.name]
    assert result.same, result.diff()
