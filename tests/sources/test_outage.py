"""Which failures of a camera that is down get a log line (``OutageLog``), with exact times."""

from __future__ import annotations

import pytest

from camera_app.sources.errors import ErrorKind
from camera_app.sources.outage import OutageLog, duration_text

R, T = ErrorKind.REFUSED, ErrorKind.TIMEOUT


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        # the first failure of an outage: a line with nothing added
        ([(R, 0.0)], [""]),
        # the same failure again and again: no line until repeat_s passed since the last one
        ([(R, 0.0), (R, 30.0), (R, 60.0)], ["", None, None]),
        (
            [(R, 0.0), (R, 300.0), (R, 600.0), (R, 900.0), (R, 1200.0)],
            ["", None, " (failing for 10 min, 3 attempts, 1 of them not logged)", None,
             " (failing for 20 min, 5 attempts, 1 of them not logged)"],
        ),
        # another kind: a line at once, and the repeats of the new kind are quiet again
        ([(R, 0.0), (T, 10.0), (T, 20.0), (R, 30.0)],
         ["", " (failing for 10 s, 2 attempts)", None,
          " (failing for 30 s, 4 attempts, 1 of them not logged)"]),
    ],
)  # fmt: skip
def test_which_failures_get_a_line(
    failures: list[tuple[ErrorKind, float]], expected: list[str | None]
) -> None:
    outage = OutageLog(repeat_s=600.0)
    assert [outage.failed(kind, now_s) for kind, now_s in failures] == expected


def test_a_frame_ends_the_outage_and_says_how_long_it_lasted() -> None:
    outage = OutageLog(repeat_s=600.0)
    assert outage.streamed(5.0) == ""  # never failed: nothing to say
    for now_s in (100.0, 130.0, 160.0):
        outage.failed(R, now_s)
    assert outage.streamed(400.0) == " again after 3 failed attempts over 5 min"
    assert outage.streamed(401.0) == ""
    # the next outage starts afresh: its first failure gets a line, however soon
    assert outage.failed(R, 402.0) == ""
    assert outage.failed(R, 403.0) is None
    assert outage.streamed(403.5) == " again after 2 failed attempts over 2 s"


def test_one_failed_attempt_is_singular() -> None:
    outage = OutageLog()
    outage.failed(T, 0.0)
    assert outage.streamed(12.0) == " again after 1 failed attempt over 12 s"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "0 s"), (42.0, "42 s"), (119.0, "119 s"), (120.0, "2 min"), (7199.0, "120 min"),
     (7200.0, "2.0 h"), (12600.0, "3.5 h"), (36000.0, "10.0 h")],
)  # fmt: skip
def test_duration_text(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text
