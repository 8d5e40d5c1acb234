"""Code signing commands: ``imgverify`` and ``imgtrust`` (iPXE's
``hci/commands/image_trust_cmd.c``) and ``certstat``, ``certstore``, ``certfree``
(``hci/commands/cert_cmd.c``).

- ``imgverify [-s|--signer NAME] [-k|--keep] [-t|--timeout MS] [-q|--quiet] IMAGE SIGNATURE``
  acquires both (a registered name, else a download), checks the detached CMS signature
  (``bootsh.trust``) and marks the image trusted; it prints iPXE's one line on failure
  (``Could not verify: Permission denied (https://ipxe.org/...)``, the number telling the
  reasons apart) and bootsh's explanation on stderr. The signature image is freed afterwards,
  failed or not, unless ``--keep``.
- ``imgtrust [-a|--allow] [-p|--permanent]``: from now on only trusted images run (``--allow``:
  any image runs again); ``--permanent`` fixes the choice for good (``Could not set image
  trust requirement: Permission denied``).
- ``certstat [-s NAME]`` lists the certificate store (``NAME : SHA1 [EXPLICIT] [VALIDATED]``),
  ``certstore [-s NAME] [-k] [IMAGE]`` adds an image's certificates (or marks stored ones as
  added on purpose), ``certfree [-s NAME]`` removes them; with ``--subject`` and nothing
  matching: ``"NAME" : no such certificate``.

Verification uses the shell's clock, which ``ntp`` adjusts, as iPXE's ``time()`` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from bootsh.api import (
    Command,
    Handler,
    Invocation,
    Shell,
    store_of,
    strerror,
)
from bootsh_ipxe_cmds.image_cmds import acquire, image_names
from bootsh_ipxe_cmds.ip_cmds import clock_offset
from bootsh_ipxe_cmds.records import command_from_syntax

if TYPE_CHECKING:
    from datetime import datetime

    from bootsh.api import Cert, Image

# The trust services (and, through them, the crypto libraries) load when a trust command
# runs, not with the plugin: a shell that verifies nothing pays nothing for them.


def shell_time(shell: Shell) -> datetime:
    """The shell's clock: the host's, moved by what ``ntp`` found."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(time.time() + clock_offset(shell), UTC)


# -- imgverify, imgtrust ------------------------------------------------------------------------


def imgverify(inv: Invocation) -> int:
    """iPXE's ``imgverify_exec``."""
    from bootsh.api import verify_image

    shell = inv.shell
    image = acquire(shell, inv.args[0], inv)
    if isinstance(image, int):
        return image
    signature = acquire(shell, inv.args[1], inv)
    if isinstance(signature, int):
        return signature
    verdict = verify_image(
        shell, image, signature, signer=inv.value("signer"), now=shell_time(shell)
    )
    if verdict.errno:
        shell.print(f"Could not verify: {strerror(verdict.errno)}")
        shell.diagnose(f"imgverify {image.name} {signature.name}: {verdict.why}")
    elif shell.context.config.verbose:
        signers = ", ".join(f'"{name}"' for name in verdict.signers)
        shell.diagnose(f"imgverify {image.name}: signature OK, signed by {signers}")
    if not inv.flag("keep"):
        store_of(shell).free(signature)
    return verdict.errno


def imgtrust(inv: Invocation) -> int:
    """iPXE's ``imgtrust_exec``: ``image_set_trust(!allow, permanent)``."""
    shell = inv.shell
    status = store_of(shell).set_trust(not inv.flag("allow"), inv.flag("permanent"))
    if status:
        shell.print(f"Could not set image trust requirement: {strerror(status)}")
        shell.diagnose("imgtrust --permanent was given before: the requirement cannot change")
    return status


# -- certstat, certstore, certfree ------------------------------------------------------------


def _cert_exec(inv: Invocation, payload: Callable[[Shell, Cert], None]) -> int:
    """iPXE's ``cert_exec``: each certificate of the image (or of the store) whose name
    matches ``--subject``, through ``payload``."""
    from bootsh.api import ENOENT_CERT, TrustError, image_certificates, trust_of

    shell = inv.shell
    state = trust_of(shell)
    subject = inv.value("subject")
    image: Image | None = None
    if inv.args:
        got = acquire(shell, inv.args[0], inv)
        if isinstance(got, int):
            return got
        image = got
    count = 0
    status = 0
    certs: Iterable[Cert] = image_certificates(image) if image is not None else state.store
    try:
        for cert in certs:
            if image is not None:
                cert = state.store.add(cert)  # x509_certificate keeps what it parses
            if subject is not None and not cert.matches_name(subject):
                continue
            payload(shell, cert)
            count += 1
    except TrustError as exc:
        shell.print(f"Could not parse certificate: {strerror(exc.errno)}")
        shell.diagnose(f"{inv.name} {image.name if image else ''}: {exc}")
        status = exc.errno
    if not status and subject is not None and count == 0:
        shell.print(f'"{subject}" : no such certificate')
        status = ENOENT_CERT
    if image is not None and not inv.flag("keep"):
        store_of(shell).free(image)
    return status


def certstat(inv: Invocation) -> int:
    from bootsh.api import cert_line

    return _cert_exec(inv, lambda shell, cert: shell.print(cert_line(cert)))


def _mark_explicit(shell: Shell, cert: Cert) -> None:
    cert.explicit = True


def certstore(inv: Invocation) -> int:
    return _cert_exec(inv, _mark_explicit)


def certfree(inv: Invocation) -> int:
    from bootsh.api import trust_of

    return _cert_exec(inv, lambda shell, cert: trust_of(shell).store.remove(cert))


# -- the records --------------------------------------------------------------------------------


def _record(name: str, handler: Handler, summary: str) -> Command:
    return command_from_syntax(name, handler, summary, aliases=True, completer=image_names)


COMMANDS = (
    _record("imgverify", imgverify, "check an image's detached signature and trust it"),
    _record("imgtrust", imgtrust, "require trusted images (or allow any again)"),
    _record("certstat", certstat, "list the certificate store"),
    _record("certstore", certstore, "add certificates to the store"),
    _record("certfree", certfree, "remove certificates from the store"),
)
