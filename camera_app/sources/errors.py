"""Why a source failed: one small vocabulary (`ErrorKind`), a classifier, and network probes.

OpenCV's ``VideoCapture`` only says "not opened" or "no frame". To say *why*, network sources
ask the server themselves, over sockets that all have a timeout:

- ``probe_tcp``: before FFmpeg opens, a TCP connect to host:port (refused, timeout, a host name
  that does not resolve or whose lookup timed out);
- ``probe_rtsp``: an RTSP ``DESCRIBE`` whose status line tells 401 (unauthorized) and 404 (not
  found) apart; no answer in time is a timeout;
- ``probe_http``: the same for HTTP(S) MJPEG cameras, reading only the status line and headers.

The request probes run only *after* FFmpeg failed to open, not before: gst-rtsp-server with a
shared media answers 503 to a DESCRIBE that follows a closed one within milliseconds (seen in the
tests), and many MJPEG cameras serve one client at a time, so probing first would break the very
open it prepares. A server that accepts but never answers is caught by FFmpeg's own open timeout.

Basic authentication is answered when the URL carries credentials; a Digest challenge is left to
FFmpeg (the probe is then inconclusive and returns ``ProbeResult(challenged=True)``).
Every message here passes through ``camera_app.redact.redact_url``.
"""

from __future__ import annotations

import base64
import errno
import http.client
import re
import socket
import ssl
import time
from dataclasses import dataclass
from enum import Enum
from urllib.parse import unquote, urlsplit

from camera_app.errors import SourceError
from camera_app.redact import redact_url

__all__ = [
    "ErrorKind",
    "ProbeResult",
    "classify",
    "probe_http",
    "probe_rtsp",
    "probe_tcp",
    "source_error",
]


class ErrorKind(str, Enum):
    """Why a source failed; the values are the strings used in logs, metrics and status."""

    REFUSED = "refused"
    TIMEOUT = "timeout"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    DECODE = "decode"
    EOF = "eof"
    DISCONNECTED = "disconnected"  # it streamed, then the server, network or device went away
    OTHER = "other"

    def __str__(self) -> str:
        return self.value


_ERRNO_KINDS: dict[int, ErrorKind] = {
    errno.ECONNREFUSED: ErrorKind.REFUSED,
    errno.ETIMEDOUT: ErrorKind.TIMEOUT,
    errno.EHOSTUNREACH: ErrorKind.TIMEOUT,
    errno.ENETUNREACH: ErrorKind.TIMEOUT,
    errno.ENOENT: ErrorKind.NOT_FOUND,
    errno.ENODEV: ErrorKind.NOT_FOUND,
    errno.ENXIO: ErrorKind.NOT_FOUND,
    errno.EACCES: ErrorKind.UNAUTHORIZED,
    errno.EPERM: ErrorKind.UNAUTHORIZED,
}

# Phrases FFmpeg and OpenCV print, most specific first.
_TEXT_KINDS: tuple[tuple[re.Pattern[str], ErrorKind], ...] = (
    (re.compile(r"\b40[13]\b|unauthori[sz]ed|forbidden|authenticat", re.I), ErrorKind.UNAUTHORIZED),
    (re.compile(r"\b404\b|not found|no such file", re.I), ErrorKind.NOT_FOUND),
    (re.compile(r"connection refused", re.I), ErrorKind.REFUSED),
    (re.compile(r"timed? ?out|timeout", re.I), ErrorKind.TIMEOUT),
    (re.compile(r"end of file|\beof\b", re.I), ErrorKind.EOF),
    (re.compile(r"invalid data|decod|corrupt|codec", re.I), ErrorKind.DECODE),
)


def classify(
    error: BaseException | None = None, *, status: int | None = None, text: str = ""
) -> ErrorKind:
    """Map an exception, an RTSP/HTTP status code or an FFmpeg/OpenCV message to a kind.

    The first of these that says something wins: ``error``, then ``status``, then ``text``.
    """
    if error is not None:
        kind = _classify_exception(error)
        if kind is not ErrorKind.OTHER:
            return kind
    if status is not None:
        if status in (401, 403, 407):
            return ErrorKind.UNAUTHORIZED
        if status in (404, 410, 454):
            return ErrorKind.NOT_FOUND
        if status in (408, 504):
            return ErrorKind.TIMEOUT
    for pattern, kind in _TEXT_KINDS:
        if text and pattern.search(text):
            return kind
    return ErrorKind.OTHER


def _classify_exception(error: BaseException) -> ErrorKind:
    if isinstance(error, SourceError):
        try:
            return ErrorKind(error.kind)
        except ValueError:
            return ErrorKind.OTHER
    if isinstance(error, ConnectionRefusedError):
        return ErrorKind.REFUSED
    if isinstance(error, TimeoutError):
        return ErrorKind.TIMEOUT
    if isinstance(error, socket.gaierror):
        return ErrorKind.NOT_FOUND
    if isinstance(error, FileNotFoundError):
        return ErrorKind.NOT_FOUND
    if isinstance(error, PermissionError):
        return ErrorKind.UNAUTHORIZED
    if isinstance(error, EOFError):
        return ErrorKind.EOF
    if type(error).__module__.startswith("cv2") and type(error).__name__ == "error":
        # cv2.error while reading: OpenCV refusing what FFmpeg decoded (a corrupt frame whose
        # size or format changed), not a network failure.
        return ErrorKind.DECODE
    if isinstance(error, OSError) and error.errno in _ERRNO_KINDS:
        return _ERRNO_KINDS[error.errno]
    return classify(text=str(error)) if str(error) else ErrorKind.OTHER


def source_error(where: str, what: str, kind: ErrorKind, advice: str = "") -> SourceError:
    """A SourceError whose message names the (redacted) source, what happened and what to do."""
    message = f"{redact_url(where)}: {what}"
    if advice:
        message += f"; {advice}"
    return SourceError(message, kind=kind.value)


_ADVICE: dict[ErrorKind, str] = {
    ErrorKind.REFUSED: "nothing listens there: check host, port and that the camera is on",
    ErrorKind.TIMEOUT: "no answer in time: check the network path and firewall",
    ErrorKind.UNAUTHORIZED: "check the user name and password",
    ErrorKind.NOT_FOUND: "check the path of the stream (the part after host:port)",
}


@dataclass(frozen=True)
class ProbeResult:
    """What a probe learned when it did not fail: the status, and whether auth was left."""

    status: int
    challenged: bool = False


def _connect(host: str, port: int, deadline: float, where: str) -> socket.socket:
    remaining = max(0.05, deadline - time.monotonic())
    try:
        return socket.create_connection((host, port), timeout=remaining)
    except socket.gaierror as exc:
        raise _unresolved(host, exc, where) from exc
    except OSError as exc:
        kind = classify(exc)
        raise source_error(
            where, f"cannot connect to {host}:{port} ({kind})", kind, _ADVICE.get(kind, "")
        ) from exc


def _unresolved(host: str, exc: socket.gaierror, where: str) -> SourceError:
    """The host name did not resolve: no such name (``not_found``), or the resolver had no
    answer in time (``timeout``). The advice is the name and the DNS, not the stream's path."""
    detail = exc.strerror or str(exc)
    if exc.errno == socket.EAI_AGAIN:
        return source_error(
            where,
            f"the host name {host} could not be resolved in time ({detail})",
            ErrorKind.TIMEOUT,
            "the DNS server did not answer: check this machine's DNS settings and network, or "
            "use the camera's IP address",
        )
    return source_error(
        where,
        f"the host name {host} does not resolve ({detail})",
        ErrorKind.NOT_FOUND,
        "check the host name, or use the camera's IP address",
    )


def probe_tcp(url: str, timeout_s: float) -> None:
    """Connect to the URL's host and port, hang up; raise a classified SourceError if we can't."""
    scheme = urlsplit(url).scheme.lower()
    host, port, _, _ = _split(url, _DEFAULT_PORTS.get(scheme, 80))
    _connect(host, port, time.monotonic() + timeout_s, url).close()


_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}


def _split(url: str, default_port: int) -> tuple[str, int, str | None, str | None]:
    parts = urlsplit(url)
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise source_error(url, "the port is not a number", ErrorKind.NOT_FOUND) from exc
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return parts.hostname or "", port, user, password


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=netloc).geturl()


def _basic(user: str, password: str | None) -> str:
    token = base64.b64encode(f"{user}:{password or ''}".encode()).decode("ascii")
    return f"Basic {token}"


def _rtsp_exchange(sock: socket.socket, request: bytes, deadline: float) -> tuple[int, str]:
    """Send one RTSP request; return (status, headers text) or raise TimeoutError/OSError."""
    sock.settimeout(max(0.05, deadline - time.monotonic()))
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        if time.monotonic() >= deadline:
            raise TimeoutError("no RTSP answer in time")
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head = data.partition(b"\r\n\r\n")[0].decode("latin-1")
    match = re.match(r"RTSP/\d\.\d (\d{3})", head)
    if match is None:
        if not data:
            raise ConnectionResetError("the server closed the connection without an answer")
        raise ValueError("the answer is not RTSP")
    return int(match.group(1)), head


def probe_rtsp(url: str, timeout_s: float) -> ProbeResult:
    """Ask an RTSP server for the stream's description; raise a classified SourceError if it fails.

    ``rtsps://`` only gets the TCP connect (the TLS handshake is FFmpeg's business).
    """
    deadline = time.monotonic() + timeout_s
    scheme = urlsplit(url).scheme.lower()
    host, port, user, password = _split(url, 322 if scheme == "rtsps" else 554)
    sock = _connect(host, port, deadline, url)
    try:
        if scheme == "rtsps":
            return ProbeResult(status=0)
        plain = _strip_userinfo(url)
        status, head = 0, ""
        for cseq, auth in enumerate((None, "basic"), start=1):
            if auth == "basic" and (user is None or "basic" not in _challenges(head)):
                break
            lines = [f"DESCRIBE {plain} RTSP/1.0", f"CSeq: {cseq}", "Accept: application/sdp"]
            if auth == "basic" and user is not None:
                lines.append(f"Authorization: {_basic(user, password)}")
            lines.append("User-Agent: camera_app-probe")
            request = ("\r\n".join(lines) + "\r\n\r\n").encode()
            status, head = _rtsp_exchange(sock, request, deadline)
            if status != 401:
                break
    except ValueError as exc:
        raise source_error(
            url,
            "the server did not answer in RTSP",
            ErrorKind.OTHER,
            "check the port and the scheme",
        ) from exc
    except OSError as exc:  # TimeoutError included
        raise _no_answer(url, "RTSP", exc, timeout_s) from exc
    finally:
        sock.close()
    return _judge(url, status, head, user is not None)


def _no_answer(url: str, protocol: str, exc: Exception, timeout_s: float) -> SourceError:
    """The error of a probe whose exchange with the server timed out or failed."""
    if isinstance(exc, TimeoutError):
        kind = ErrorKind.TIMEOUT
        what = f"the {protocol} server did not answer within {timeout_s:g} s"
    else:
        kind = classify(exc)
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else kind
        what = f"the {protocol} exchange failed ({detail})"
    return source_error(url, what, kind, _ADVICE.get(kind, ""))


def _challenges(head: str) -> str:
    found = re.findall(r"^www-authenticate:\s*(\w+)", head, flags=re.I | re.M)
    return " ".join(found).lower()


def _judge(url: str, status: int, head: str, has_credentials: bool) -> ProbeResult:
    if status == 401 and has_credentials and "basic" not in _challenges(head):
        # Digest (or another scheme) we do not speak: FFmpeg answers it.
        return ProbeResult(status=status, challenged=True)
    if 200 <= status < 400:
        return ProbeResult(status=status)
    kind = classify(status=status)
    what = f"the server answered {status}"
    if kind is ErrorKind.UNAUTHORIZED:
        what += " (credentials missing or wrong)" if has_credentials else " (needs credentials)"
    raise source_error(url, what, kind, _ADVICE.get(kind, ""))


def probe_http(url: str, timeout_s: float) -> ProbeResult:
    """GET an HTTP(S) MJPEG URL, read the status and headers only; raise a classified error."""
    parts = urlsplit(url)
    https = parts.scheme.lower() == "https"
    host, port, user, password = _split(url, 443 if https else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    conn: http.client.HTTPConnection
    if https:
        conn = http.client.HTTPSConnection(
            host, port, timeout=timeout_s, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        headers = {"User-Agent": "camera_app-probe"}
        if user is not None:
            headers["Authorization"] = _basic(user, password)
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        try:  # an MJPEG body never ends: read the head only
            status = response.status
            head = "\n".join(f"{k}: {v}" for k, v in response.getheaders())
        finally:
            response.close()  # owns the socket once the server said it will close
    except (OSError, http.client.HTTPException) as exc:  # TimeoutError included
        raise _no_answer(url, "HTTP", exc, timeout_s) from exc
    finally:
        conn.close()
    return _judge(url, status, head, user is not None)
