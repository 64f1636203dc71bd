"""The status page: HTML rendered on the server, refreshed by a small script from /api/status.

Everything shown is escaped here and passed through ``redact_text`` first (the status given to
us is already credential-free; this is defence in depth). The script and stylesheet are package
data (``static/``), served as files of their own so the page's Content-Security-Policy needs no
'unsafe-inline'; the script only ever sets ``textContent``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Collection, Mapping
from importlib import resources
from typing import Any
from urllib.parse import quote

from camera_app.redact import redact_text

STATIC = ("status.css", "status.js")


def static_file(name: str) -> bytes:
    """One of the page's ``STATIC`` files, read from the package."""
    return resources.files("camera_app.outputs").joinpath("static", name).read_bytes()


SCALARS = (str, int, float, bool, type(None))


def redacted(value: Any) -> Any:
    """A JSON-ready copy of ``value`` with every string passed through ``redact_text``."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # NaN is not JSON
    if isinstance(value, bool | int) or value is None:
        return value
    if isinstance(value, Mapping):
        return {redact_text(str(k)): redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v) for v in value]
    return redact_text(str(value))


def show(value: Any) -> str:
    """How one status value reads on the page (the script formats the same way)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.1f}"
    if isinstance(value, Mapping):  # e.g. last_error: {"class": ..., "message": ...}
        return ": ".join(show(v) for v in value.values() if v not in (None, ""))
    if isinstance(value, list | tuple):
        return ", ".join(show(v) for v in value)
    return str(value)


def _e(value: Any) -> str:
    return html.escape(redact_text(show(value)), quote=True)


_CAMERA_FIELDS = (("state", "state"), ("source", "source"), ("fps", "detect fps"),
                  ("gate", "detection"), ("last_error", "last error"),
                  ("outputs_failing", "outputs failing"))  # fmt: skip


def _camera(cam: Mapping[str, Any], streams: Collection[str]) -> str:
    name = str(cam.get("name", ""))
    quoted = quote(name, safe="")
    if name in streams:
        view = (f'<img class="live" src="/stream/{_e(quoted)}.mjpg" alt="live view of {_e(name)}">'
                f'<a href="/snapshot/{_e(quoted)}.jpg">snapshot</a>')  # fmt: skip
    else:
        view = '<p class="off">live view off for this camera</p>'
    rows = "".join(
        f'<dt>{label}</dt><dd data-field="{key}">{_e(cam.get(key))}</dd>'
        for key, label in _CAMERA_FIELDS
    )
    return (f'<article class="camera" data-camera="{_e(name)}" data-state="{_e(cam.get("state"))}">'
            f"<h2>{_e(name)}</h2>{view}<dl>{rows}</dl>{_objects(cam)}</article>")  # fmt: skip


def _object_line(o: Mapping[str, Any]) -> str:
    zones = f" in {show(o.get('zones'))}" if o.get("zones") else ""
    return f"{show(o.get('label'))} {show(o.get('score'))}{zones} since {show(o.get('since'))}"


def _objects(cam: Mapping[str, Any]) -> str:
    """Objects in view and the last object events (camera_app/objects), if the camera has them.
    The script rebuilds both lists the same way from /api/status."""
    objects = cam.get("objects")
    if not isinstance(objects, Mapping):
        return ""
    seen = "".join(f"<li>{_e(_object_line(o))}</li>" for o in objects.get("objects") or []
                   if isinstance(o, Mapping))  # fmt: skip
    events = []
    for e in objects.get("recent_events") or []:
        url = e.get("snapshot_url")
        shot = (f'<img class="shot" src="{_e(url)}" alt="snapshot of {_e(e.get("label"))}">'
                if isinstance(url, str) and url.startswith("/snapshots/") else "")  # fmt: skip
        text = " ".join(show(e.get(k)) for k in ("type", "label", "score", "last_seen", "zones"))
        events.append(f"<li>{shot}<span>{_e(text)}</span></li>")
    return (f'<section class="objects"><h3>In view</h3><ul data-objects="in_view">'
            f'{seen or "<li>nothing</li>"}</ul><h3>Last events</h3><ol data-objects="events">'
            f'{"".join(events) or "<li>none yet</li>"}</ol></section>')  # fmt: skip


def _label(key: str) -> str:
    """A status key as the page names it: ``uptime_s`` -> "uptime (s)"."""
    words = key.removesuffix("_s").replace("_", " ")
    return f"{words} (s)" if key.endswith("_s") else words


def _pairs(items: Mapping[str, Any], attribute: str) -> str:
    return "".join(
        f'<dt>{_e(_label(str(k)))}</dt><dd {attribute}="{_e(k)}">{_e(v)}</dd>'
        for k, v in items.items()
        if isinstance(v, SCALARS)
    )


def render_page(status: Mapping[str, Any], streams: Collection[str]) -> str:
    """The whole page. ``streams``: the cameras that have a live view."""
    cameras = status.get("cameras") or []
    model = status.get("model") or {}
    summary = {k: v for k, v in status.items() if k not in ("cameras", "model")}
    cards = "".join(_camera(c, streams) for c in cameras if isinstance(c, Mapping))
    model_html = ""
    if isinstance(model, Mapping) and model:
        model_html = (
            f'<section class="model"><h2>Model</h2><dl>{_pairs(model, "data-model")}</dl></section>'
        )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>camera_app status</title>
<link rel="stylesheet" href="/static/status.css">
<script src="/static/status.js" defer></script>
</head>
<body>
<header><h1>camera_app</h1><dl class="summary">{_pairs(summary, "data-summary")}</dl>
<p id="updated">rendered by the server</p></header>
<main class="cameras">{cards or '<p class="off">no cameras</p>'}</main>
{model_html}
</body>
</html>
"""
