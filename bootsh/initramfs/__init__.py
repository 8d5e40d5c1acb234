"""bootsh as a machine's first user space: the initramfs builder and the ``/init`` it installs.

``bootsh initramfs`` (:mod:`bootsh.initramfs.builder`) writes a bootable, reproducible newc
cpio archive (zstd, gzip or uncompressed) holding the running Python interpreter with its shared
libraries and the part of the standard library bootsh can use, bootsh with its dependencies and
every installed bootsh plugin (third-party ones included), kernel modules chosen by name with
their dependencies, and :mod:`bootsh.initramfs.init` as ``/init``: PID 1, which mounts the
kernel's file systems, loads the NIC drivers the machine's devices ask for, reaps children and
runs bootsh on the console (the embedded script, else ``autoboot``, then the interactive shell;
it never exits).

Layers: this package may import ``bootsh.lang``, ``bootsh.nics``, ``bootsh.net`` and
``bootsh.boot`` (and ``bootsh.errors``, ``ipxe_errors``, ``context``); it never imports the host
modules (cli, shell, plugins) nor a plugin. ``/init`` starts bootsh as a program
(``python3 -m bootsh``), not through its modules: PID 1 stays small and cannot be taken down
by the shell it supervises.
"""
