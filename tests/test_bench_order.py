"""The bench's call order: which call comes right after which decides the caches it runs on."""

from __future__ import annotations

from camera_app.bench import side_by_side


def calls(alternate: bool) -> list[str]:
    seen: list[str] = []
    times = side_by_side(
        lambda: seen.append("a"), lambda: seen.append("b"), repeat=4, warmup=1,
        alternate=alternate,
    )  # fmt: skip
    assert [len(t) for t in times] == [4, 4]
    return seen


def test_rounds_alternate_their_order_by_default() -> None:
    assert "".join(calls(True)) == "ab" + "ab" + "ba" + "ab" + "ba"  # warm-up, then 4 rounds


def test_steps_of_one_frame_keep_their_order() -> None:
    # invoke() then postprocess in every round: no postprocess right after another
    assert "".join(calls(False)) == "ab" * 5
