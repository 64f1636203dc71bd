"""The detect_fps and motion keys: defaults, per-camera values read key by key over the
defaults, masks, and errors that name the key and the line."""

from __future__ import annotations

import textwrap

import pytest

from camera_app.config import AppConfig, parse_config
from camera_app.config_motion import MaskConfig, MotionConfig
from camera_app.errors import ConfigError
from camera_app.pipeline.gating import camera_gates


def parse(text: str) -> AppConfig:
    return parse_config(textwrap.dedent(text), "cfg.yaml", env={})


def test_defaults_detect_fps_and_motion_on() -> None:
    cfg = parse("cameras:\n  - {name: a, source: demo}\n")
    assert cfg.detection.detect_fps == 5.0
    assert cfg.motion == MotionConfig()
    assert cfg.motion.enabled
    policies, checks = camera_gates(cfg)
    assert policies["a"].detect_fps == 5.0
    assert policies["a"].gated
    assert policies["a"].keepalive_s == cfg.motion.keepalive_s
    assert set(checks) == {"a"}


def test_a_camera_reads_its_motion_keys_over_the_defaults() -> None:
    cfg = parse(
        """
        detection: {detect_fps: 2}
        motion: {threshold: 30, keepalive_s: 5}
        cameras:
          - name: yard
            detect_fps: 0
            motion:
              min_area: 0.01
              masks:
                - points: [[0, 0], [0.5, 0], [0.5, 0.5]]
                  normalized: true
                - {points: [[0, 600], [1920, 600], [1920, 1080]]}
          - name: hall
            motion: {enabled: false}
          - name: door
        """
    )
    yard, hall, door = cfg.cameras
    assert yard.motion is not None
    assert hall.motion is not None
    assert door.motion is None
    assert (yard.motion.threshold, yard.motion.min_area, yard.motion.keepalive_s) == (30, 0.01, 5)
    assert yard.motion.masks == (
        MaskConfig(((0, 0), (0.5, 0), (0.5, 0.5)), normalized=True),
        MaskConfig(((0, 600), (1920, 600), (1920, 1080))),
    )
    assert not hall.motion.enabled
    assert hall.motion.threshold == 30
    policies, checks = camera_gates(cfg)
    assert policies["yard"].detect_fps is None  # 0: as often as the model can
    assert policies["door"].detect_fps == 2
    assert policies["door"].keepalive_s == 5
    assert not policies["hall"].gated
    assert "hall" not in checks
    assert set(checks) == {"yard", "door"}


def test_a_file_read_with_realtime_false_has_every_frame_processed() -> None:
    # The defaults for all (detect_fps 5, motion on) are for live cameras: applied to a file
    # read as fast as inference goes, a wall-clock rate let one frame of a 100-frame clip
    # through, and a cut between scenes is no motion.
    cfg = parse(
        """
        detection: {detect_fps: 5}
        cameras:
          - {name: replay, source: /srv/clip.mp4, realtime: false}
          - {name: paced, source: /srv/clip.mp4}
          - {name: unpaced_demo, source: demo, realtime: false}
          - {name: quiet, source: /srv/frames, realtime: false, detect_fps: 0,
             motion: {enabled: false}}
        """
    )
    policies, checks = camera_gates(cfg)
    for name in ("replay", "quiet"):
        assert policies[name].detect_fps is None
        assert not policies[name].gated
        assert name not in checks
    for name in ("paced", "unpaced_demo"):  # a file at its frame rate; the demo is no file
        assert policies[name].detect_fps == 5.0
        assert policies[name].gated


@pytest.mark.parametrize(
    ("camera", "line", "key"),
    [
        ("{name: r, source: /srv/clip.mp4, realtime: false, detect_fps: 2}", 2, "detect_fps"),
        ("{name: r, source: /srv/clip.mp4, realtime: false, motion: {threshold: 9}}", 2, "motion"),
    ],
)
def test_a_file_read_with_realtime_false_takes_no_rate_or_gating(
    camera: str, line: int, key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(f"cameras:\n  - {camera}\n")
    assert str(caught.value) == (
        f"cfg.yaml:{line}: cameras[0].{key}: a file read with realtime: false has every frame "
        f"processed, so it takes no {key}; remove it, or set realtime: true to read the file "
        "at its own frame rate"
    )


CAM = "cameras:\n  - name: a\n    motion:\n      masks:\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("motion: {threshold: 0}\n", 1, "motion.threshold: expected an integer"),
        ("motion: {sensitivity: 3}\n", 1, "unknown key 'sensitivity' in motion"),
        ("detection: {detect_fps: -1}\n", 1, "detection.detect_fps: expected a number"),
        (
            CAM + "        - {points: [[0, 0], [1, 1]]}\n",
            5,
            "cameras[0].motion.masks[0].points: expected at least 3 [x, y] points",
        ),
        (
            CAM + "        - normalized: true\n          points: [[0, 0], [2, 0], [1, 1]]\n",
            6,
            "cameras[0].motion.masks[0].points: expected points in [0, 1] with normalized: true",
        ),
        (
            CAM + "        - {name: m, points: [[0, 0], [1, 0], [1, 1]]}\n",
            5,
            "unknown key 'name' in cameras[0].motion.masks[0]",
        ),
    ],
)
def test_errors_name_the_key_and_line(text: str, line: int, message: str) -> None:
    if "cameras" not in text:
        text += "cameras:\n  - {name: a}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "cfg.yaml", env={})
    assert message in str(info.value), str(info.value)
    assert info.value.line == line
