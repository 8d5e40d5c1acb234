"""bootsh: an iPXE-compatible boot shell for Linux user space, built around plugins."""

from bootsh.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]
