"""Networking on an open netdev: the raw socket and its counters, link state, interface
management (open, wait, configure), DHCP, the kernel configuration through rtnetlink, and the
services over the kernel's IP stack (DNS, ping, NTP, egress routing).

Imports the base, ``lang`` (the lease is a settings block) and ``nics``; never the console.
"""
