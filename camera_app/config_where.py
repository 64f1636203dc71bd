"""Where in the config file a key is: the line for errors found after the config was read.

Some checks need the model (a camera's ``classes``, the Home Assistant labels), the file
system (output folders) or all the cameras at once; they run on the parsed config and name
the key path (``cameras.door.classes: ...``) but know no line. :func:`located` finds that
key in the file again (the same bounded YAML reader, nothing evaluated) and gives the error
its file and line, as every other config error has.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import yaml

from camera_app._files import open_regular
from camera_app._yaml_limits import MAX_BYTES, compose
from camera_app.errors import ConfigError

_KEY_PATH = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*): ")
_MERGE = "tag:yaml.org,2002:merge"


@contextlib.contextmanager
def located(path: str | None) -> Iterator[None]:
    """Re-raise a ConfigError that names a key path but no file with the file and the line
    of that key in ``path`` (or of its nearest enclosing key that is in the file: a value
    left at its default has no line of its own)."""
    try:
        yield
    except ConfigError as exc:
        if path is None or exc.path is not None:
            raise
        line = key_line(path, str(exc))
        if line is None:
            raise
        raise ConfigError(str(exc), path=path, line=line) from None


def key_line(path: str, message: str) -> int | None:
    """The line of the key path ``message`` starts with, in the file ``path``; None when the
    message names no key path, the file cannot be read again or the path is not in it."""
    m = _KEY_PATH.match(message)
    if m is None:
        return None
    try:
        with open_regular(path) as f:
            document = compose(f.read(MAX_BYTES).decode("utf-8"), path)
    except (OSError, UnicodeDecodeError, ConfigError):
        return None
    if not isinstance(document, yaml.MappingNode):
        return None
    node: yaml.Node = document
    line: int | None = None
    parts = m[1].split(".")
    for i, part in enumerate(parts):
        if isinstance(node, yaml.MappingNode):
            found = _value(node, part)
        elif isinstance(node, yaml.SequenceNode) and i > 0 and parts[i - 1] == "cameras":
            found = _camera(node, part)
        else:
            found = None
        if found is None:
            break
        line, node = found
    return line


def _value(node: yaml.MappingNode, key: str) -> tuple[int, yaml.Node] | None:
    """(the key's line, its value) in a mapping, looking into ``<<`` merges too."""
    merged = None
    for k, v in node.value:
        if k.tag == _MERGE:
            for source in v.value if isinstance(v, yaml.SequenceNode) else [v]:
                if isinstance(source, yaml.MappingNode):
                    merged = merged or _value(source, key)
        elif isinstance(k, yaml.ScalarNode) and k.value == key:
            return k.start_mark.line + 1, v
    return merged


def _camera(node: yaml.SequenceNode, name: str) -> tuple[int, yaml.Node] | None:
    """The camera item named ``name`` (or, unnamed, ``cam<index>``, its default name)."""
    for index, item in enumerate(node.value):
        if not isinstance(item, yaml.MappingNode):
            continue
        named = _value(item, "name")
        value = named[1].value if named is not None else f"cam{index}"
        if value == name:
            return item.start_mark.line + 1, item
    return None
