"""Booting what is on a disk, the Linux way (``sanboot``, ``sanhook``, ``sanunhook``).

iPXE hands a block device to the firmware; from Linux user space the honest equivalent is what
petitboot and u-root's ``localboot`` do: find the operating system on the block device, read
its boot loader's configuration and kexec its kernel. This package holds:

* ``entries``: the boot entry record and the choice of the default one;
* ``grub``, ``bls``, ``syslinux``: the configuration parsers (GRUB 2 ``grub.cfg`` as
  Debian, Ubuntu and Fedora write it, Boot Loader Specification entries,
  syslinux/extlinux/isolinux);
* ``parts``: MBR and GPT partition tables, read by bootsh itself (no kernel partition
  support is needed, and garbage tables are harmless);
* ``filesystems``: reading files from a partition: ext2/3/4, XFS and btrfs mounted read-only
  through a loop device, FAT through mtools, ISO 9660 through pycdlib;
* ``scan``: the local drives, a drive's file systems and the entries found on them
  (``--filename``, ``--label``, ``--uuid`` choose where to look);
* ``inuse``: whether the running system uses a drive (mounted, swap, held): such a drive is
  never read;
* ``iscsi``: iPXE's ``iscsi:`` root paths, the attach (libiscsi in qemu-storage-daemon, with
  a watchdog for a target that goes away) and what the next kernel is told;
* ``san``: the per-shell table of SAN drives and the ``sanboot`` flow.

Imports the base, ``lang``, ``nics``, ``net`` and ``boot`` (a chosen entry boots through the
image store, as ``boot`` does).
"""
