"""Each camera's card lists the objects in view and the last events with their snapshots:
rendered by the server, rebuilt by the page's script, checked in headless Chromium."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from camera_app.objects.config import ObjectsConfig
from camera_app.objects.sink import CameraObjects, ObjectsSink
from camera_app.objects.snapshots import SnapshotStore
from camera_app.outputs.live import LiveView
from camera_app.outputs.page import render_page
from camera_app.server import HttpServer, page_server
from tests.objects.builders import dets
from tests.outputs.builders import make_result
from tests.outputs.test_browser import run_chromium

GREEN = (0, 200, 0)


@pytest.fixture
def objects(tmp_path: Path) -> ObjectsSink:
    folder = tmp_path / "snaps"
    folder.mkdir()
    cam = CameraObjects("door", ObjectsConfig(end_after_s=1.0, snapshot_delay_s=0.0), 0.5,
                        SnapshotStore(str(folder), 10))  # fmt: skip
    sink = ObjectsSink([cam], {})
    image = np.zeros((480, 640, 3), np.uint8)
    image[:] = GREEN
    person = dets([(100, 50, 400, 470)], labels=["person"])
    for k in range(5):  # a person, confirmed at the third frame, snapshot at once
        sink.handle(
            make_result("door", k, image=image, capture_monotonic_s=k * 0.1, detections=person)
        )
    return sink


@pytest.fixture
def server(objects: ObjectsSink) -> Iterator[HttpServer]:
    live = LiveView(["door"])

    def status() -> dict[str, Any]:
        return {
            "cameras": [{"name": "door", "state": "streaming", "objects": objects.view("door")}]
        }

    web = page_server("127.0.0.1", 0, live, status, snapshot_files=objects.snapshot_file)
    web.start()
    yield web
    web.stop(5)


def test_view_lists_what_is_in_view_and_links_written_snapshots(objects: ObjectsSink) -> None:
    view = objects.view("door")
    assert view is not None
    assert view["in_view"] == {"person": 1}
    (start,) = view["recent_events"]
    assert start["type"] == "start"
    assert start["snapshot_url"] == f"/snapshots/door/{start['snapshot']}"
    html = render_page({"cameras": [{"name": "door", "objects": view}]}, ["door"])
    (obj,) = view["objects"]
    assert (obj["label"], obj["score"], obj["zones"], obj["track_id"]) == ("person", 0.9, [], 1)
    assert f"<li>person 0.9 since {obj['since']}</li>" in html
    assert f'src="/snapshots/door/{start["snapshot"]}"' in html


def test_snapshot_route_serves_only_our_files(server: HttpServer, objects: ObjectsSink) -> None:
    view = objects.view("door")
    assert view is not None
    name = view["recent_events"][0]["snapshot"]
    base = f"http://127.0.0.1:{server.port}"
    with urllib.request.urlopen(f"{base}/snapshots/door/{name}", timeout=10) as r:
        assert r.headers["Content-Type"] == "image/jpeg"
        image = cv2.imdecode(np.frombuffer(r.read(), np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (480, 640, 3)
    for bad in (f"/snapshots/yard/{name}", "/snapshots/door/..%2Fpasswd.jpg",
                "/snapshots/door/door-nope.jpg"):  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + bad, timeout=10)
        err.value.close()  # the error holds the response's socket
        assert err.value.code == 404


@pytest.mark.slow
def test_card_in_headless_chromium(server: HttpServer, tmp_path: Path) -> None:
    # Tall enough for the whole card (the live view, its rows, the objects and the snapshot).
    dom, screenshot = run_chromium(f"http://127.0.0.1:{server.port}/", tmp_path, (1280, 1000))
    # rebuilt by the script: a <span> in each item, which the server's HTML has not
    assert '<ul data-objects="in_view"><li><span>person 0.9 since ' in dom
    assert '<img class="shot" src="/snapshots/door/door-' in dom
    assert "start person 0.9" in dom
    image = cv2.imread(str(screenshot))
    b, g, r = (image[..., i].astype(int) for i in range(3))
    green = (g > 150) & (r < 60) & (b < 60)  # the snapshot (a green frame) was loaded and shown
    assert green.sum() > 500, green.sum()
