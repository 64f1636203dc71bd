"""Runs the real `camera-app` CLI with one fault the test can switch on: a hung inference.

    python -m tests.e2e.harness HANG_FILE camera-app-args...

While HANG_FILE exists, every Detector.invoke_in_place() blocks (like an interpreter stuck in a
delegate). Nothing else is changed: this is the real app, with a fault injected from outside.
"""

from __future__ import annotations

import os
import sys
import time

from camera_app.cli import exit_process, main
from camera_app.detect.detector import Detector

hang_file = sys.argv[1]
real_invoke = Detector.invoke_in_place


def invoke_in_place(self: Detector) -> object:
    while os.path.exists(hang_file):
        time.sleep(0.05)
    return real_invoke(self)


Detector.invoke_in_place = invoke_in_place  # type: ignore[method-assign,assignment]
exit_process(main(sys.argv[2:]))
