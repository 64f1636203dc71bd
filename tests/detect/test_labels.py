from __future__ import annotations

from pathlib import Path

import pytest

from camera_app.detect.labels import (
    Labels,
    check_fits,
    find_labels_beside,
    labels_from_file,
    parse_labels,
)
from camera_app.errors import LabelsError


@pytest.mark.parametrize(
    ("text", "offset", "expected", "expected_offset"),
    [
        ("???\nperson\nbicycle\n", None, {0: "person", 1: "bicycle"}, 1),
        ("background\nperson\n", None, {0: "person"}, 1),
        ("person\nbicycle\n", None, {0: "person", 1: "bicycle"}, 0),
        ("person\nbicycle\n", 1, {0: "bicycle"}, 1),
        ("0 person\n1 bicycle\n", None, {0: "person", 1: "bicycle"}, 0),
        ("1: person\n2: bicycle\n", None, {1: "person", 2: "bicycle"}, 0),
        ("1  person\n3  traffic light\n", 1, {0: "person", 2: "traffic light"}, 1),
        ("red\r\ngreen\r\n\r\n", None, {0: "red", 1: "green"}, 0),
    ],
)
def test_parse_labels(
    text: str, offset: int | None, expected: dict[int, str], expected_offset: int
) -> None:
    lb = parse_labels(text, "test", offset)
    assert dict(lb.names) == expected
    assert lb.offset == expected_offset


def test_empty_labels_file_is_an_error() -> None:
    with pytest.raises(LabelsError, match="empty"):
        parse_labels("\n\n", "labels.txt")


def test_unknown_id_gets_a_stable_name() -> None:
    assert Labels.none().name(7) == "class_7"


def test_allow_list_names_must_exist() -> None:
    lb = parse_labels("person\ncar\n", "x")
    assert lb.ids_for(("car",)) == frozenset({1})
    with pytest.raises(LabelsError, match="'bus'"):
        lb.ids_for(("bus",))


def test_an_unknown_name_gets_the_nearest_known_one_and_no_placeholder() -> None:
    lb = parse_labels("???\nperson\nbicycle\ncar\n", "coco.txt")
    with pytest.raises(LabelsError, match=r"'persn' is not in the labels \(coco.txt\); did you "
                       r"mean 'person'\?$"):  # fmt: skip
        lb.check_names(["person", "persn"])
    with pytest.raises(LabelsError) as exc:
        lb.check_names(["zebra"])  # nothing near: the known names, '???' not among them
    assert str(exc.value).endswith("known names include ['bicycle', 'car', 'person']")
    lb.check_names(["car", "person"])


def test_check_fits() -> None:
    lb = parse_labels("a\nb\n", "x")
    check_fits(lb, 2, "m")
    with pytest.raises(LabelsError, match="name 2 classes"):
        check_fits(lb, 3, "m")


def test_labels_found_beside_model(tmp_path: Path) -> None:
    (tmp_path / "model.tflite").write_bytes(b"")
    assert find_labels_beside(tmp_path / "model.tflite") is None
    (tmp_path / "labels_coco_80.txt").write_text("a\n")
    assert find_labels_beside(tmp_path / "model.tflite") == tmp_path / "labels_coco_80.txt"
    (tmp_path / "labelmap.txt").write_text("a\n")
    assert find_labels_beside(tmp_path / "model.tflite") == tmp_path / "labelmap.txt"


def test_unreadable_labels(tmp_path: Path) -> None:
    with pytest.raises(LabelsError, match="cannot read labels"):
        labels_from_file(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(LabelsError, match="not UTF-8"):
        labels_from_file(bad)
