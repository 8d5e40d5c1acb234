"""The lab's two exceptions, imported by every other module of ``bootsh.lab``."""

from __future__ import annotations

from bootsh.errors import BootshError


class LabError(BootshError):
    """The lab could not be set up or torn down; the message says which step and why."""


class LabUnavailable(LabError):
    """A tool or a privilege the lab needs is missing (tests skip on this)."""
