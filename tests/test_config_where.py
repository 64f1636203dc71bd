"""The file and line of a key path, for config errors found after the config was read."""

from __future__ import annotations

from pathlib import Path

import pytest

from camera_app.config_where import key_line, located
from camera_app.errors import ConfigError

CONFIG = """\
x-cam: &cam
  classes: [person, kat]
model:
  path: some_model
cameras:
  - source: demo
  - name: door
    <<: *cam
    source: demo
    outputs:
      events: /nowhere/e.jsonl
mqtt:
  host: 127.0.0.1
  home_assistant: {enabled: true, labels: [preson]}
"""


@pytest.mark.parametrize(
    ("message", "line"),
    [
        ("mqtt.home_assistant.labels: class name 'preson' ...", 14),
        ("cameras.door.outputs.events: cannot write ...", 11),
        ("cameras.door.classes: class name 'kat' ...", 2),  # from the merged anchor
        ("cameras.cam0.classes: ...", 6),  # unnamed: its default name; no classes: its item
        ("cameras.door.objects.snapshots: ...", 7),  # not in the file: the nearest key in it
        ("model.path: ...", 4),
        ("cameras.yard: ...", 5),  # no such camera: the list
        ("nothing: ...", None),
        ("no cameras configured; add one", None),  # no key path
        ("cameras 'a' and 'b' write events to one file", None),
    ],
)
def test_the_line_of_a_key_path(tmp_path: Path, message: str, line: int | None) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    assert key_line(str(path), message) == line


def test_located_gives_an_error_its_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    with pytest.raises(ConfigError) as caught, located(str(path)):
        raise ConfigError("cameras.door.outputs.events: cannot write /nowhere/e.jsonl")
    assert (
        str(caught.value) == f"{path}:11: cameras.door.outputs.events: cannot write "
        "/nowhere/e.jsonl"
    )
    assert (caught.value.path, caught.value.line) == (str(path), 11)


def test_located_leaves_other_errors_alone(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    already = ConfigError("fps: expected a positive number", path="other.yaml", line=3)
    with pytest.raises(ConfigError) as caught, located(str(path)):
        raise already
    assert caught.value is already
    # No file (cameras from --source), and a file changed since: the error stays as it was.
    with pytest.raises(ConfigError, match=r"^cameras\.door: x$"), located(None):
        raise ConfigError("cameras.door: x")
    path.write_text("- not: a mapping\n")
    with pytest.raises(ConfigError, match=r"^cameras\.door: x$"), located(str(path)):
        raise ConfigError("cameras.door: x")
    with pytest.raises(ValueError, match=r"^not ours$"), located(str(path)):
        raise ValueError("not ours")
