"""camera_app: real-time SSD object detection for CPU edge boxes."""

from __future__ import annotations

__version__ = "0.1.0"
