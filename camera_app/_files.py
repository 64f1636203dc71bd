"""Reading a file the user named: a regular file only, and never more than a bound.

A named pipe nobody writes blocks ``open()`` for ever, and ``/dev/zero`` or ``/dev/urandom``
never end: given as a config, labels, anchors, a credential or an image, either would hang or
fill the memory at start. These helpers open without blocking, refuse anything that is not a
regular file, and stop reading past ``limit``. Their errors are ``OSError`` with a
``strerror`` that says what the path is, so the callers' one-line messages stay as they are.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def kind_of(mode: int) -> str:
    """What a non-regular file is, for messages: 'a named pipe', 'a directory'..."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a file"


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """``path`` opened for reading in binary; ``OSError`` unless it is a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"{kind_of(mode)}, not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file ``path``; ``OSError`` (EFBIG) past ``limit`` bytes."""
    with open_regular(path) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {_size(limit)}")
    return data


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and not n % (1 << 20) else f"{n} bytes"
