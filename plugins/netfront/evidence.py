"""What XenStore says about "is that NIC the emulated twin of this vif?"."""

from __future__ import annotations

from bootsh.api import Context, Evidence, Nic

from .probe import DRIVER

BACKEND_TYPE = "backend-type"
BACKEND_MODEL = "backend-model"
PASSTHROUGH = "passthrough"


def twin_evidence(paravirtual: Nic, other: Nic, context: Context) -> list[Evidence]:
    if paravirtual.driver != DRIVER:
        return []
    found: list[Evidence] = []
    vif = paravirtual.describe()
    kind = paravirtual.facts.get("backend/type")
    if kind == "vif_ioemu":
        found.append(
            Evidence(
                BACKEND_TYPE,
                True,
                f"{vif} has backend type vif_ioemu: the toolstack gave this vif an emulated twin",
            )
        )
    elif kind == "vif":
        found.append(
            Evidence(
                BACKEND_TYPE,
                False,
                f"{vif} has backend type vif: paravirtual only, no emulated twin",
            )
        )
    model = paravirtual.facts.get("backend/model")
    if model and model == other.driver:
        # libxl does not write it, but a toolstack that does names QEMU's model here.
        found.append(
            Evidence(
                BACKEND_MODEL, True, f"{vif}'s backend names model {model}: {other.describe()}"
            )
        )
    host = context.machine.passthrough.get(other.location.lower())
    if host is not None and other.bus == "pci":
        found.append(
            Evidence(
                PASSTHROUGH,
                False,
                f"{other.describe()} is passed through from host device {host}:"
                " real hardware, never an emulated twin",
                decisive=True,
            )
        )
    return found
