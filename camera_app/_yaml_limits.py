"""Bounds on the work a YAML config may ask for: size, nesting depth, merged keys.

A config file is small and shallow, but YAML lets a few hundred bytes ask for a lot: nine
aliases per level over nine levels of ``<<`` merges expand to 9**9 keys, ten thousand ``[``
nest deeper than Python's recursion limit, and ``&a {<<: *a}`` merges itself. These limits
refuse such a file by what it asks for (bytes, levels, merged keys), with one line naming the
file and line, before any of the work is done; real configs stay far below them.
"""

from __future__ import annotations

import yaml

from camera_app.errors import ConfigError
from camera_app.redact import redact_text

MAX_BYTES = 1 << 20
"""A config larger than this (in characters) is refused before it is parsed."""
MAX_DEPTH = 32
"""Mappings and lists nested deeper than this, and ``<<`` merges chained deeper, are refused."""
MAX_MERGED = 50_000
"""Keys and mappings a whole document may pull in through ``<<`` merges, all merges together."""


class MergeBudget:
    """Counts what ``<<`` merges pull in over one document; refuses past :data:`MAX_MERGED`."""

    def __init__(self, limit: int = MAX_MERGED) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, count: int) -> bool:
        """Take ``count`` from the budget; False once the document has asked for too much."""
        self.used += count
        return self.used <= self.limit


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing nodes nested deeper than :data:`MAX_DEPTH`."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.get_mark()
                problem = f"nested deeper than {MAX_DEPTH} levels"
                raise yaml.composer.ComposerError(None, None, problem, mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def oversized(path: str) -> ConfigError:
    """The error for a config over ``MAX_BYTES``, counted in bytes read or characters."""
    return ConfigError(
        f"the file is larger than {MAX_BYTES // 1024} KiB; a config is far smaller", path=path
    )


# What the parser's words usually mean in a hand-written config.
_HINTS = (
    ("'\\t'", " (YAML indents with spaces, not tabs)"),
    (
        "mapping values are not allowed here",
        " (a key's indentation is off, or a value with ': ' in it needs quotes)",
    ),
    ("could not find expected ':'", " (a key without ':', or a quote left open)"),
    ("expected <block end>", " (an item indented less or more than the ones before it)"),
    ("found undefined alias", " (a *name with no &name before it)"),
    ("found unexpected end of stream", " (a quote left open)"),
)


def compose(text: str, path: str) -> yaml.Node | None:
    """The document's node tree, or a ConfigError (file and line) for bad or oversized YAML."""
    if len(text) > MAX_BYTES:
        raise oversized(path)
    try:
        return yaml.compose(text, Loader=_BoundedLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = "; ".join(p for p in (exc.context, exc.problem) if p)
        hint = next((h for key, h in _HINTS if key in what), "")
        raise ConfigError(f"invalid YAML: {redact_text(what)}{hint}", path=path, line=line) from exc
    except yaml.reader.ReaderError as exc:  # a control character: no mark, several lines
        line = text.count("\n", 0, exc.position) + 1
        what = f"character {exc.character!r} is not allowed in YAML"
        raise ConfigError(f"invalid YAML: {what}", path=path, line=line) from exc
    except yaml.YAMLError as exc:
        what = " ".join(str(exc).split())
        raise ConfigError(f"invalid YAML: {redact_text(what)}", path=path) from exc
