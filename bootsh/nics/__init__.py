"""The seed's problem in one place: the ``Nic`` record drivers return, twin groups and the
evidence about them, and the resolution that names shown NICs ``net0``, ``net1``... and hides or
labels twins (policies themselves are plugins: ``plugins/policies``, ``plugins/netfront``).

Imports the base and ``lang``; calls the plugin host only through the object it is handed.
"""
