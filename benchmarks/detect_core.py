"""Benchmark of the detection core; the same as `camera-app bench`.

CAMERA_APP_MODEL_PATH=../shared/models python benchmarks/detect_core.py --repeat 200
"""

from __future__ import annotations

import sys

from camera_app.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
