"""CPU time of this process's threads over a stretch, in groups (for the benchmarks).

Linux only: each thread's run time in nanoseconds from ``/proc/self/task/<tid>/schedstat``.
Python threads are known by name (``threading.enumerate()``); threads Python did not start
(XNNPACK's pool, OpenCV's pool) are grouped as ``native``. A thread that ends inside the
stretch is lost from the end snapshot: loops that end with the stretch measure themselves
(``time.thread_time``) and are added by the caller.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection
from pathlib import Path

NATIVE = "native"


def thread_run_ns() -> dict[int, int]:
    """Run time of every live thread of this process, by kernel thread id."""
    out: dict[int, int] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            out[int(tid)] = int(Path(f"/proc/self/task/{tid}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):  # the thread ended meanwhile
            continue
    return out


class ThreadCpu:
    """CPU seconds per group of threads between ``__init__`` and ``groups()``."""

    def __init__(self) -> None:
        self._start = thread_run_ns()

    def groups(
        self, group_of: Callable[[str], str], exclude: Collection[int] = ()
    ) -> dict[str, float]:
        """CPU seconds since the start per group: ``group_of(name)`` for Python threads,
        ``NATIVE`` for the rest. ``exclude``: kernel thread ids the caller measures itself
        (a Python thread that has just ended can outlive its name for a moment, and would
        count as native)."""
        end = thread_run_ns()
        names = {t.native_id: t.name for t in threading.enumerate()}
        out: dict[str, float] = {}
        for tid, ns in end.items():
            if tid in exclude:
                continue
            name = names.get(tid)
            group = NATIVE if name is None else group_of(name)
            out[group] = out.get(group, 0.0) + (ns - self._start.get(tid, 0)) / 1e9
        return out
