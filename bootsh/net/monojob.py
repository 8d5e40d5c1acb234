"""The error numbers of iPXE's foreground job wait (``core/monojob.c``), for every command
that waits on the network: Ctrl-C cancels the job, a ``-t`` timeout ends it.

One place for them, so that ``dhcp``, ``ping``, ``nslookup`` and ``ntp`` say the same number
for the same event, as iPXE does (they all end in ``monojob_wait``).
"""

from __future__ import annotations

from bootsh.ipxe_errors import error_number

ERRFILE_MONOJOB = 0x00072000  # core/monojob.c, already shifted into place
#: Ctrl-C while a foreground job runs: "Operation canceled".
ECANCELED_MONOJOB = error_number("ECANCELED", ERRFILE_MONOJOB)
#: ``-t`` ran out before the job finished: "Connection timed out".
ETIMEDOUT_MONOJOB = error_number("ETIMEDOUT", ERRFILE_MONOJOB)
