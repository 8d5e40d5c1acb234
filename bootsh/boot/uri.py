"""URI references and their resolution against a base (RFC 3986, as iPXE's ``resolve_uri``).

iPXE resolves every URI an image command is given against the current working URI
(``cwuri``): ``chain boot.ipxe`` after ``chain http://10.0.0.1/dir/menu.ipxe`` fetches
``http://10.0.0.1/dir/boot.ipxe``. ``urllib.parse.urljoin`` cannot stand in for this: it
resolves only for the schemes listed in ``urllib.parse.uses_relative`` (no ``tftp``), so
this module implements RFC 3986 section 5.2 itself: split by the regular expression of
appendix B, transform references (5.2.2), merge paths (5.2.3) and remove dot segments
(5.2.4). Nothing here does I/O.
"""

from __future__ import annotations

import re
import urllib.parse

from bootsh.records import dataclass, replace

# RFC 3986 appendix B: scheme, authority, path, query, fragment (each may be absent).
_URI = re.compile(r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.S)


@dataclass(frozen=True)
class Uri:
    """A URI reference split into its five components (None: absent, "" : present, empty)."""

    scheme: str | None
    authority: str | None
    path: str
    query: str | None
    fragment: str | None

    def __str__(self) -> str:
        """RFC 3986 section 5.3: the components joined back."""
        text = ""
        if self.scheme is not None:
            text += self.scheme + ":"
        if self.authority is not None:
            text += "//" + self.authority
        text += self.path
        if self.query is not None:
            text += "?" + self.query
        if self.fragment is not None:
            text += "#" + self.fragment
        return text

    @property
    def absolute(self) -> bool:
        return self.scheme is not None


def parse_uri(text: str) -> Uri:
    """Split a URI reference; every string is one (the regular expression always matches)."""
    match = _URI.match(text)
    assert match is not None  # the expression matches any string
    scheme, authority, path, query, fragment = match.groups()
    return Uri(scheme, authority, path or "", query, fragment)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, on whole segments."""
    output: list[str] = []
    while path:
        if path.startswith("../"):
            path = path[3:]
        elif path.startswith(("./", "/./")):
            path = path[2:]
        elif path == "/.":
            path = "/"
        elif path.startswith("/../"):
            path = path[3:]
            if output:
                output.pop()
        elif path == "/..":
            path = "/"
            if output:
                output.pop()
        elif path in (".", ".."):
            path = ""
        else:
            start = 1 if path.startswith("/") else 0
            end = path.find("/", start)
            if end < 0:
                end = len(path)
            output.append(path[:end])
            path = path[end:]
    return "".join(output)


def _merge(base: Uri, path: str) -> str:
    """RFC 3986 section 5.2.3: a relative path against the base's path."""
    if base.authority is not None and not base.path:
        return "/" + path
    slash = base.path.rfind("/")
    return base.path[: slash + 1] + path if slash >= 0 else path


def resolve(base: Uri | None, ref: Uri) -> Uri:
    """RFC 3986 section 5.2.2: the target of ``ref`` against ``base`` (no base: ``ref``)."""
    if base is None:
        return ref
    if ref.scheme is not None:
        return Uri(
            ref.scheme, ref.authority, remove_dot_segments(ref.path), ref.query, ref.fragment
        )
    if ref.authority is not None:
        return Uri(
            base.scheme, ref.authority, remove_dot_segments(ref.path), ref.query, ref.fragment
        )
    if not ref.path:
        query = ref.query if ref.query is not None else base.query
        return Uri(base.scheme, base.authority, base.path, query, ref.fragment)
    path = ref.path if ref.path.startswith("/") else _merge(base, ref.path)
    return Uri(base.scheme, base.authority, remove_dot_segments(path), ref.query, ref.fragment)


def resolve_uri(base: str | None, ref: str) -> str:
    """``ref`` resolved against ``base`` (either may be relative), as a string."""
    return str(resolve(parse_uri(base) if base else None, parse_uri(ref)))


def uri_basename(text: str) -> str | None:
    """iPXE's default image name: the part of the (decoded) path after its last ``/``.

    None when the URI has no path at all (iPXE then names the image ``imgN``); "" for a
    path ending in ``/``, as iPXE's ``basename()`` gives.
    """
    uri = parse_uri(text)
    path = uri.path
    if not path:
        return None
    return urllib.parse.unquote(path).rpartition("/")[2]


def redact(uri: str) -> str:
    """The URI as iPXE prints it: a password becomes ``***``."""
    # Split by RFC 3986's own expression, not urlsplit: that refuses a URI with unbalanced
    # brackets ("http://[::1"), and a URI that cannot be fetched must still be printable,
    # with its password hidden.
    parsed = parse_uri(uri)
    userinfo, at, host = (parsed.authority or "").rpartition("@")
    if not at or ":" not in userinfo:
        return uri
    user = userinfo.partition(":")[0]
    return str(replace(parsed, authority=f"{user}:***@{host}"))


def redact_words(text: str) -> str:
    """``text`` with the password of every URI-like word hidden (a failed line on stderr)."""
    return " ".join(redact(word) if "://" in word else word for word in text.split(" "))
