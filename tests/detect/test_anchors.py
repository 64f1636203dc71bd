from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from camera_app.detect.anchors import (
    AnchorConfig,
    anchors_from_corners,
    default_feature_map_sizes,
    generate_anchors,
    load_anchors_file,
)
from tests.shared import MODELS, need_shared


def test_generator_reproduces_the_tf1_ssd300_reference_anchors() -> None:
    need_shared()
    ref = load_anchors_file(MODELS / "anchors_reference_ssd300_1917_box_priors.txt")
    got = generate_anchors(AnchorConfig(), (300, 300))
    assert got.shape == ref.shape == (1917, 4)
    assert np.abs(got - ref).max() < 1e-6


@pytest.mark.parametrize(
    ("size", "expected"),
    [(300, (19, 10, 5, 3, 2, 1)), (320, (20, 10, 5, 3, 2, 1)), (256, (16, 8, 4, 2, 1, 1))],
)
def test_default_feature_maps(size: int, expected: tuple[int, ...]) -> None:
    assert default_feature_map_sizes(size, 6) == expected


@pytest.mark.parametrize(("size", "count"), [(300, 1917), (320, 2034)])
def test_anchor_counts(size: int, count: int) -> None:
    assert generate_anchors(AnchorConfig(), (size, size)).shape == (count, 4)


def test_first_cell_box_specs() -> None:
    a = generate_anchors(AnchorConfig(), (300, 300))
    # Lowest layer, reduced: (0.1, 1), (0.2, 2), (0.2, 0.5) at the centre of cell (0, 0).
    c = 0.5 / 19
    expected = [
        [c, c, 0.1, 0.1],
        [c, c, 0.2 / np.sqrt(2), 0.2 * np.sqrt(2)],
        [c, c, 0.2 / np.sqrt(0.5), 0.2 * np.sqrt(0.5)],
    ]
    np.testing.assert_allclose(a[:3], expected, rtol=1e-6)


def test_anchor_file_layouts(tmp_path: Path) -> None:
    rows = tmp_path / "rows.txt"
    rows.write_text("0.5 0.5 0.2 0.1\n0.25 0.75 0.5 0.5\n")
    cols = tmp_path / "cols.txt"
    cols.write_text("0.5 0.25 0.1\n0.5 0.75 0.1\n0.2 0.5 0.1\n0.1 0.5 0.1\n")
    np.testing.assert_allclose(
        load_anchors_file(rows), [[0.5, 0.5, 0.2, 0.1], [0.25, 0.75, 0.5, 0.5]], rtol=1e-6
    )
    assert load_anchors_file(cols).shape == (3, 4)
    with pytest.raises(ValueError, match="has 2 anchors, the model has 5"):
        load_anchors_file(rows, expected=5)


def test_anchors_from_corners() -> None:
    got = anchors_from_corners([[0.1, 0.2, 0.5, 0.6]])
    np.testing.assert_allclose(got, [[0.4, 0.3, 0.4, 0.4]], rtol=1e-6)
