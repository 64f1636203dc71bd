"""Mask credentials in URLs before they reach a log, an error, a metric label or a page.

URLs are parsed (``urllib.parse``), not matched with a ``user:pass@`` regex, so percent-encoded
passwords (``p%40ss``) and raw ``@`` inside passwords (``admin:p@ss@host``) are masked too.
What is masked: the userinfo (user and password) and the values of query or fragment
parameters with a secret-sounding name. When the authority cannot be parsed unambiguously
(a raw ``/``, ``?`` or ``#`` in a password, a bad IPv6 literal), everything after ``scheme://``
is masked: a message that says too little is better than one that leaks.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote_plus, urlsplit

MASK = "***"

SECRET_PARAMS = frozenset(
    {"password", "passwd", "pwd", "pass", "token", "secret", "key", "auth"}
    | {"access_token", "api_key", "apikey"}
)

_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
# Characters that end a sentence or close a quote, rather than belong to the URL before them.
_TRAILING = ".,;:!?'\")]}>"
_PARAM = re.compile(r"([?&;#])([^=&;#]*)=([^&;#]*)")
_IPV_FUTURE = re.compile(r"v[0-9A-Fa-f]+\..+", re.DOTALL)


def _bracket_ok(netloc: str) -> bool:
    """Whether what the first ``[...]`` of an authority holds is an IP literal (RFC 3986:
    IPv6, or ``vX.…``). Python 3.11.4+ refuses anything else in ``urlsplit``, 3.10 does not:
    checked here so that every Python masks such a URL the same way."""
    if "[" not in netloc:
        return True
    inside = netloc.partition("[")[2].partition("]")[0]
    if _IPV_FUTURE.fullmatch(inside):
        return True
    try:
        return isinstance(ipaddress.ip_address(inside), ipaddress.IPv6Address)
    except ValueError:
        return False


def redact_url(text: str) -> str:
    """Return ``text`` (one URL) with its userinfo and secret parameters replaced by ``***``.

    Text that is not a ``scheme://`` URL is passed to :func:`redact_text` instead, so any
    string may be given.
    """
    start = _URL_START.match(text)
    if start is None:
        return redact_text(text)
    prefix = text[: start.end()]
    try:
        parts = urlsplit(text)
        netloc = parts.netloc
        _ = parts.port  # raises ValueError for "user:pa" left over from a raw "/" in "pa/ss"
    except ValueError:
        return prefix + MASK
    if not _bracket_ok(netloc):
        return prefix + MASK
    if text[start.end() : start.end() + len(netloc)] != netloc:
        # urlsplit dropped characters (tabs, newlines): positions no longer line up.
        return prefix + MASK
    rest = text[start.end() + len(netloc) :]
    userinfo, at, hostport = netloc.rpartition("@")
    if not at and ":" in hostport.rpartition("]")[2] and "@" in rest:
        # "user:12/34@host" or "user:/x@host": a raw "/" cut the password where what is left
        # still parses as host:port. Masking "host:8080/a@b" too is the price of not leaking.
        return prefix + MASK
    if at:
        masked_userinfo = f"{MASK}:{MASK}" if ":" in userinfo else MASK
        netloc = f"{masked_userinfo}@{hostport}"
    return prefix + netloc + _mask_params(rest)


def redact_text(text: str) -> str:
    """Redact every ``scheme://`` URL found inside free text (an error message, a log line)."""

    def one(match: re.Match[str]) -> str:
        url = match.group(0)
        stripped = url.rstrip(_TRAILING)
        return redact_url(stripped) + url[len(stripped) :]

    return _URL_IN_TEXT.sub(one, text)


def _mask_params(rest: str) -> str:
    def one(match: re.Match[str]) -> str:
        sep, name, value = match.groups()
        if unquote_plus(name).strip().lower() in SECRET_PARAMS:
            value = MASK
        return f"{sep}{name}={value}"

    return _PARAM.sub(one, rest)
