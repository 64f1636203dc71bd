from __future__ import annotations

import dataclasses
import logging
import textwrap
from pathlib import Path

import pytest

from camera_app.config import (
    AnchorsConfig,
    AppConfig,
    BackoffConfig,
    CameraConfig,
    ColourOrder,
    DetectionConfig,
    HttpConfig,
    LogFormat,
    LoggingConfig,
    LogLevel,
    MetricsConfig,
    ModelConfig,
    Normalization,
    OutputsConfig,
    ResizeMode,
    SourceKind,
    Transport,
    classify_source,
    default_config,
    load_config,
    parse_config,
    same_file,
)
from camera_app.errors import ConfigError, UserError
from camera_app.modes import Activation, RuntimeName
from camera_app.overrides import apply_overrides

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
SECRET = "s3cr%40t-Hunter2"  # percent-encoded, as a URL password should be


def parse(text: str, env: dict[str, str] | None = None, **kwargs: bool) -> AppConfig:
    return parse_config(textwrap.dedent(text), "cfg.yaml", env=env or {}, **kwargs)


def error(text: str, env: dict[str, str] | None = None, **kwargs: bool) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(text, env, **kwargs)
    return info.value


# ---- valid configs ---------------------------------------------------------------------------


def test_minimal_config_gets_the_documented_defaults() -> None:
    cfg = parse("cameras: [{}]")
    assert cfg == AppConfig(cameras=(CameraConfig(name="cam0"),))
    assert cfg.model == ModelConfig(
        path="ssd_mobilenet_v1_coco_quant",
        labels=None,
        label_offset=None,
        threads=2,
        interpreters=1,
        runtime=None,  # auto
        colour_order=ColourOrder.RGB,
        resize=None,
        normalization=Normalization(mean=None, std=None),
        score_activation=None,  # auto
        background_class=None,
        anchors=None,
    )
    assert cfg.detection == DetectionConfig(0.5, 0.5, 20, ())
    cam = cfg.cameras[0]
    assert (cam.source, cam.transport, cam.realtime, cam.loop) == (
        "demo",
        Transport.TCP,
        True,
        False,
    )
    assert (cam.open_timeout_s, cam.read_timeout_s, cam.stall_timeout_s) == (10.0, 5.0, 10.0)
    assert cam.backoff == BackoffConfig(initial_s=0.5, max_s=30.0, multiplier=2.0, jitter=0.2)
    assert cam.outputs == OutputsConfig(events=None, record=None, window=False, stream=True)
    assert (cam.outputs.record_segment_s, cam.outputs.record_max_mb) == (600.0, None)
    assert cfg.http == HttpConfig(enabled=True, address="127.0.0.1", port=8080)
    assert cfg.metrics == MetricsConfig(enabled=True, address="127.0.0.1", port=9108)
    assert cfg.logging == LoggingConfig(level=LogLevel.INFO, format=LogFormat.KV)


FULL = """\
model:
  path: models/ssd.tflite
  labels: models/coco.txt
  label_offset: 1
  threads: 4
  interpreters: 2
  runtime: tflite-runtime
  colour_order: bgr
  resize: letterbox
  normalization: {mean: 128, std: 128.0}
  score_activation: sigmoid
  background_class: true
  anchors:
    num_layers: 2
    min_scale: 0.1
    max_scale: 0.9
    aspect_ratios: [1, 2.0]
    interpolated_scale_aspect_ratio: 0
    reduce_boxes_in_lowest_layer: false
    feature_map_sizes: [19, 10]
detection:
  threshold: 0.25
  iou_threshold: 1
  max_detections: 50
  classes: [person, dog]
cameras:
  - name: front_door-1
    source: rtsp://admin:${PW}@10.0.0.2:554/s
    transport: udp
    width: 1280
    height: 720
    fps: 12.5
    fourcc: MJPG
    realtime: false
    loop: true
    threshold: 0.7
    classes: []
    open_timeout_s: 3
    read_timeout_s: 2.5
    stall_timeout_s: 1e1
    backoff: {initial_s: 1, max_s: 8, multiplier: 1.5, jitter: 0}
    outputs: {events: "-", record: /tmp/front.mp4, record_segment_s: 300, record_max_mb: 2000,
              window: true, stream: false}
  - source: 0
http: {enabled: false, address: "::", port: 0}
metrics: {enabled: false, address: 0.0.0.0, port: 9000}
logging: {level: debug, format: json}
"""


def test_full_config_round_trips_into_the_expected_values() -> None:
    cfg = parse(FULL, env={"PW": SECRET})
    expected = AppConfig(
        model=ModelConfig(
            path="models/ssd.tflite",
            labels="models/coco.txt",
            label_offset=1,
            threads=4,
            interpreters=2,
            runtime=RuntimeName.TFLITE_RUNTIME,
            colour_order=ColourOrder.BGR,
            resize=ResizeMode.LETTERBOX,
            normalization=Normalization(mean=128.0, std=128.0),
            score_activation=Activation.SIGMOID,
            background_class=True,
            anchors=AnchorsConfig(
                num_layers=2,
                min_scale=0.1,
                max_scale=0.9,
                aspect_ratios=(1.0, 2.0),
                interpolated_scale_aspect_ratio=0.0,
                reduce_boxes_in_lowest_layer=False,
                feature_map_sizes=(19, 10),
            ),
        ),
        detection=DetectionConfig(
            threshold=0.25, iou_threshold=1.0, max_detections=50, classes=("person", "dog")
        ),
        cameras=(
            CameraConfig(
                name="front_door-1",
                source=f"rtsp://admin:{SECRET}@10.0.0.2:554/s",
                transport=Transport.UDP,
                width=1280,
                height=720,
                fps=12.5,
                fourcc="MJPG",
                realtime=False,
                loop=True,
                threshold=0.7,
                classes=(),
                open_timeout_s=3.0,
                read_timeout_s=2.5,
                stall_timeout_s=10.0,
                backoff=BackoffConfig(initial_s=1.0, max_s=8.0, multiplier=1.5, jitter=0.0),
                outputs=OutputsConfig(
                    events="-",
                    record="/tmp/front.mp4",
                    record_segment_s=300.0,
                    record_max_mb=2000.0,
                    window=True,
                    stream=False,
                ),
            ),
            CameraConfig(name="cam1", source="0"),
        ),
        http=HttpConfig(enabled=False, address="::", port=0),
        metrics=MetricsConfig(enabled=False, address="0.0.0.0", port=9000),
        logging=LoggingConfig(level=LogLevel.DEBUG, format=LogFormat.JSON),
    )
    assert cfg == expected
    assert isinstance(cfg.model.normalization.mean, float)
    assert cfg.cameras[1].source_kind is SourceKind.WEBCAM


def test_enums_are_strings_that_print_as_their_yaml_value() -> None:
    cfg = parse("model: {colour_order: bgr, runtime: litert}\ncameras: [{}]")
    assert cfg.model.colour_order == "bgr"
    assert str(cfg.model.runtime) == "litert"
    assert f"{cfg.logging.level}" == "info"


@pytest.mark.parametrize(
    ("anchors", "expected"),
    [
        ("null", None),
        ("anchors.npy", "anchors.npy"),
        ("{}", AnchorsConfig()),
        (
            "{feature_map_sizes: [19, 10, 5, 3, 2, 1]}",
            AnchorsConfig(feature_map_sizes=(19, 10, 5, 3, 2, 1)),
        ),
    ],
)
def test_anchors_forms(anchors: str, expected: object) -> None:
    assert parse(f"model: {{anchors: {anchors}}}\ncameras: [{{}}]").model.anchors == expected


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("demo", SourceKind.DEMO),
        ("0", SourceKind.WEBCAM),
        ("/dev/video2", SourceKind.DEVICE),
        ("rtsp://h/s", SourceKind.RTSP),
        ("RTSPS://h/s", SourceKind.RTSP),
        ("http://h/v.mjpg", SourceKind.HTTP),
        ("https://h/v.mjpg", SourceKind.HTTP),
        ("clips/a.mp4", SourceKind.PATH),
        ("/srv/frames", SourceKind.PATH),
    ],
)
def test_classify_source(source: str, kind: SourceKind) -> None:
    assert classify_source(source) is kind


def test_null_sections_mean_defaults_and_cameras_optional_when_not_required() -> None:
    cfg = parse("model:\nhttp:\n", require_cameras=False)
    assert cfg == AppConfig()


def test_max_frame_megapixels_defaults_to_40_and_reaches_the_source_spec() -> None:
    from camera_app.app import source_spec

    cfg = parse("cameras: [{name: a, source: demo}, {name: b, max_frame_megapixels: 2.5}]")
    assert [c.max_frame_megapixels for c in cfg.cameras] == [40.0, 2.5]
    assert source_spec(cfg.cameras[1]).max_frame_pixels == 2_500_000
    assert "expected a number > 0" in str(error("cameras: [{max_frame_megapixels: 0}]"))


def test_http_max_viewers_defaults_to_10_and_is_bounded() -> None:
    assert parse("cameras: [{name: a}]").http.max_viewers == 10
    assert parse("cameras: [{name: a}]\nhttp: {max_viewers: 3}").http.max_viewers == 3
    message = str(error("cameras: [{name: a}]\nhttp: {max_viewers: 0}"))
    assert "http.max_viewers: expected an integer from 1 to 1000, got 0" in message


def test_merge_keys_from_an_x_anchor() -> None:
    cfg = parse(
        """\
        x-defaults: &d {realtime: false, stall_timeout_s: 3, source: demo}
        cameras:
          - {<<: *d, name: a}
          - {<<: *d, name: b, realtime: true}
        """
    )
    assert [(c.name, c.realtime, c.stall_timeout_s) for c in cfg.cameras] == [
        ("a", False, 3.0),
        ("b", True, 3.0),
    ]


# ---- environment interpolation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        ("${A}", {"A": "x.mp4"}, "x.mp4"),
        ("${A:-d.mp4}", {}, "d.mp4"),
        ("${A:-d.mp4}", {"A": ""}, "d.mp4"),
        ("${A:-d.mp4}", {"A": "set.mp4"}, "set.mp4"),
        ("clips/${A}_${B}.mp4", {"A": "x", "B": "y"}, "clips/x_y.mp4"),
        ("'$${A}.mp4'", {"A": "x"}, "${A}.mp4"),
        ("${A}", {"A": "a: [b, c]"}, "a: [b, c]"),  # filled in after parsing: never YAML
    ],
)
def test_interpolation(value: str, env: dict[str, str], expected: str) -> None:
    cfg = parse(f"cameras:\n  - source: {value}\n", env=env)
    assert cfg.cameras[0].source == expected


def test_interpolated_numbers_and_booleans_are_typed() -> None:
    cfg = parse(
        """\
        http: {port: "${PORT:-8081}", enabled: "${ON}"}
        detection: {threshold: "${T}"}
        cameras: [{name: "${N}"}]
        """,
        env={"ON": "false", "T": "0.3", "N": "yes"},
    )
    assert (cfg.http.port, cfg.http.enabled, cfg.detection.threshold) == (8081, False, 0.3)
    assert cfg.cameras[0].name == "yes"  # a string field keeps the string


def test_source_is_kept_in_full_but_repr_redacts_it() -> None:
    cfg = parse("cameras:\n  - source: rtsp://admin:${PW}@10.0.0.2/s\n", env={"PW": SECRET})
    cam = cfg.cameras[0]
    assert cam.source == f"rtsp://admin:{SECRET}@10.0.0.2/s"
    assert cam.display_source == "rtsp://***:***@10.0.0.2/s"
    for text in (repr(cam), repr(cfg), str(cfg)):
        assert SECRET not in text
        assert "admin" not in text
        assert "rtsp://***:***@10.0.0.2/s" in text


# ---- errors: message and line ----------------------------------------------------------------

ERRORS = [
    # unknown keys, with a suggestion or the list of valid keys
    (
        "detection:\n  treshold: 0.3\n",
        2,
        "unknown key 'treshold' in detection; did you mean 'threshold'?",
    ),
    (
        "cameras:\n  - name: a\n    sourse: demo\n",
        3,
        "unknown key 'sourse' in cameras[0]; did you mean 'source'?",
    ),
    (
        "cameras: [{}]\nzzz: 1\n",
        2,
        "unknown key 'zzz' at the top level; expected one of: model, detection",
    ),
    ("cameras:\n- backoff:\n    jiter: 1\n", 3, "in cameras[0].backoff; did you mean 'jitter'?"),
    # duplicates
    (
        "cameras: [{}]\nhttp:\n  port: 1\n  port: 2\n",
        4,
        "duplicate key 'port' in http (first at line 3)",
    ),
    (
        "cameras:\n  - name: a\n  - name: b\n  - name: a\n",
        4,
        "cameras[2].name: duplicate camera name 'a' (also cameras[0].name at line 2)",
    ),
    ("cameras:\n  - name: cam1\n  - {}\n", 3, "cameras[1]: duplicate camera name 'cam1'"),
    (
        "cameras:\n  - name: a\n    outputs: {record: /tmp/x.mp4}\n"
        "  - name: b\n    outputs: {record: /tmp/x.mp4}\n",
        5,
        "cameras[1].outputs: cameras 'a' and 'b' both record to /tmp/x.mp4",
    ),
    (
        "cameras:\n  - name: a\n    outputs: {events: /tmp/e.jsonl, events_max_mb: 5}\n"
        "  - name: b\n    outputs: {events: /tmp/e.jsonl}\n",
        5,
        "cameras 'a' and 'b' write events to /tmp/e.jsonl with different events_max_mb",
    ),
    (  # one file, spelled two ways
        "cameras:\n  - name: a\n    outputs: {record: /tmp/x.mp4}\n"
        "  - name: b\n    outputs: {record: /tmp/./y/../x.mp4}\n",
        5,
        "cameras[1].outputs: cameras 'a' and 'b' both record to /tmp/./y/../x.mp4",
    ),
    (
        "cameras:\n  - name: a\n    outputs: {events: /tmp/e.jsonl, events_max_mb: 5}\n"
        "  - name: b\n    outputs: {events: /tmp//e.jsonl, events_max_mb: 6}\n",
        5,
        "cameras 'a' and 'b' write events to /tmp//e.jsonl with different events_max_mb",
    ),
    (
        "cameras:\n  - outputs: {record_segment_s: 0}\n",
        2,
        "cameras[0].outputs.record_segment_s: expected a number",
    ),
    # types
    (
        "model:\n  threads: two\ncameras: [{}]\n",
        2,
        "model.threads: expected an integer from 1 to 64, got 'two'",
    ),
    (
        "model:\n  threads: 2.0\ncameras: [{}]\n",
        2,
        "model.threads: expected an integer from 1 to 64, got 2.0",
    ),
    (
        "model:\n  threads: true\ncameras: [{}]\n",
        2,
        "model.threads: expected an integer from 1 to 64, got true",
    ),
    ("cameras:\n  - realtime: 'no'\n", 2, "cameras[0].realtime: expected true or false, got 'no'"),
    (
        "cameras:\n  - name: [a]\n",
        2,
        "cameras[0].name: expected a name of 1 to 64 letters, digits, '_' or '-', got a list",
    ),
    (
        "detection:\n  classes: person\ncameras: [{}]\n",
        2,
        "detection.classes: expected a list, got 'person'",
    ),
    (
        "detection:\n  classes: [person, 3]\ncameras: [{}]\n",
        2,
        "detection.classes[1]: expected a class name, got 3",
    ),
    ("model: [a]\ncameras: [{}]\n", 1, "model: expected a mapping, got a list"),
    ("- a\n- b\n", 1, "expected a mapping, got a list"),
    ("cameras:\n  -\n", 2, "cameras[0]: expected a mapping with the camera's settings, got null"),
    (
        "cameras: [{}]\nmodel: {anchors: [1]}\n",
        2,
        "model.anchors: expected a path to an anchors file or a mapping of "
        "ssd_anchor_generator settings or null, got a list",
    ),
    (
        "cameras: [{fps: !!binary aGk=}]\n",
        1,
        "cameras[0].fps: unsupported YAML tag tag:yaml.org,2002:binary",
    ),
    (  # a tagged list is named by its tag, not "expected a list, got a list"
        'cameras: !!python/object/apply:os.system ["echo hi"]\n',
        1,
        "cameras: unsupported YAML tag tag:yaml.org,2002:python/object/apply:os.system",
    ),
    (
        'cameras:\n  - name: a\n    source: !!python/object/apply:os.system ["echo"]\n',
        3,
        "cameras[0].source: expected demo, a webcam index, /dev/videoN, an rtsp://, rtsps://, "
        "http:// or https:// URL, or a video file or image folder path, got a value with the "
        "unsupported YAML tag tag:yaml.org,2002:python/object/apply:os.system",
    ),
    # ranges and enums
    ("model:\n  threads: 0\ncameras: [{}]\n", 2, "got 0"),
    (
        "model:\n  interpreters: 17\ncameras: [{}]\n",
        2,
        "model.interpreters: expected an integer from 1 to 16, got 17",
    ),
    (
        "detection:\n  threshold: 0\ncameras: [{}]\n",
        2,
        "detection.threshold: expected a number > 0 and <= 1, got 0",
    ),
    ("detection:\n  iou_threshold: 1.5\ncameras: [{}]\n", 2, "got 1.5"),
    (
        "detection:\n  threshold: .nan\ncameras: [{}]\n",
        2,
        "detection.threshold: expected a number > 0 and <= 1, got nan",
    ),
    (
        "detection:\n  max_detections: 0\ncameras: [{}]\n",
        2,
        "detection.max_detections: expected an integer >= 1, got 0",
    ),
    (
        "model:\n  normalization: {std: 0}\ncameras: [{}]\n",
        2,
        "model.normalization.std: expected a number > 0 or null, got 0",
    ),
    (
        "model:\n  colour_order: rbg\ncameras: [{}]\n",
        2,
        "model.colour_order: expected one of: rgb, bgr, got 'rbg'",
    ),
    (
        "model:\n  background_class: maybe\ncameras: [{}]\n",
        2,
        "expected auto, true or false, got 'maybe'",
    ),
    (
        "model:\n  anchors:\n    min_scale: 0.5\n    max_scale: 0.4\ncameras: [{}]\n",
        4,
        "model.anchors.max_scale: expected a number >= min_scale (0.5), got 0.4",
    ),
    (
        "model:\n  anchors:\n    num_layers: 2\n    feature_map_sizes: [1]\ncameras: [{}]\n",
        4,
        "expected 2 sizes (one per layer, as num_layers), got 1",
    ),
    (
        "model:\n  anchors:\n    aspect_ratios: []\ncameras: [{}]\n",
        3,
        "model.anchors.aspect_ratios: expected at least 1 item(s), got 0",
    ),
    (
        "cameras:\n  - backoff:\n      initial_s: 5\n      max_s: 1\n",
        4,
        "cameras[0].backoff.max_s: expected a number >= initial_s (5), got 1",
    ),
    ("cameras:\n  - backoff: {multiplier: 0.5}\n", 2, "expected a number >= 1, got 0.5"),
    ("cameras:\n  - name: front cam\n", 2, "cameras[0].name: expected a name of 1 to 64 letters"),
    ("cameras:\n  - source: -1\n", 2, "cameras[0].source: expected demo, a webcam index"),
    ("cameras:\n  - source: ''\n", 2, "got ''"),
    ("cameras:\n  - source: rtmp://h/live\n", 2, "got 'rtmp://h/live'"),
    ("cameras:\n  - source: rtsp:///live\n", 2, "expected a URL with a host after rtsp://"),
    # A raw "/" (or "?", "#") in a password: FFmpeg would resolve "ss" as the host; the
    # message shows none of it.
    (
        "cameras:\n  - source: rtsp://admin:p@ss/w0rd@127.0.0.1:8554/stream\n",
        2,
        "cameras[0].source: expected a URL whose user name and password have '/', '?' and '#' "
        "percent-encoded (%2F, %3F, %23), or ${credential:NAME}, which is encoded for you, "
        "got 'rtsp://***'",
    ),
    ("cameras:\n  - source: rtsp://u:a?b@cam/x\n", 2, "percent-encoded (%2F, %3F, %23)"),
    ("cameras:\n  - source: rtsp://u:a#b@cam/x\n", 2, "percent-encoded (%2F, %3F, %23)"),
    (
        "cameras:\n  - source: rtsp://u:100%sure@cam/x\n",
        2,
        "cameras[0].source: expected a URL whose user name and password have '%' written as %25, "
        "got 'rtsp://***:***@cam/x'",
    ),
    (
        "cameras:\n  - fourcc: MJPEG\n",
        2,
        "cameras[0].fourcc: expected a 4-character code such as MJPG or null, got 'MJPEG'",
    ),
    (
        "cameras:\n  - width: 0\n",
        2,
        "cameras[0].width: expected an integer from 1 to 16384 or null, got 0",
    ),
    ("cameras:\n  - read_timeout_s: 0\n", 2, "expected a number > 0 and <= 3600, got 0"),
    (
        "cameras:\n  - source: /dev/video0\n    transport: udp\n",
        3,
        "cameras[0].transport: udp applies to rtsp:// and rtsps:// sources only",
    ),
    (
        "cameras:\n  - outputs: {events: ''}\n",
        2,
        "cameras[0].outputs.events: expected '-' for stdout or a file path or null",
    ),
    (
        "cameras: [{}]\nhttp:\n  port: 70000\n",
        3,
        "http.port: expected an integer from 0 to 65535, got 70000",
    ),
    (
        "cameras: [{}]\nhttp:\n  address: http://0.0.0.0\n",
        3,
        "http.address: expected a listen address",
    ),
    (
        "cameras: [{}]\nmetrics:\n  port: 8080\n",
        3,
        "metrics.port: 8080 is also http.port; pick another port",
    ),
    (
        "cameras: [{}]\nlogging:\n  level: verbose\n",
        3,
        "logging.level: expected one of: debug, info, warning, error, got 'verbose'",
    ),
    # missing cameras, empty file, bad YAML
    ("model: {threads: 2}\n", 1, "expected at least one camera under 'cameras:', got none"),
    ("cameras: []\n", 1, "cameras: expected at least one camera"),
    ("", 1, "the file is empty"),
    ("# only a comment\n", 1, "the file is empty"),
    ("cameras:\n  - name: a\n   source: b\n", 3, "invalid YAML"),
    ("cameras: [{}]\nhttp: {port: 1\n", 3, "invalid YAML"),
    ("a: 1\n---\nb: 2\n", 2, "invalid YAML: expected a single document in the stream"),
    # The parser's words, and what they usually mean in a hand-written config.
    ("cameras:\n\t- source: demo\n", 2, "(YAML indents with spaces, not tabs)"),
    (
        "cameras:\n  - source: rtsp://a: b\n",
        2,
        "mapping values are not allowed here (a key's indentation is off, or a value with ': ' in "
        "it needs quotes)",
    ),
    (
        "cameras:\n  - source: demo\n   name: x\n",
        3,
        "(an item indented less or more than the ones before it)",
    ),
    ('cameras:\n  - source: "demo\n', 3, "found unexpected end of stream (a quote left open)"),
    ("cameras:\n  - *nope\n", 2, "found undefined alias 'nope' (a *name with no &name before it)"),
    # interpolation
    (
        "cameras:\n  - source: rtsp://u:${NOPE}@h/s\n",
        2,
        "cameras[0].source: environment variable NOPE is not set (used as ${NOPE})",
    ),
    (
        "cameras:\n  - source: ${1BAD}\n",
        2,
        "bad interpolation '${1BAD'; expected ${NAME} or ${NAME:-default}",
    ),
    ("cameras:\n  - source: abc${OPEN\n", 2, "bad interpolation"),
]


@pytest.mark.parametrize(("text", "line", "message"), ERRORS)
def test_errors_name_the_key_path_and_line(text: str, line: int, message: str) -> None:
    err = error(text)
    assert message in str(err)
    assert err.line == line
    assert err.path == "cfg.yaml"
    assert str(err).startswith(f"cfg.yaml:{line}: ")


def test_config_error_is_a_user_error_and_a_value_error() -> None:
    err = error("")
    assert isinstance(err, UserError)
    assert isinstance(err, ValueError)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "http: {port: '${P}'}\ncameras: [{}]\n",
            1,
            "http.port: expected an integer from 0 to 65535, got the value of ${P} (not shown)",
        ),
        ("cameras:\n  - fps: ${P}\n", 2, "got the value of ${P} (not shown)"),
        ("cameras:\n  - source: ftp://u:${P}@h/\n", 2, "got the value of ${P} (not shown)"),
        ("cameras:\n  - name: ${P}\n", 2, "cameras[0].name: expected a name of 1 to 64"),
        ("logging: {level: '${P}'}\ncameras: [{}]\n", 1, "logging.level: expected one of"),
    ],
)
def test_errors_never_show_an_interpolated_value(text: str, line: int, message: str) -> None:
    err = error(text, env={"P": "hunter2 p@ss"})
    assert message in str(err)
    assert err.line == line
    for part in ("hunter2", "p@ss"):
        assert part not in str(err)


def test_errors_redact_urls_written_in_the_file() -> None:
    err = error("cameras:\n  - source: ftp://admin:hunter2@h/x\n")
    assert "ftp://***:***@h/x" in str(err)


@pytest.mark.parametrize(
    "source",
    ["rtmp://admin:Space Secret@10.0.0.1/live", "rtsp://admin:No Secret@:554/live"],
)
def test_errors_redact_a_url_with_a_raw_space_in_its_password(source: str) -> None:
    # In free text a URL ends at a space; a config value is one URL, whatever it holds.
    err = error(f"cameras:\n  - {{name: a, source: '{source}'}}\n")
    assert "Secret" not in str(err)
    assert "***:***@" in str(err)


@pytest.mark.parametrize(
    ("value", "kind"),
    [("987654321", "an integer"), ("0x1F2E", "an integer"), ("3.14159", "a number"),
     ("true", "a boolean")],
)  # fmt: skip
def test_errors_never_show_what_a_password_key_holds(value: str, kind: str) -> None:
    text = f"mqtt: {{host: h, username: u, password: {value}}}\ncameras: [{{name: a}}]\n"
    err = error(text)
    assert f"mqtt.password: expected a password or null, got {kind} (not shown)" in str(err)
    for shown in (value, "7982", "3.14"):
        assert shown not in str(err)
    assert "hunter2" not in str(err)
    assert "admin" not in str(err)


# ---- files -----------------------------------------------------------------------------------


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("cameras:\n  - name: x\n    source: clip.mp4\n", encoding="utf-8")
    cfg = load_config(path, env={})
    assert cfg.cameras == (CameraConfig(name="x", source="clip.mp4"),)


def test_load_config_errors_carry_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("cameras:\n  - nmae: x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.path == str(path)
    assert str(info.value).startswith(f"{path}:2: unknown key 'nmae' in cameras[0]")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the config file (No such file or directory)"),
        (b"\xff\xfe\x00", "not UTF-8"),
    ],
)
def test_load_config_unreadable(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "c.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
    assert info.value.path == str(path)


EXAMPLE_ENV = {"CAMERA_PASSWORD": "pa%2Fss", "FRONT_PASSWORD": "f1", "GARAGE_PASSWORD": "g2"}


def test_example_demo() -> None:
    cfg = load_config(CONFIG_DIR / "demo.yaml", env={})
    assert [(c.name, c.source_kind, c.loop, c.outputs.events) for c in cfg.cameras] == [
        ("demo", SourceKind.DEMO, True, "-")
    ]


def test_example_webcam() -> None:
    cfg = load_config(CONFIG_DIR / "webcam.yaml", env={})
    (cam,) = cfg.cameras
    assert (cam.source_kind, cam.width, cam.height, cam.fps, cam.fourcc) == (
        SourceKind.DEVICE,
        1280,
        720,
        30.0,
        "MJPG",
    )
    assert cam.outputs.window is True
    assert cfg.detection.classes == ("person", "car")
    assert cfg.detection.threshold == 0.55


def test_example_rtsp_takes_the_password_from_the_environment() -> None:
    cfg = load_config(CONFIG_DIR / "rtsp.yaml", env=EXAMPLE_ENV)
    (cam,) = cfg.cameras
    assert cam.source == "rtsp://admin:pa%2Fss@192.168.1.64:554/Streaming/Channels/101"
    assert "pa%2Fss" not in repr(cfg)
    assert cam.backoff == BackoffConfig(initial_s=1.0, max_s=60.0, multiplier=2.0, jitter=0.2)
    assert cam.outputs.record == "/var/lib/camera-app/driveway.mkv"
    assert (cfg.http.address, cfg.http.port) == ("0.0.0.0", 8080)
    assert (
        load_config(
            CONFIG_DIR / "rtsp.yaml", env={**EXAMPLE_ENV, "CAMERA_APP_HTTP_PORT": "8090"}
        ).http.port
        == 8090
    )


def test_example_rtsp_without_the_password_says_which_variable() -> None:
    path = CONFIG_DIR / "rtsp.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "${CAMERA_PASSWORD}" in text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.line == line
    assert "cameras[0].source: environment variable CAMERA_PASSWORD is not set" in str(info.value)


def test_example_multi() -> None:
    cfg = load_config(CONFIG_DIR / "multi.yaml", env=EXAMPLE_ENV)
    got = [(c.name, c.source_kind, c.transport, c.stall_timeout_s) for c in cfg.cameras]
    assert got == [
        ("front-door", SourceKind.RTSP, Transport.TCP, 15.0),
        ("garage", SourceKind.RTSP, Transport.UDP, 15.0),
        ("yard", SourceKind.HTTP, Transport.TCP, 10.0),
        ("replay", SourceKind.PATH, Transport.TCP, 10.0),
    ]
    front, garage, _, replay = cfg.cameras
    assert front.source == "rtsp://viewer:f1@10.0.0.21:554/stream1"
    assert front.classes == ("person",)
    assert garage.threshold == 0.6
    assert (replay.realtime, replay.loop, replay.outputs.stream) == (False, True, False)
    assert (cfg.model.interpreters, cfg.logging.format) == (2, LogFormat.JSON)


def test_every_example_file_is_tested() -> None:
    names = {p.name for p in CONFIG_DIR.glob("*.yaml")}
    # objects.yaml: tests/objects/test_config.py
    assert names == {"demo.yaml", "webcam.yaml", "rtsp.yaml", "multi.yaml", "yolo.yaml",
                     "objects.yaml"}  # fmt: skip


def test_yolo_example_leaves_the_input_to_the_family() -> None:
    cfg = load_config(str(CONFIG_DIR / "yolo.yaml"))
    assert cfg.model.path == "ultralytics_yolov8n_coco_640_int8"
    assert cfg.model.resize is None
    assert cfg.model.normalization == Normalization(None, None)


# ---- overrides and defaults ------------------------------------------------------------------


def test_default_config_is_one_demo_camera() -> None:
    cfg = default_config()
    assert [(c.name, c.source) for c in cfg.cameras] == [("demo", "demo")]
    assert cfg.model == ModelConfig()


def test_sources_override_replaces_the_cameras() -> None:
    base = parse("cameras:\n  - {name: a, source: demo, loop: true}\n")
    cfg = apply_overrides(base, sources=["0", "rtsp://u:p@h/s", "clip.mp4"])
    assert cfg.cameras == (
        CameraConfig(name="cam0", source="0"),
        CameraConfig(name="cam1", source="rtsp://u:p@h/s"),
        CameraConfig(name="cam2", source="clip.mp4"),
    )
    assert base.cameras[0].name == "a"  # the original is untouched (frozen)


def test_a_password_in_source_is_warned_about_without_showing_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``ps`` shows every user the command line: the password belongs in the config."""
    base = default_config()
    sources = ["0", f"rtsp://admin:{SECRET}@cam/s", "rtsp://cam/s?channel=1",
               f"rtsp://{SECRET}@cam/s", f"http://cam/v?loginpas={SECRET}"]  # fmt: skip
    apply_overrides(base, sources=sources)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w.partition(" has ")[0] for w in warnings] == [
        "--source for cam1", "--source for cam3", "--source for cam4"
    ]  # fmt: skip
    assert warnings[0].startswith("--source for cam1 has credentials or a token in it")
    assert "${credential:NAME}" in warnings[0]
    assert SECRET not in caplog.text
    assert "admin" not in caplog.text


def test_model_threads_and_events_overrides() -> None:
    base = parse("cameras: [{name: a}, {name: b, outputs: {window: true}}]")
    cfg = apply_overrides(base, model="other.tflite", threads=3, events="-")
    assert (cfg.model.path, cfg.model.threads) == ("other.tflite", 3)
    assert [c.outputs.events for c in cfg.cameras] == ["-", "-"]
    assert cfg.cameras[1].outputs.window is True
    assert apply_overrides(base) == base


def test_events_override_applies_to_override_sources() -> None:
    cfg = apply_overrides(default_config(), sources=["a.mp4", "b.mp4"], events="out.jsonl")
    assert [(c.name, c.outputs.events) for c in cfg.cameras] == [
        ("cam0", "out.jsonl"),
        ("cam1", "out.jsonl"),
    ]


def test_events_override_refuses_cameras_with_different_limits() -> None:
    base = parse(
        "cameras:\n  - {name: a, outputs: {events_max_mb: 5}}\n"
        "  - {name: b, outputs: {events_max_mb: 7}}\n"
    )
    with pytest.raises(ConfigError) as info:
        apply_overrides(base, events="out.jsonl")
    assert str(info.value) == (
        "--events: cameras 'a' and 'b' would write events to out.jsonl with different "
        "events_max_mb; give them the same value in the config"
    )
    # stdout is not rotated: no limit applies, so no conflict
    assert [c.outputs.events for c in apply_overrides(base, events="-").cameras] == ["-", "-"]


def test_same_file_names_one_file_however_spelled(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    spellings = [
        str(tmp_path / "real" / "e.jsonl"),
        str(tmp_path / "link" / "e.jsonl"),
        f"{tmp_path}/real/./e.jsonl",
        f"{tmp_path}//real/../real/e.jsonl",
    ]
    assert len({same_file(p) for p in spellings}) == 1
    assert same_file(str(tmp_path / "real" / "f.jsonl")) != same_file(spellings[0])
    assert same_file("-") == "-"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threads": 0}, "--threads: expected an integer from 1 to 64, got 0"),
        ({"threads": 65}, "--threads: expected an integer from 1 to 64, got 65"),
        ({"model": " "}, "--model: expected a non-empty path, got ' '"),
        ({"events": ""}, "--events: expected '-' for stdout or a file path, got ''"),
        ({"sources": ["demo", "ftp://u:hunter2@h/x"]}, "--source: expected demo, a webcam index"),
        (
            {"sources": ["rtsp://u:hunter2@/x"]},
            "--source: expected a URL with a host after rtsp://, got 'rtsp://***:***@/x'",
        ),
    ],
)
def test_override_errors_name_the_flag(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        apply_overrides(default_config(), **kwargs)  # type: ignore[arg-type]
    assert str(info.value).startswith(message)
    assert (info.value.path, info.value.line) == (None, None)
    assert "hunter2" not in str(info.value)


def test_config_is_frozen() -> None:
    cfg = default_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.cameras[0].source = "x"  # type: ignore[misc]


def test_cameras_may_share_an_events_file_with_the_same_rotation() -> None:
    cfg = parse(
        "cameras:\n"
        "  - name: a\n    outputs: {events: /tmp/e.jsonl, events_max_mb: 5, record: /tmp/a.mp4}\n"
        "  - name: b\n    outputs: {events: /tmp/e.jsonl, events_max_mb: 5, record: /tmp/b.mp4}\n"
        "  - name: c\n    outputs: {events: '-'}\n"
        "  - name: d\n    outputs: {events: '-', events_max_mb: 1}\n"
    )
    assert [c.outputs.events_max_mb for c in cfg.cameras] == [5.0, 5.0, None, 1.0]


@pytest.mark.parametrize(
    ("value", "want"),
    [("auto", None), ("letterbox", ResizeMode.LETTERBOX), ("stretch", ResizeMode.STRETCH)],
)
def test_resize_defaults_to_the_model_family(value: str, want: ResizeMode | None) -> None:
    """auto (the default): SSD stretch, YOLO letterbox; either can be forced."""
    assert parse(f"model:\n  resize: {value}\ncameras: [{{}}]").model.resize is want


def test_resize_rejects_other_values() -> None:
    err = error("model:\n  resize: crop\ncameras: [{}]\n")
    assert "model.resize: expected one of: auto, stretch, letterbox" in str(err)


@pytest.mark.parametrize("source", ["rtsp:/admin:OneSlash52@h:554/cam", "http:cam/x"])
def test_a_url_scheme_without_its_slashes_is_an_error_not_a_path(source: str) -> None:
    err = error(f"cameras:\n  - {{name: a, source: '{source}'}}\n")
    assert "expected a URL written " in str(err)
    assert "OneSlash52" not in str(err)


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ("{record: /tmp/a.mkv, record_segment_s: 1e-300}",
         "outputs.record_segment_s: expected a number >= 1"),
        ("{events: /tmp/e.jsonl, events_max_mb: 1e-9}",
         "outputs.events_max_mb: expected a number >= 0.01"),
    ],
)  # fmt: skip
def test_sizes_too_small_to_be_meant_are_refused(outputs: str, message: str) -> None:
    # A segment of 1e-300 s wrote a file per result; 1e-9 MB of events kept one line.
    err = error(f"cameras:\n  - {{name: a, outputs: {outputs}}}\n")
    assert message in str(err)


def test_a_password_from_the_environment_with_a_raw_slash_is_refused_unshown() -> None:
    text = "cameras:\n  - source: rtsp://admin:${CAMPW}@10.0.0.5:554/stream\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml", env={"CAMPW": "p@ss/w0rd"})
    message = str(caught.value)
    assert message.startswith("c.yaml:2: cameras[0].source: expected a URL whose user name")
    assert message.endswith("got the value of ${CAMPW} (not shown)")
    assert "w0rd" not in message
    assert "p@ss" not in message
    # Percent-encoded, it is one password, and the URL is taken.
    cfg = parse_config(text, "c.yaml", env={"CAMPW": "p%40ss%2Fw0rd"})
    assert cfg.cameras[0].source == "rtsp://admin:p%40ss%2Fw0rd@10.0.0.5:554/stream"
