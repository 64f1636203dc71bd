"""A tiny real RTSP server for the tests: a looping clip, H.264-encoded live, on loopback.

Run with the SYSTEM python (Debian's python3-gi + gst-rtsp-server), never the project venv::

    /usr/bin/python3 tests/rtsp_server.py --frames 'DIR/frame_%05d.jpg' --port 0 \
        --path /cam --fps 15 --ready-file DIR/ready [--user alice]  # password: $RTSP_TEST_PASSWORD
    /usr/bin/python3 tests/rtsp_server.py --video A.mp4 --video B.mp4 --port 0 --ready-file R

The clip is a numbered JPEG sequence the tests write themselves; GStreamer loops it
(``multifilesrc loop=true``), encodes it to H.264 with openh264 and serves it at real-time pace.
With ``--video`` (the scale benchmark's many streams) each H.264 MP4 is served as it is, not
re-encoded (so the server stays cheap), at ``/cam0``, ``/cam1``, ... in order: from its start for
each client, at real-time pace, once (no loop).
When the server listens it writes its bound port to ``--ready-file`` (so ``--port 0`` is race-free).
SIGTERM or SIGINT stop it. Needed Debian packages: see ``.ci/apt-packages.txt``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def _pipeline(frames: str, fps: int) -> str:
    return (
        f'( multifilesrc location="{frames}" loop=true '
        f'caps="image/jpeg,framerate={fps}/1" '
        "! jpegdec ! videoconvert ! video/x-raw,format=I420 "
        f"! openh264enc gop-size={fps} complexity=low bitrate=800000 "
        "! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


def _file_pipeline(path: str) -> str:
    return (
        f'( filesrc location="{path}" ! qtdemux ! h264parse '
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--frames", help="printf pattern of the JPEG frames")
    what.add_argument("--video", action="append", help="an H.264 MP4, served at /camN")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--path", default="/stream")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--user", default=None, help="require this user; password from env")
    parser.add_argument("--ready-file", required=True)
    args = parser.parse_args(argv)

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    mounts: dict[str, GstRtspServer.RTSPMediaFactory] = {}
    for n, path in enumerate(args.video or ()):
        mounts[f"/cam{n}"] = factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(_file_pipeline(path))
        factory.set_shared(False)  # every client from the start of the file
    if args.frames:
        mounts[args.path] = factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(_pipeline(args.frames, args.fps))
        factory.set_shared(True)

    if args.user:
        password = os.environ.get("RTSP_TEST_PASSWORD", "")
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, password), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("user", "media.factory.access", True)
        permissions.add_permission_for_role("user", "media.factory.construct", True)
        for factory in mounts.values():
            factory.set_permissions(permissions)

    for mount, factory in mounts.items():
        server.get_mount_points().add_factory(mount, factory)
    if server.attach(None) == 0:
        sys.stderr.write(f"rtsp_server: cannot listen on 127.0.0.1:{args.port}\n")
        return 1

    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, lambda: (loop.quit(), False)[1])

    tmp = args.ready_file + ".tmp"
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(str(server.get_bound_port()))
    os.replace(tmp, args.ready_file)

    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
