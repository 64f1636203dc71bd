"""Which failures and returns of a camera that is down or flapping get a log line
(``OutageLog``), with exact times."""

from __future__ import annotations

import pytest

from camera_app.sources.errors import ErrorKind
from camera_app.sources.outage import OutageLog, duration_text

R, T, BROKE = ErrorKind.REFUSED, ErrorKind.TIMEOUT, ErrorKind.OTHER


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        # the first failure of an episode: a line with nothing added
        ([(R, 0.0)], [""]),
        # the same failure again and again: no line until repeat_s passed since its last one
        ([(R, 0.0), (R, 30.0), (R, 60.0)], ["", None, None]),
        (
            [(R, 0.0), (R, 300.0), (R, 600.0), (R, 900.0), (R, 1200.0)],
            ["", None, " (failing for 10 min, 3 attempts, 1 not logged)", None,
             " (failing for 20 min, 5 attempts, 1 not logged)"],
        ),
        # another kind: a line at once; each kind keeps its own quiet time
        ([(R, 0.0), (T, 10.0), (T, 20.0), (R, 30.0), (T, 40.0)],
         ["", " (failing for 10 s, 2 attempts)", None, None, None]),
    ],
)  # fmt: skip
def test_which_failures_get_a_line(
    failures: list[tuple[ErrorKind, float]], expected: list[str | None]
) -> None:
    outage = OutageLog(repeat_s=600.0, settle_s=60.0)
    assert [outage.failed(kind, now_s) for kind, now_s in failures] == expected


def test_a_camera_that_never_failed_gets_its_streaming_line() -> None:
    assert OutageLog().streamed(5.0) == ""


def test_a_return_says_how_long_the_outage_lasted() -> None:
    outage = OutageLog(repeat_s=600.0, settle_s=60.0)
    for now_s in (100.0, 130.0, 160.0):
        outage.failed(R, now_s)
    assert outage.streamed(400.0) == " again after 3 failed attempts over 5 min"
    one = OutageLog()
    one.failed(T, 0.0)
    assert one.streamed(12.0) == " again after 1 failed attempt over 12 s"


def test_after_streaming_steadily_a_failure_starts_a_new_episode_with_its_own_line() -> None:
    outage = OutageLog(repeat_s=600.0, settle_s=60.0)
    assert outage.failed(R, 0.0) == ""
    assert outage.streamed(10.0) is not None
    assert outage.failed(R, 70.0) == ""  # streamed 60 s: a new episode
    assert outage.failed(R, 71.0) is None
    assert outage.streamed(75.0) == " again after 2 failed attempts over 5 s"


def test_a_flapping_camera_logs_each_kind_and_a_return_once_per_repeat_time() -> None:
    """Streams 6 s, breaks, is refused for 25 s, over and over: 31 s a cycle."""
    outage = OutageLog(repeat_s=600.0, settle_s=60.0)
    lines: list[tuple[float, str, str]] = []
    for cycle in range(41):  # 21 min 11 s
        t = cycle * 31.0
        back = outage.streamed(t)
        if back is not None:
            lines.append((t, "back", back))
        for what, kind, at in (("broke", BROKE, t + 6.0), ("refused", R, t + 7.0)):
            said = outage.failed(kind, at)
            if said is not None:
                lines.append((at, what, said))
    assert lines == [
        (0.0, "back", ""),
        (6.0, "broke", ""),
        (7.0, "refused", " (failing for 1 s, 2 attempts)"),
        (31.0, "back", " again after 2 failed attempts over 25 s"),
        (626.0, "broke", " (failing for 10 min, 41 attempts, 38 not logged,"
                         " back 19 times briefly)"),
        (627.0, "refused", " (failing for 10 min, 42 attempts, back 19 times briefly)"),
        (651.0, "back", " again after 42 failed attempts over 11 min (it came back 19 more times"
                        " in between, briefly)"),
        (1246.0, "broke", " (failing for 21 min, 81 attempts, 38 not logged,"
                          " back 19 times briefly)"),
        (1247.0, "refused", " (failing for 21 min, 82 attempts, back 19 times briefly)"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "0 s"), (42.0, "42 s"), (119.0, "119 s"), (120.0, "2 min"), (7199.0, "120 min"),
     (7200.0, "2.0 h"), (12600.0, "3.5 h"), (36000.0, "10.0 h")],
)  # fmt: skip
def test_duration_text(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text
