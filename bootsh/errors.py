"""Errors a user can cause or meet: each carries a message fit to print as it is."""

from __future__ import annotations


class BootshError(Exception):
    """A failure that is reported to the user in one line, never as a traceback."""


class UsageError(BootshError):
    """A command line bootsh itself cannot accept (process exit status 2)."""


class XenStoreError(BootshError):
    """XenStore could not be read: absent, refused, timed out or died mid-request."""


class UnplugRefused(BootshError):
    """The ``unplug`` policy will not touch the hardware here; the message says why."""
