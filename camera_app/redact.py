"""Mask credentials in URLs before they reach a log, an error, a metric label or a page.

URLs are parsed (``urllib.parse``), not matched with a ``user:pass@`` regex, so percent-encoded
passwords (``p%40ss``) and raw ``@`` inside passwords (``admin:p@ss@host``) are masked too.
What is masked: the userinfo (user and password); every query or fragment parameter's value
but those of a short list of names known to hold no secret (``channel``, ``subtype``, ``fps``:
``SHOWN_PARAMS``), and valueless parameters not on it (a bare token); and in the path,
whatever follows the first ``=`` of a segment (``/user=admin_password=x_channel=1.sdp``, as
XMeye cameras take them). A list of secret-sounding names is never complete (``loginpas``,
``psw``, ``X-Amz-Signature``), so the list is of the names that are shown. When the authority
cannot be parsed unambiguously (a raw ``/``, ``?`` or ``#`` in a password, which shows as an
``@`` after the authority; a bad IPv6 literal), everything after ``scheme://`` is masked: a
message that says too little is better than one that leaks.

Redaction runs on text from the network (request lines), so its cost is linear in its input and
bounded: URLs are found by ``str.find("://")``, never by a regex that rescans the text from each
position, and text past ``MAX_TEXT_CHARS`` is cut off, not searched.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote_plus, urlsplit

MASK = "***"

# Query and fragment parameters whose value is shown: what selects a stream or its format on
# common cameras (Hikvision, Dahua, Reolink, Axis, Foscam, XMeye), never a credential. Every
# other value is masked.
SHOWN_PARAMS = frozenset(
    {"channel", "channels", "ch", "chn", "subtype", "stream", "streamtype", "stream_type"}
    | {"profile", "resolution", "res", "width", "height", "fps", "framerate", "bitrate"}
    | {"quality", "compression", "codec", "videocodec", "format", "fmt", "transport"}
    | {"rtsp_transport", "tcp", "udp", "unicast", "multicast", "mode", "type", "camera"}
    | {"cam", "video", "audio", "real_stream", "action", "cmd", "snapshot", "timeout"}
)

# Longer text is cut here before it is searched (http.server takes request lines up to 64 KiB).
MAX_TEXT_CHARS = 65536

_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# "rtsp:/user:pw@host" or "rtsp:user:pw@host": a URL with its slashes mistyped, userinfo and all.
_MISTYPED_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*:)/?(?!/)[^@]*@")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SCHEME_CHARS = _LETTERS | frozenset("0123456789+.-")
_NOT_SPACE = re.compile(r"\S+")
# Characters that end a sentence or close a quote, rather than belong to the URL before them.
_TRAILING = ".,;:!?'\")]}>"
_PARAM_SEP = re.compile(r"([?&;#])")
_PATH_VALUE = re.compile(r"=[^/]*")  # from a path segment's first "=" to the segment's end
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
    string may be given; one that starts like a URL with its slashes mistyped and holds an
    ``@`` (``rtsp:/admin:pw@cam``) is masked after its scheme.
    """
    start = _URL_START.match(text)
    if start is None:
        mistyped = _MISTYPED_URL.match(text)
        return mistyped.group(1) + MASK if mistyped else redact_text(text)
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
    if "@" in rest:
        # "user:12/34@host", "user:p@ss/w0rd@host", "u:p@q/x?y@host": a raw "/", "?" or "#"
        # ended the authority inside the password, and what is left of it still parses.
        # Masking "host:8080/a@b" too is the price of not leaking.
        return prefix + MASK
    if at:
        masked_userinfo = f"{MASK}:{MASK}" if ":" in userinfo else MASK
        netloc = f"{masked_userinfo}@{hostport}"
    return prefix + netloc + _mask_params(rest)


def redact_text(text: str) -> str:
    """Redact every ``scheme://`` URL found inside free text (an error message, a log line).

    Linear in ``len(text)``: each ``://`` is found once, the scheme before it is walked back over
    (runs of scheme characters before different ``://`` never overlap), and the URL after it
    ends at the next white space. Text past ``MAX_TEXT_CHARS`` is dropped and said to be.
    """
    cut = ""
    if len(text) > MAX_TEXT_CHARS:
        cut = f"... ({len(text) - MAX_TEXT_CHARS} more characters not shown)"
        text = text[:MAX_TEXT_CHARS]
    out: list[str] = []
    done = 0  # text[:done] is in out already
    colon = text.find("://")
    while colon != -1:
        start = colon
        while start > done and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        while start < colon and text[start] not in _LETTERS:
            start += 1  # a scheme starts with a letter
        tail = _NOT_SPACE.match(text, colon + 3)
        if start == colon or tail is None:
            colon = text.find("://", colon + 1)
            continue
        url = text[start : tail.end()]
        stripped = url.rstrip(_TRAILING)
        out.append(text[done:start])
        out.append(redact_url(stripped) + url[len(stripped) :])
        done = tail.end()
        colon = text.find("://", done)
    out.append(text[done:])
    out.append(cut)
    return "".join(out)


def _is_shown(name: str) -> bool:
    return unquote_plus(name).strip().lower() in SHOWN_PARAMS


def _mask_params(rest: str) -> str:
    """Mask the path's ``name=value`` segments and the values of the query and fragment
    parameters not on ``SHOWN_PARAMS`` (valueless ones not on it entirely).

    A value runs to the next ``&``, ``;`` or ``#``: a ``?`` inside it (``pw=a?b``) is still the
    value. Split once, so the cost is linear however many separators there are.
    """
    parts = _PARAM_SEP.split(rest)  # [path, sep, piece, sep, piece, ...]
    out = [_PATH_VALUE.sub("=" + MASK, parts[0])]
    masking = False
    for i in range(1, len(parts), 2):
        sep, piece = parts[i], parts[i + 1]
        if masking and sep == "?":
            continue  # still inside a masked value, already shown as the mask
        name, eq, _value = piece.partition("=")
        masking = not _is_shown(name)
        if not masking:
            out.append(sep + piece)
        else:
            out.append(f"{sep}{name}={MASK}" if eq else f"{sep}{MASK}")
    return "".join(out)
