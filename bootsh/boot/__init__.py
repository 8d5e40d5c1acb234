"""From a URI to a running kernel: URI resolution, downloads through the registered schemes,
the per-shell image store with its image types, and kexec.

Imports the base, ``lang``, ``nics`` and ``net`` (downloads go out through the netdevs).
"""
