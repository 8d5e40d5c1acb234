"""bootsh: an iPXE-compatible boot shell for Linux user space, built around plugins.

The package top level holds what every plugin needs first (``hookimpl``, ``__version__``);
``bootsh.api`` holds the rest of the plugin API. ARCHITECTURE.md maps the packages below.
"""

from bootsh import _moved
from bootsh.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]

_moved.install()  # the 0.1 module paths (bootsh.twins, ...) still import, with a warning
