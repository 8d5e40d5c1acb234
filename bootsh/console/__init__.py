"""The terminal, kept at the edge: the interactive prompt (prompt_toolkit), completion driven by
the command records, key bindings, and iPXE's full-screen menus.

The only layer that may import the host's shell at run time; only ``bootsh.cli`` imports it.
"""
