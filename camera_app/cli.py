"""The ``camera-app`` command. User errors print one line and exit 2; nothing else prints."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from camera_app import __version__
from camera_app.errors import CameraAppError, ImageError, UserError
from camera_app.logs import setup_logging
from camera_app.modes import ColourOrder, ResizeMode, RuntimeName, StrEnum
from camera_app.redact import redact_text

if TYPE_CHECKING:
    from camera_app.detect.detector import Detector

log = logging.getLogger("camera_app")


def _values(enum: type[StrEnum]) -> list[str]:
    return [str(m.value) for m in enum]


def _add_model_args(p: argparse.ArgumentParser, *, model_required: bool) -> None:
    """The detector's options as flags; ``options.options_from_args`` maps them."""
    from camera_app.registry import DEFAULT_MODEL

    if model_required:
        p.add_argument(
            "--model",
            "-m",
            default=DEFAULT_MODEL,
            help="a .tflite file, a model folder, or a model name (default: %(default)s)",
        )
    p.add_argument("--threshold", "-t", type=float, default=0.5, help="score threshold (0-1]")
    p.add_argument("--iou", type=float, default=0.5, help="NMS IoU threshold")
    p.add_argument(
        "--max-detections",
        type=int,
        default=20,
        help="at most this many boxes per image (default: %(default)s)",
    )
    p.add_argument("--classes", help="only these label names, comma-separated (person,car)")
    p.add_argument("--labels", help="labels file (default: beside the model, or embedded)")
    p.add_argument(
        "--label-offset",
        type=int,
        default=None,
        help="labels-file lines before class 0 (default: worked out; 1 for a '???' first line)",
    )
    p.add_argument(
        "--colour-order",
        choices=_values(ColourOrder),
        default=ColourOrder.RGB.value,
        help="the channel order the model was trained on (default: %(default)s)",
    )
    p.add_argument(
        "--resize",
        choices=_values(ResizeMode),
        default=None,
        help="default: the model family's (SSD stretch, YOLO letterbox with grey 114)",
    )
    p.add_argument("--threads", type=int, default=2, help="interpreter threads")
    p.add_argument(
        "--runtime",
        choices=_values(RuntimeName),
        default=None,
        help="TFLite runtime (default: ai-edge-litert, else tflite-runtime)",
    )


def cmd_detect(args: argparse.Namespace) -> int:
    """Detect on each image; one that cannot be read is said on its own line (a JSON line
    with ``error`` under ``--json``) and the others go on; exit 2 if any failed. The output
    path is checked before the model loads."""
    from camera_app.detect.detector import load_detector
    from camera_app.options import options_from_args

    if not args.max_image_megapixels > 0:
        raise ImageError(
            f"--max-image-megapixels: expected a positive number, got {args.max_image_megapixels}"
        )
    out_dir = Path(args.output) if args.output and len(args.images) > 1 else None
    if args.output:
        _check_image_output(Path(args.output), folder=out_dir is not None)
    detector = load_detector(args.model, options_from_args(args))
    max_pixels = max(1, round(args.max_image_megapixels * 1e6))
    failed = 0
    for image in args.images:
        try:
            _detect_one(detector, image, args, max_pixels, out_dir)
        except ImageError as exc:
            failed += 1
            if args.json:
                print(json.dumps({"image": image, "error": str(exc)}), flush=True)
            else:
                print(f"camera-app: error: {exc}", file=sys.stderr, flush=True)
    return 2 if failed else 0


def _check_image_output(target: Path, *, folder: bool) -> None:
    """``-o``: a folder (several images) or a file whose folder exists and whose extension
    OpenCV writes, before any work is done."""
    import cv2

    if folder:
        if target.exists() and not target.is_dir():
            raise ImageError(f"-o {target}: not a folder (several images go into a folder)")
        return
    if not target.parent.is_dir():
        raise ImageError(f"-o {target}: the folder {target.parent} does not exist")
    if target.is_dir():
        raise ImageError(f"-o {target}: is a folder; expected an image file name")
    if not cv2.haveImageWriter(str(target)):
        raise ImageError(f"-o {target}: OpenCV cannot write this image format; use .jpg or .png")


def _detect_one(
    detector: Detector, image: str, args: argparse.Namespace, max_pixels: int, out_dir: Path | None
) -> None:
    import cv2

    from camera_app.detect.draw import draw_detections
    from camera_app.sources.image_size import read_image

    frame = read_image(image, max_pixels)
    det = detector.detect(frame)
    if args.json:
        print(json.dumps({"image": image, "detections": det.to_json()}), flush=True)
    else:
        print(f"{image}: {len(det)} detection{'' if len(det) == 1 else 's'}")
        for d in det:
            x1, y1, x2, y2 = (round(v) for v in d.box_xyxy)
            print(f"  {d.label:<16} {d.score:.2f}  [{x1}, {y1}, {x2}, {y2}]")
    if not args.output:
        return
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)  # at the first image that has a picture
    target = out_dir / Path(image).name if out_dir else Path(args.output)
    try:
        written = cv2.imwrite(str(target), draw_detections(frame, det))
    except cv2.error:
        written = False  # an extension OpenCV has no writer for (a name in a -o folder)
    if not written:
        raise ImageError(f"{target}: cannot write the annotated image (its format or its folder)")


def cmd_inspect(args: argparse.Namespace) -> int:
    from camera_app.inspect_model import format_report, inspect_model
    from camera_app.options import options_from_args

    report = inspect_model(args.model, options_from_args(args))
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0 if report["verdict"]["runs"] else 2


def cmd_models(args: argparse.Namespace) -> int:
    from camera_app.detect.model import model_search_path, user_model_dir
    from camera_app.registry import KNOWN_MODELS, pull

    if args.models_cmd == "list":
        for m in KNOWN_MODELS.values():
            print(f"{m.name:<32} {m.licence:<12} {m.description}")
        return 0
    if args.models_cmd == "path":
        for d in model_search_path():
            print(f"{d}{'' if d.is_dir() else '  (missing)'}")
        return 0
    dest = Path(args.dest) if args.dest else user_model_dir()

    def progress(url: str, done: int, total: int | None) -> None:
        pct = f" {100 * done / total:5.1f}%" if total else ""
        sys.stderr.write(f"\r{url}: {done / 1e6:6.1f} MB{pct}")
        sys.stderr.flush()

    folder = pull(args.name, dest, progress=progress)
    sys.stderr.write("\n")
    print(folder)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from camera_app.bench import run_bench

    return int(run_bench(args))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="camera-app",
        description="Real-time object detection for cameras, on the CPU. 'camera-app run' runs "
        "the demo camera, 'camera-app run --config FILE' your cameras; 'camera-app COMMAND "
        "--help' tells more of each command.",
    )
    p.add_argument("--version", action="version", version=f"camera-app {__version__}")
    p.add_argument(
        "--log-level",
        default=None,
        help="debug, info, warning, error (default: warning; run: from the config)",
    )
    p.add_argument(
        "--log-format",
        choices=["kv", "json"],
        default=None,
        help="key=value lines or JSON lines on stderr (default: kv; run: from the config)",
    )
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("detect", help="detect objects in image files")
    _add_model_args(d, model_required=True)
    d.add_argument("--json", action="store_true", help="one JSON line per image")
    d.add_argument("--output", "-o", help="annotated image (a folder when several images)")
    d.add_argument(
        "--max-image-megapixels", type=float, default=64.0,
        help="refuse larger images, read from the header before decoding (default: %(default)s)",
    )  # fmt: skip
    d.add_argument("images", nargs="+", help="image files (JPEG, PNG, BMP, ...)")
    d.set_defaults(func=cmd_detect)

    i = sub.add_parser("inspect", help="describe a model and say whether it runs here")
    i.add_argument("model", help="a .tflite file, a model folder, or a model name")
    _add_model_args(i, model_required=False)
    i.add_argument("--json", action="store_true", help="the report as one JSON object")
    i.set_defaults(func=cmd_inspect)

    m = sub.add_parser("models", help="list, locate and pull known models")
    msub = m.add_subparsers(dest="models_cmd", required=True)
    msub.add_parser("list", help="known models")
    msub.add_parser("path", help="the model search path")
    pl = msub.add_parser("pull", help="download a known model (sha256 verified)")
    pl.add_argument("name", help="a known model (camera-app models list)")
    pl.add_argument("--dest", help="root folder (default: the user's model cache)")
    m.set_defaults(func=cmd_models)

    b = sub.add_parser("bench", help="benchmarks, printed side by side")
    b.add_argument(
        "--model",
        "-m",
        action="append",
        help="model(s) to measure (repeatable); 'none': the preprocessing comparison only",
    )
    b.add_argument(
        "--repeat", type=int, default=200, help="timed calls per measurement (default: %(default)s)"
    )
    b.add_argument(
        "--threads", type=int, default=2, help="interpreter threads (default: %(default)s)"
    )
    b.add_argument("--image", default=None, help="frame to measure on (default: a shared image)")
    b.set_defaults(func=cmd_bench)

    from camera_app.runner import add_commands

    add_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level or "warning", args.log_format or "kv")
    try:
        code: int = args.func(args)
        return code
    except UserError as exc:
        print(f"camera-app: error: {redact_text(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except CameraAppError as exc:
        print(f"camera-app: error: {redact_text(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        # A bug, not a user error: say so in the log (journald keeps it), with the traceback.
        log.critical("camera-app crashed: %s", redact_text(repr(exc)), exc_info=True)
        return 1


def entry() -> NoReturn:
    """The ``camera-app`` command: ``main()``, then :func:`exit_process` with its code."""
    exit_process(main())


def exit_process(code: int) -> NoReturn:
    """End the process with ``code``, safely even while threads are still inside native code.

    A camera reader blocked inside OpenCV (a camera that never answers) cannot be interrupted
    and is abandoned; if the interpreter then tears down normally, C++ static destructors run
    while that thread is still inside FFmpeg: SIGSEGV or ``std::terminate`` after a clean stop,
    which systemd records as a failure. So with any thread left, logs and streams are flushed
    (every output was closed by ``App.stop()``) and the process ends at once with ``os._exit``.
    """
    left = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if not left:
        sys.exit(code)
    log.info("exiting with %d threads still running (%s)", len(left), ", ".join(sorted(left)))
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)
