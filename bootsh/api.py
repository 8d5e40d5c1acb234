"""The plugin API: everything a bootsh plugin may import, and nothing else.

Plugins (the built-in ones under ``plugins/`` and third-party ones alike) import bootsh only
through this module and the package top level (``from bootsh import hookimpl,
__version__``); a test checks it. Everything here keeps its name and meaning across
releases; everything else in ``bootsh`` is internal and may move, as it did when the flat
``bootsh/`` became packages (the old module paths still import, with a warning: see
``bootsh/_moved.py``).

The names are loaded lazily: ``import bootsh.api`` costs nothing, and ``from bootsh.api import
Pinger`` imports only the module that defines ``Pinger``, so a plugin that imports the network
services inside its command handlers keeps them off bootsh's start-up (as the built-in
``ipxe_cmds`` does).

A few names differ from the internal ones where those are too generic to stand alone in one
namespace (``route_to`` is ``bootsh.net.egress.route``, ``NtpQuery`` is
``bootsh.net.ntp.Query``...). ``docs/plugins.md`` shows each kind of plugin, with examples
that a test runs.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not typing's: bootsh's start-up does not import typing

__all__ = [  # noqa: RUF022 (grouped by concern, not sorted)
    # Hooks and the host.
    # What every plugin touches: the hook marker, the shell its commands run in, the context its
    # probe, evidence and decision hooks are given, and the error classes.
    "hookimpl",
    "Shell",
    "STOP_COMMAND",
    "STOP_SEQUENCE",
    "Context",
    "Config",
    "MachineFacts",
    "XenPlatform",
    "BootshError",
    "UsageError",
    "XenStoreError",
    "UnplugRefused",
    # Records.
    # bootsh's records are ``bootsh.records`` classes (``dataclasses``' API without its start-up
    # cost); a plugin's own records on bootsh's start-up path can be too.
    "dataclass",
    "field",
    "replace",
    # iPXE error numbers.
    # iPXE's 32-bit error numbers (``errno``) and their texts; a command returns one as its
    # status, and ``${errno}`` shows it.
    "error_number",
    "ipxe_errno",
    "strerror",
    "ERRFILE_PARSEOPT",
    "ECANCELED_SLEEP",
    "EINVAL_CONTINUATION",
    "ENOENT_ISSET",
    "ENOENT_LABEL",
    "ENOTTY_GOTO",
    "ERANGE_ISEQ",
    # Commands and the language.
    # One record per command feeds dispatch, ``help``, ``--check`` and completion.
    "Command",
    "CommandGroup",
    "Option",
    "Invocation",
    "Handler",
    "Completer",
    "ParseError",
    "parse_integer",
    "SYNTAX",
    "ArgReq",
    "parse_script",
    "has_magic",
    "MAX_SCRIPT_SIZE",
    "read_bounded",
    "read_text_bounded",
    "ATTR_SIZE",
    "PROC_TABLE_SIZE",
    "visible",
    "NamedSetting",
    "SettingsError",
    "driver_setting",
    # NICs and twins.
    # A driver reports ``Nic`` records; evidence and decisions about twins are records too.
    "Nic",
    "normalise_mac",
    # ``--net DRIVER,key=value,...``: a driver plugin declares the names it handles.
    "NetDriver",
    "NetSpec",
    "parse_net_spec",
    "kernel_interfaces",
    "Evidence",
    "TwinGroup",
    "TwinPolicy",
    "Decision",
    "Mark",
    "possible_labels",
    "Netdev",
    "Resolution",
    # Network.
    # Open netdevs, their configuration (DHCP), and the kernel-stack services bound to them.
    "Counters",
    "read_link",
    "open_netdev",
    "close_netdev",
    "find_netdev",
    "ENODEV_NETDEV",
    "discover_boot_server",
    "create_vlan",
    "delete_link",
    "NetlinkError",
    "ifcommon",
    "link_wait",
    "configure_netdev",
    "apply_static",
    "route_applicator",
    "CONFIGURATORS",
    "ENOTSUP_CONFIGURATOR",
    "ipv4_route",
    "ipv6_routes",
    "ipv6_route_line",
    "ECANCELED_MONOJOB",
    "DnsError",
    "ENXIO_NO_RECORD",
    "describe_dns_error",
    "BoundSockets",
    "UdpTransport",
    "count_send",
    "open_netdevs",
    "route_to",
    "resolve_host",
    "Pinger",
    "icmp_socket",
    "parse_echo_reply",
    "EINVAL_PING",
    "EPERM_PING",
    "NtpError",
    "NtpQuery",
    "NTP_PORT",
    # Downloads, images and boot.
    # URI schemes fetch into the image store; image types probe and execute what was fetched.
    "UriScheme",
    "FetchRequest",
    "FetchError",
    "fetch",
    "check_server",
    "ECANCELED_FETCH",
    "ETIMEDOUT_FETCH",
    "EPERM_LOCAL",
    "ERRFILE_HTTPCORE",
    "ERRFILE_OPEN",
    "ERRFILE_TCP",
    "ERRFILE_TFTP",
    "ERRFILE_TLS",
    "ERRFILE_X509",
    "parse_uri",
    "redact",
    "Parameter",
    "Parameters",
    "claim_params",
    "create_params",
    "find_params",
    "delete_params",
    "Image",
    "ImageFlag",
    "ImageType",
    "store_of",
    "close_store",
    "registered_names",
    "network_requester",
    "ENOENT_IMAGE",
    "ENOEXEC_IMAGE",
    "EACCES_UNTRUSTED_IMAGE",
    "EACCES_PERMANENT",
    "ERRFILE_BZIMAGE",
    "BootPlan",
    "PlanFile",
    "KexecError",
    "PinMismatch",
    "check_pins",
    "kexec_boot",
    # Trust.
    # Signatures (imgverify), the certificate store and the trusted roots fixed at start-up.
    "trust_of",
    "verify_image",
    "image_certificates",
    "cert_line",
    "Cert",
    "Verdict",
    "TrustError",
    "ENOENT_CERT",
    "der_probe",
    "pem_probe",
    "PowerError",
    "power_act",
    "describe_power",
    # Disks and SAN drives.
    # sanhook/sanboot/sanunhook: iPXE's uriboot over local disks, images and iSCSI LUNs.
    "san_uriboot",
    "san_default_drive",
    "san_unhook_all",
    "URIBOOT_NO_SAN_DESCRIBE",
    "URIBOOT_NO_SAN_BOOT",
    "URIBOOT_NO_SAN_UNHOOK",
    # Console.
    # The interactive prompt and iPXE's menus, for commands that talk to the user.
    "interact",
    "Menu",
    "MenuItem",
    "MenuState",
    "Cancelled",
    "NoChoice",
    "menus_of",
    "run_menu",
    "ConfigState",
    "run_config",
    "FormState",
    "FormCancelled",
    "NoInputs",
    "run_form",
]

#: Public name -> (defining module, its name there).
_EXPORTS: dict[str, tuple[str, str]] = {
    # Hooks and the host
    "hookimpl": ("bootsh.hookspecs", "hookimpl"),
    "Shell": ("bootsh.shell", "Shell"),
    "STOP_COMMAND": ("bootsh.shell", "STOP_COMMAND"),
    "STOP_SEQUENCE": ("bootsh.shell", "STOP_SEQUENCE"),
    "Context": ("bootsh.context", "Context"),
    "Config": ("bootsh.context", "Config"),
    "MachineFacts": ("bootsh.context", "MachineFacts"),
    "XenPlatform": ("bootsh.context", "XenPlatform"),
    "BootshError": ("bootsh.errors", "BootshError"),
    "UsageError": ("bootsh.errors", "UsageError"),
    "XenStoreError": ("bootsh.errors", "XenStoreError"),
    "UnplugRefused": ("bootsh.errors", "UnplugRefused"),
    # Records
    "dataclass": ("bootsh.records", "dataclass"),
    "field": ("bootsh.records", "field"),
    "replace": ("bootsh.records", "replace"),
    # iPXE error numbers
    "error_number": ("bootsh.ipxe_errors", "error_number"),
    "ipxe_errno": ("bootsh.ipxe_errors", "ipxe_errno"),
    "strerror": ("bootsh.ipxe_errors", "strerror"),
    "ERRFILE_PARSEOPT": ("bootsh.ipxe_errors", "ERRFILE_PARSEOPT"),
    "ECANCELED_SLEEP": ("bootsh.ipxe_errors", "ECANCELED_SLEEP"),
    "EINVAL_CONTINUATION": ("bootsh.ipxe_errors", "EINVAL_CONTINUATION"),
    "ENOENT_ISSET": ("bootsh.ipxe_errors", "ENOENT_ISSET"),
    "ENOENT_LABEL": ("bootsh.ipxe_errors", "ENOENT_LABEL"),
    "ENOTTY_GOTO": ("bootsh.ipxe_errors", "ENOTTY_GOTO"),
    "ERANGE_ISEQ": ("bootsh.ipxe_errors", "ERANGE_ISEQ"),
    # Commands and the language
    "Command": ("bootsh.lang.commands", "Command"),
    "CommandGroup": ("bootsh.lang.commands", "CommandGroup"),
    "Option": ("bootsh.lang.commands", "Option"),
    "Invocation": ("bootsh.lang.commands", "Invocation"),
    "Handler": ("bootsh.lang.commands", "Handler"),
    "Completer": ("bootsh.lang.commands", "Completer"),
    "ParseError": ("bootsh.lang.commands", "ParseError"),
    "parse_integer": ("bootsh.lang.commands", "parse_integer"),
    "SYNTAX": ("bootsh.lang.ipxe_syntax", "SYNTAX"),
    "ArgReq": ("bootsh.lang.ipxe_syntax", "ArgReq"),
    "parse_script": ("bootsh.lang.script", "parse_script"),
    "has_magic": ("bootsh.lang.script", "has_magic"),
    "MAX_SCRIPT_SIZE": ("bootsh.lang.script", "MAX_SCRIPT_SIZE"),
    "read_bounded": ("bootsh.lang.files", "read_bounded"),
    "read_text_bounded": ("bootsh.lang.files", "read_text_bounded"),
    "ATTR_SIZE": ("bootsh.lang.files", "ATTR_SIZE"),
    "PROC_TABLE_SIZE": ("bootsh.lang.files", "PROC_TABLE_SIZE"),
    "visible": ("bootsh.context", "visible"),
    "NamedSetting": ("bootsh.lang.settings", "NamedSetting"),
    "SettingsError": ("bootsh.lang.settings", "SettingsError"),
    "driver_setting": ("bootsh.lang.settings", "driver_setting"),
    # NICs and twins
    "Nic": ("bootsh.nics.nic", "Nic"),
    "normalise_mac": ("bootsh.nics.nic", "normalise_mac"),
    "NetDriver": ("bootsh.nics.netspec", "NetDriver"),
    "NetSpec": ("bootsh.nics.netspec", "NetSpec"),
    "parse_net_spec": ("bootsh.nics.netspec", "parse_net_spec"),
    "kernel_interfaces": ("bootsh.nics.netspec", "kernel_interfaces"),
    "Evidence": ("bootsh.nics.twins", "Evidence"),
    "TwinGroup": ("bootsh.nics.twins", "TwinGroup"),
    "TwinPolicy": ("bootsh.nics.twins", "TwinPolicy"),
    "Decision": ("bootsh.nics.twins", "Decision"),
    "Mark": ("bootsh.nics.twins", "Mark"),
    "possible_labels": ("bootsh.nics.twins", "possible_labels"),
    "Netdev": ("bootsh.nics.netdevs", "Netdev"),
    "Resolution": ("bootsh.nics.netdevs", "Resolution"),
    # Network
    "Counters": ("bootsh.net.netstate", "Counters"),
    "read_link": ("bootsh.net.linkstate", "read_link"),
    "open_netdev": ("bootsh.net.ifmgmt", "open_netdev"),
    "close_netdev": ("bootsh.net.ifmgmt", "close_netdev"),
    "find_netdev": ("bootsh.net.ifmgmt", "find_netdev"),
    "ENODEV_NETDEV": ("bootsh.net.ifmgmt", "ENODEV_NETDEV"),
    "discover_boot_server": ("bootsh.net.pxebs", "discover"),
    "create_vlan": ("bootsh.net.netlink", "create_vlan"),
    "delete_link": ("bootsh.net.netlink", "delete_link"),
    "NetlinkError": ("bootsh.net.netlink", "NetlinkError"),
    "ifcommon": ("bootsh.net.ifmgmt", "ifcommon"),
    "link_wait": ("bootsh.net.ifmgmt", "link_wait"),
    "configure_netdev": ("bootsh.net.ifmgmt", "configure"),
    "apply_static": ("bootsh.net.ifmgmt", "apply_static"),
    "route_applicator": ("bootsh.net.ifmgmt", "route_applicator"),
    "CONFIGURATORS": ("bootsh.net.dhcp", "CONFIGURATORS"),
    "ENOTSUP_CONFIGURATOR": ("bootsh.net.dhcp", "ENOTSUP_CONFIGURATOR"),
    "ipv4_route": ("bootsh.net.dhcp", "ipv4_route"),
    "ipv6_routes": ("bootsh.net.ipv6", "miniroutes"),
    "ipv6_route_line": ("bootsh.net.ipv6", "route_line"),
    "ECANCELED_MONOJOB": ("bootsh.net.monojob", "ECANCELED_MONOJOB"),
    "DnsError": ("bootsh.net.dns", "DnsError"),
    "ENXIO_NO_RECORD": ("bootsh.net.dns", "ENXIO_NO_RECORD"),
    "describe_dns_error": ("bootsh.net.dns", "describe"),
    "BoundSockets": ("bootsh.net.egress", "BoundSockets"),
    "UdpTransport": ("bootsh.net.egress", "UdpTransport"),
    "count_send": ("bootsh.net.egress", "count_send"),
    "open_netdevs": ("bootsh.net.egress", "open_netdevs"),
    "route_to": ("bootsh.net.egress", "route"),
    "resolve_host": ("bootsh.net.egress", "resolve"),
    "Pinger": ("bootsh.net.ping", "Pinger"),
    "icmp_socket": ("bootsh.net.ping", "icmp_socket"),
    "parse_echo_reply": ("bootsh.net.ping", "parse_reply"),
    "EINVAL_PING": ("bootsh.net.ping", "EINVAL_PING"),
    "EPERM_PING": ("bootsh.net.ping", "EPERM_PING"),
    "NtpError": ("bootsh.net.ntp", "NtpError"),
    "NtpQuery": ("bootsh.net.ntp", "Query"),
    "NTP_PORT": ("bootsh.net.ntp", "PORT"),
    # Downloads, images and boot
    "UriScheme": ("bootsh.boot.fetch", "UriScheme"),
    "FetchRequest": ("bootsh.boot.fetch", "FetchRequest"),
    "FetchError": ("bootsh.boot.fetch", "FetchError"),
    "fetch": ("bootsh.boot.fetch", "fetch"),
    "check_server": ("bootsh.boot.fetch", "check_server"),
    "ECANCELED_FETCH": ("bootsh.boot.fetch", "ECANCELED_FETCH"),
    "ETIMEDOUT_FETCH": ("bootsh.boot.fetch", "ETIMEDOUT_FETCH"),
    "EPERM_LOCAL": ("bootsh.boot.fetch", "EPERM_LOCAL"),
    "ERRFILE_HTTPCORE": ("bootsh.boot.fetch", "ERRFILE_HTTPCORE"),
    "ERRFILE_OPEN": ("bootsh.boot.fetch", "ERRFILE_OPEN"),
    "ERRFILE_TCP": ("bootsh.boot.fetch", "ERRFILE_TCP"),
    "ERRFILE_TFTP": ("bootsh.boot.fetch", "ERRFILE_TFTP"),
    "ERRFILE_TLS": ("bootsh.boot.fetch", "ERRFILE_TLS"),
    "ERRFILE_X509": ("bootsh.boot.fetch", "ERRFILE_X509"),
    "parse_uri": ("bootsh.boot.uri", "parse_uri"),
    "redact": ("bootsh.boot.uri", "redact"),
    "Parameter": ("bootsh.boot.params", "Parameter"),
    "Parameters": ("bootsh.boot.params", "Parameters"),
    "claim_params": ("bootsh.boot.params", "claim"),
    "create_params": ("bootsh.boot.params", "create"),
    "find_params": ("bootsh.boot.params", "find"),
    "delete_params": ("bootsh.boot.params", "delete"),
    "Image": ("bootsh.boot.images", "Image"),
    "ImageFlag": ("bootsh.boot.images", "ImageFlag"),
    "ImageType": ("bootsh.boot.images", "ImageType"),
    "store_of": ("bootsh.boot.images", "store_of"),
    "close_store": ("bootsh.boot.images", "close_store"),
    "registered_names": ("bootsh.boot.images", "registered_names"),
    "network_requester": ("bootsh.boot.images", "network_requester"),
    "ENOENT_IMAGE": ("bootsh.boot.images", "ENOENT_IMAGE"),
    "ENOEXEC_IMAGE": ("bootsh.boot.images", "ENOEXEC_IMAGE"),
    "EACCES_UNTRUSTED_IMAGE": ("bootsh.boot.images", "EACCES_UNTRUSTED_IMAGE"),
    "EACCES_PERMANENT": ("bootsh.boot.images", "EACCES_PERMANENT"),
    "ERRFILE_BZIMAGE": ("bootsh.boot.images", "ERRFILE_BZIMAGE"),
    "BootPlan": ("bootsh.boot.kexec", "BootPlan"),
    "PlanFile": ("bootsh.boot.kexec", "PlanFile"),
    "KexecError": ("bootsh.boot.kexec", "KexecError"),
    "PinMismatch": ("bootsh.boot.kexec", "PinMismatch"),
    "check_pins": ("bootsh.boot.kexec", "check_pins"),
    "kexec_boot": ("bootsh.boot.kexec", "boot"),
    # Trust
    "trust_of": ("bootsh.trust.service", "trust_of"),
    "verify_image": ("bootsh.trust.service", "verify_image"),
    "image_certificates": ("bootsh.trust.service", "image_certificates"),
    "cert_line": ("bootsh.trust.service", "cert_line"),
    "Cert": ("bootsh.trust.certs", "Cert"),
    "Verdict": ("bootsh.trust.verify", "Verdict"),
    "TrustError": ("bootsh.trust.certs", "TrustError"),
    "ENOENT_CERT": ("bootsh.trust.numbers", "ENOENT_CERT"),
    "der_probe": ("bootsh.trust.formats", "der_probe"),
    "pem_probe": ("bootsh.trust.formats", "pem_probe"),
    "PowerError": ("bootsh.boot.power", "PowerError"),
    "power_act": ("bootsh.boot.power", "act"),
    "describe_power": ("bootsh.boot.power", "describe"),
    # Disks and SAN drives
    "san_uriboot": ("bootsh.disks.san", "uriboot"),
    "san_default_drive": ("bootsh.disks.san", "default_drive"),
    "san_unhook_all": ("bootsh.disks.san", "unhook_all"),
    "URIBOOT_NO_SAN_DESCRIBE": ("bootsh.disks.san", "URIBOOT_NO_SAN_DESCRIBE"),
    "URIBOOT_NO_SAN_BOOT": ("bootsh.disks.san", "URIBOOT_NO_SAN_BOOT"),
    "URIBOOT_NO_SAN_UNHOOK": ("bootsh.disks.san", "URIBOOT_NO_SAN_UNHOOK"),
    # Console
    "interact": ("bootsh.console.repl", "interact"),
    "Menu": ("bootsh.console.menu", "Menu"),
    "MenuItem": ("bootsh.console.menu", "MenuItem"),
    "MenuState": ("bootsh.console.menu", "MenuState"),
    "Cancelled": ("bootsh.console.menu", "Cancelled"),
    "NoChoice": ("bootsh.console.menu", "NoChoice"),
    "menus_of": ("bootsh.console.menu", "menus_of"),
    "run_menu": ("bootsh.console.menu", "run_menu"),
    "ConfigState": ("bootsh.console.config_ui", "ConfigState"),
    "run_config": ("bootsh.console.config_ui", "run_config"),
    "FormState": ("bootsh.console.form", "FormState"),
    "FormCancelled": ("bootsh.console.form", "FormCancelled"),
    "NoInputs": ("bootsh.console.form", "NoInputs"),
    "run_form": ("bootsh.console.form", "run_form"),
}


def __getattr__(name: str) -> object:
    """Import the defining module on first use and keep the value (PEP 562)."""
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'bootsh.api' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)


if TYPE_CHECKING:  # the same names, for type checkers (a test checks the three lists agree)
    from bootsh.boot.fetch import (
        ECANCELED_FETCH,
        EPERM_LOCAL,
        ERRFILE_HTTPCORE,
        ERRFILE_OPEN,
        ERRFILE_TCP,
        ERRFILE_TFTP,
        ERRFILE_TLS,
        ERRFILE_X509,
        ETIMEDOUT_FETCH,
        FetchError,
        FetchRequest,
        UriScheme,
        check_server,
        fetch,
    )
    from bootsh.boot.images import (
        EACCES_PERMANENT,
        EACCES_UNTRUSTED_IMAGE,
        ENOENT_IMAGE,
        ENOEXEC_IMAGE,
        ERRFILE_BZIMAGE,
        Image,
        ImageFlag,
        ImageType,
        close_store,
        network_requester,
        registered_names,
        store_of,
    )
    from bootsh.boot.kexec import BootPlan, KexecError, PinMismatch, PlanFile, check_pins
    from bootsh.boot.kexec import boot as kexec_boot
    from bootsh.boot.params import Parameter, Parameters
    from bootsh.boot.params import claim as claim_params
    from bootsh.boot.params import create as create_params
    from bootsh.boot.params import delete as delete_params
    from bootsh.boot.params import find as find_params
    from bootsh.boot.power import PowerError
    from bootsh.boot.power import act as power_act
    from bootsh.boot.power import describe as describe_power
    from bootsh.boot.uri import parse_uri, redact
    from bootsh.console.config_ui import ConfigState, run_config
    from bootsh.console.form import FormCancelled, FormState, NoInputs, run_form
    from bootsh.console.menu import (
        Cancelled,
        Menu,
        MenuItem,
        MenuState,
        NoChoice,
        menus_of,
        run_menu,
    )
    from bootsh.console.repl import interact
    from bootsh.context import Config, Context, MachineFacts, XenPlatform, visible
    from bootsh.disks.san import (
        URIBOOT_NO_SAN_BOOT,
        URIBOOT_NO_SAN_DESCRIBE,
        URIBOOT_NO_SAN_UNHOOK,
    )
    from bootsh.disks.san import default_drive as san_default_drive
    from bootsh.disks.san import unhook_all as san_unhook_all
    from bootsh.disks.san import uriboot as san_uriboot
    from bootsh.errors import BootshError, UnplugRefused, UsageError, XenStoreError
    from bootsh.hookspecs import hookimpl
    from bootsh.ipxe_errors import (
        ECANCELED_SLEEP,
        EINVAL_CONTINUATION,
        ENOENT_ISSET,
        ENOENT_LABEL,
        ENOTTY_GOTO,
        ERANGE_ISEQ,
        ERRFILE_PARSEOPT,
        error_number,
        ipxe_errno,
        strerror,
    )
    from bootsh.lang.commands import (
        Command,
        CommandGroup,
        Completer,
        Handler,
        Invocation,
        Option,
        ParseError,
        parse_integer,
    )
    from bootsh.lang.files import ATTR_SIZE, PROC_TABLE_SIZE, read_bounded, read_text_bounded
    from bootsh.lang.ipxe_syntax import SYNTAX, ArgReq
    from bootsh.lang.script import MAX_SCRIPT_SIZE, has_magic, parse_script
    from bootsh.lang.settings import NamedSetting, SettingsError, driver_setting
    from bootsh.net.dhcp import CONFIGURATORS, ENOTSUP_CONFIGURATOR, ipv4_route
    from bootsh.net.dns import ENXIO_NO_RECORD, DnsError
    from bootsh.net.dns import describe as describe_dns_error
    from bootsh.net.egress import (
        BoundSockets,
        UdpTransport,
        count_send,
        open_netdevs,
    )
    from bootsh.net.egress import (
        resolve as resolve_host,
    )
    from bootsh.net.egress import (
        route as route_to,
    )
    from bootsh.net.ifmgmt import (
        ENODEV_NETDEV,
        apply_static,
        close_netdev,
        find_netdev,
        ifcommon,
        link_wait,
        open_netdev,
        route_applicator,
    )
    from bootsh.net.ifmgmt import (
        configure as configure_netdev,
    )
    from bootsh.net.ipv6 import miniroutes as ipv6_routes
    from bootsh.net.ipv6 import route_line as ipv6_route_line
    from bootsh.net.linkstate import read_link
    from bootsh.net.monojob import ECANCELED_MONOJOB
    from bootsh.net.netlink import NetlinkError, create_vlan, delete_link
    from bootsh.net.netstate import Counters
    from bootsh.net.ntp import PORT as NTP_PORT
    from bootsh.net.ntp import NtpError
    from bootsh.net.ntp import Query as NtpQuery
    from bootsh.net.ping import (
        EINVAL_PING,
        EPERM_PING,
        Pinger,
        icmp_socket,
    )
    from bootsh.net.ping import (
        parse_reply as parse_echo_reply,
    )
    from bootsh.net.pxebs import discover as discover_boot_server
    from bootsh.nics.netdevs import Netdev, Resolution
    from bootsh.nics.netspec import NetDriver, NetSpec, kernel_interfaces, parse_net_spec
    from bootsh.nics.nic import Nic, normalise_mac
    from bootsh.nics.twins import Decision, Evidence, Mark, TwinGroup, TwinPolicy, possible_labels
    from bootsh.records import dataclass, field, replace
    from bootsh.shell import STOP_COMMAND, STOP_SEQUENCE, Shell
    from bootsh.trust.certs import Cert, TrustError
    from bootsh.trust.formats import der_probe, pem_probe
    from bootsh.trust.numbers import ENOENT_CERT
    from bootsh.trust.service import cert_line, image_certificates, trust_of, verify_image
    from bootsh.trust.verify import Verdict
