"""The value checks the config's fields are read with: value -> typed value, or
``CheckError(expected)``, which the YAML reader turns into one line naming the key and line."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from enum import Enum
from typing import TypeVar

from camera_app._yaml import CheckError

T = TypeVar("T")
E = TypeVar("E", bound=Enum)


def integer(lo: int | None = None, hi: int | None = None) -> Callable[[object], int]:
    if lo is not None and hi is not None:
        expected = f"an integer from {lo} to {hi}"
    elif lo is not None:
        expected = f"an integer >= {lo}"
    else:
        expected = "an integer"

    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise CheckError(expected)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise CheckError(expected)
        return value

    return check


def number(
    lo: float | None = None, hi: float | None = None, *, lo_open: bool = False
) -> Callable[[object], float]:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"<= {hi:g}")
    expected = "a number" + (" " + " and ".join(parts) if parts else "")

    def check(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CheckError(expected)
        out = float(value)
        if not math.isfinite(out):
            raise CheckError(expected)
        if lo is not None and (out < lo or (lo_open and out == lo)):
            raise CheckError(expected)
        if hi is not None and out > hi:
            raise CheckError(expected)
        return out

    return check


def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise CheckError("true or false")
    return value


def string(expected: str = "a non-empty string") -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            raise CheckError(expected)
        return value

    return check


def matching(pattern: str, expected: str) -> Callable[[object], str]:
    """A string the regular expression ``pattern`` matches in full."""
    compiled = re.compile(pattern)

    def check(value: object) -> str:
        if not isinstance(value, str) or not compiled.fullmatch(value):
            raise CheckError(expected)
        return value

    return check


def choice(enum: type[E]) -> Callable[[object], E]:
    values = {str(member.value): member for member in enum}
    expected = "one of: " + ", ".join(values)

    def check(value: object) -> E:
        if isinstance(value, bool):  # YAML reads true/false/yes/no as booleans
            value = "true" if value else "false"
        if not isinstance(value, str) or value not in values:
            raise CheckError(expected)
        return values[value]

    return check


def optional(check: Callable[[object], T]) -> Callable[[object], T | None]:
    def optional_check(value: object) -> T | None:
        if value is None:
            return None
        try:
            return check(value)
        except CheckError as exc:
            raise CheckError(f"{exc.expected} or null") from exc

    return optional_check
