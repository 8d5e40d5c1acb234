"""The iPXE language with no machine under it: the script parser and ``${...}`` expansion, the
settings store and setting types, the command records and their option parser, iPXE's syntax
table and the ``--check`` linter.

Imports only the base (``bootsh.errors``, ``bootsh.ipxe_errors``, ``bootsh.context``): nothing
here touches a NIC, the network or a terminal, so all of it can be tested as pure logic.
"""
