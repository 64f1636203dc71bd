"""Hostile configs are refused by what they ask for (bytes, depth, merged keys), not by a timer."""

from __future__ import annotations

from pathlib import Path

import pytest

from camera_app import cli
from camera_app._yaml_limits import MAX_BYTES, MAX_DEPTH, MAX_MERGED
from camera_app.config import load_config, parse_config
from camera_app.errors import ConfigError

CAMERA = "{<<: *top, name: a, source: demo}"


def merge_bomb(levels: int, width: int) -> str:
    """``width`` aliases per level over ``levels`` levels: width**levels merged mappings."""
    lines = ["x-l0: &l0 {realtime: true}"]
    for i in range(1, levels + 1):
        aliases = ", ".join([f"*l{i - 1}"] * width)
        lines.append(f"x-l{i}: &l{i} {{<<: [{aliases}]}}")
    lines.append(f"x-top: &top {{<<: *l{levels}}}")
    lines.append(f"cameras: [{CAMERA}]")
    return "\n".join(lines) + "\n"


def nested_lists(depth: int) -> str:
    return "x-deep: " + "[" * depth + "]" * depth + "\ncameras: [{name: a, source: demo}]\n"


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "bomb.yaml", env={})
    return str(info.value)


def test_the_541_byte_merge_bomb_is_refused_by_the_merge_budget() -> None:
    bomb = merge_bomb(levels=9, width=9)
    assert len(bomb) < 700  # the attack is small; 9**9 mappings if expanded
    message = refused(bomb)
    assert message.startswith("bomb.yaml:")
    assert f"'<<' merges pull in more than {MAX_MERGED} keys in all" in message


def test_a_small_merge_tree_within_the_budget_still_works() -> None:
    cfg = parse_config(merge_bomb(levels=3, width=3), "ok.yaml", env={})
    assert [(c.name, c.realtime) for c in cfg.cameras] == [("a", True)]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("x-a: &a {<<: *a}\ncameras: [{<<: *a, name: a, source: demo}]\n", ["into itself"]),
        (
            "x-a: &a {<<: [{<<: *a}]}\ncameras: [{<<: *a, name: a, source: demo}]\n",
            ["into itself"],
        ),
        ("x-a: &a [{<<: *a}]\ncameras: [{<<: *a, name: a, source: demo}]\n", ["into itself"]),
    ],
)
def test_recursive_merges_are_refused(text: str, words: list[str]) -> None:
    message = refused(text)
    for word in words:
        assert word in message


def test_merges_chained_deeper_than_the_limit_are_refused() -> None:
    lines = ["x-l0: &l0 {realtime: true}"]
    lines += [f"x-l{i}: &l{i} {{<<: *l{i - 1}}}" for i in range(1, MAX_DEPTH + 2)]
    lines.append(f"cameras: [{{<<: *l{MAX_DEPTH + 1}, name: a, source: demo}}]")
    assert f"chained deeper than {MAX_DEPTH} levels" in refused("\n".join(lines) + "\n")


def test_ten_thousand_nested_brackets_are_refused_by_depth() -> None:
    message = refused(nested_lists(10_000))
    assert message == f"bomb.yaml:1: invalid YAML: nested deeper than {MAX_DEPTH} levels"


def test_nesting_up_to_the_limit_is_accepted() -> None:
    # The top-level mapping is one level, so MAX_DEPTH - 1 lists fit under it.
    parse_config(nested_lists(MAX_DEPTH - 1), "ok.yaml", env={})
    assert "nested deeper" in refused(nested_lists(MAX_DEPTH))


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("cameras: [{name: a, source: demo}]\n" + "#" * MAX_BYTES, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert f"larger than {MAX_BYTES // 1024} KiB" in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        merge_bomb(levels=9, width=9),
        nested_lists(10_000),
        "x-a: &a {<<: *a}\ncameras: [{<<: *a, name: a, source: demo}]\n",
    ],
)
def test_check_config_says_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(text, encoding="utf-8")
    assert cli.main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"camera-app: error: {path}:")
