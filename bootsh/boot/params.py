"""Request parameter lists: iPXE's ``core/params.c`` (``params``/``param``) and the ``##params``
suffix of a URI that sends them (``core/uri.c``, ``net/tcp/httpcore.c``).

- ``params [--name N] [--method M] [--delete]`` creates a list (the unnamed default one without
  ``--name``), replacing one of that name; ``--delete`` removes it.
- ``param [--params N] [--header] KEY [VALUE...]`` adds a form field (or, ``--header``, a
  request header) to a list: ``No default parameter list`` / ``"N": no such parameter list``
  (ENOENT of parseopt.c) when there is none.
- A URI ending in ``##params`` (default list) or ``##params=N`` takes that list (it is
  *claimed*: removed from the shell's lists, so the next ``param`` needs a new ``params``).
  Everything from ``##params`` on is not part of the URI; a list that does not exist is
  ignored. Over HTTP, form fields make the request a POST of
  ``application/x-www-form-urlencoded`` ``key=value&...`` (each part percent-encoded as iPXE's
  ``uri_encode_string`` does for field 0), headers are sent as ``Key: value``, and the list's
  method (``--method PUT``) replaces GET/POST; an unknown one fails "Operation not supported".

The lists belong to one shell (``shell.state``), never to the process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bootsh.records import dataclass, field

if TYPE_CHECKING:
    from bootsh.shell import Shell

_STATE_KEY = "bootsh.boot.params"
MARKER = "##params"
#: The methods iPXE's HTTP knows (``__http_method`` in net/tcp/httpcore.c).
METHODS = ("HEAD", "GET", "POST", "PUT")
#: What field 0 of ``uri_character_escaped`` escapes besides non-printing characters, space
#: and '%': "everything that matters to any URI parser".
_ESCAPED = frozenset("/#:@?=&+")


@dataclass(frozen=True)
class Parameter:
    key: str
    value: str
    header: bool = False


@dataclass
class Parameters:
    """One list: its name (None: the default list), method, and entries in order."""

    name: str | None = None
    method: str | None = None
    entries: list[Parameter] = field(default_factory=list)

    @property
    def form(self) -> list[Parameter]:
        return [p for p in self.entries if not p.header]

    @property
    def headers(self) -> list[Parameter]:
        return [p for p in self.entries if p.header]

    def body(self) -> bytes:
        """``http_form_params``: ``key=value`` joined with ``&``, both percent-encoded."""
        return "&".join(f"{encode(p.key)}={encode(p.value)}" for p in self.form).encode()

    def http_method(self) -> str | None:
        """The request's method: the list's own (upper-cased; None when HTTP has no such
        method), else POST with form fields and GET without."""
        if self.method is not None:
            wanted = self.method.upper()
            return wanted if wanted in METHODS else None
        return "POST" if self.form else "GET"


def encode(text: str) -> str:
    """``uri_encode_string(0, ...)``: non-printing bytes, space, '%' and "/#:@?=&+" as %XX."""
    out = []
    for byte in text.encode("utf-8", "surrogateescape"):
        char = chr(byte)
        if byte <= 0x20 or byte >= 0x7F or char == "%" or char in _ESCAPED:
            out.append(f"%{byte:02X}")
        else:
            out.append(char)
    return "".join(out)


def lists_of(shell: Shell) -> list[Parameters]:
    return shell.state_for(_STATE_KEY, list, list)


def find(shell: Shell, name: str | None) -> Parameters | None:
    """``find_parameters``: the list called ``name`` (None: the default list)."""
    for params in lists_of(shell):
        if params.name == name:
            return params
    return None


def create(shell: Shell, name: str | None, method: str | None) -> Parameters:
    """``create_parameters``: a new empty list, replacing any of the same name."""
    old = find(shell, name)
    if old is not None:
        lists_of(shell).remove(old)
    params = Parameters(name, method)
    lists_of(shell).append(params)
    return params


def delete(shell: Shell, params: Parameters) -> None:
    if params in lists_of(shell):
        lists_of(shell).remove(params)


def split(uri: str) -> tuple[str, str | None, bool]:
    """``uri`` without its ``##params`` suffix, the list's name (None: the default list),
    and whether there was a suffix at all."""
    at = uri.find(MARKER)
    if at < 0:
        return uri, None, False
    rest = uri[at + len(MARKER) :]
    name = rest[1:] if rest.startswith("=") else None
    return uri[:at], name, True


def claim(shell: Shell, uri: str) -> tuple[str, Parameters | None]:
    """``parse_uri``'s part: the URI without the suffix and the list it names, claimed (taken
    out of the shell's lists); None when it names none or the list does not exist."""
    bare, name, present = split(uri)
    if not present:
        return uri, None
    params = find(shell, name)
    if params is not None:
        delete(shell, params)
    return bare, params
