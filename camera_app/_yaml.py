"""Strict reading of composed YAML nodes: key paths, line numbers, checks, interpolation.

``yaml.compose`` keeps every node's position, so each error can say ``file:line`` and the key
path (``cameras[1].source``). Scalars are built with PyYAML's safe constructor. String scalars
then get ``${NAME}`` / ``${NAME:-default}`` filled in from the environment (``$${`` is a literal
``${``); the result is never parsed as YAML again, and a node that was filled in remembers it,
so error messages describe it by its variables and never show its value.

A check (``_checks``) is a plain function ``value -> typed value`` that raises :class:`CheckError`
with what it expected; the same checks serve YAML nodes and command-line flags. A dataclass declares
how each field is read in the field's metadata (:func:`checked`, :func:`read_with`), so the keys
a section accepts are exactly its field names; :func:`section` builds one from a mapping node.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, TypeVar, cast
from urllib.parse import quote

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from camera_app._yaml_limits import MAX_DEPTH, MergeBudget
from camera_app.errors import ConfigError
from camera_app.redact import redact_text, redact_url

T = TypeVar("T")
E = TypeVar("E", bound=Enum)

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null")
)
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
# YAML 1.1 (PyYAML) wants a dot in floats; accept 1e-3 as YAML 1.2 does.
_EXP_FLOAT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")
_VAR = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_VAR_BODY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


class CheckError(Exception):
    """Raised by a check: the value is not ``expected``."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


class _NotScalar:
    """Passed to a check in place of a mapping or list, so that the check rejects it."""


def describe(value: object) -> str:
    """Say what a value is, for "got ..." (strings are redacted and shortened)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):  # control characters escaped: a message stays one line
        # The whole value as one URL: a raw space in a password would end a URL in free text.
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in redact_url(value))
        return f"'{text[:77]}...'" if len(text) > 80 else f"'{text}'"
    return f"a {type(value).__name__}"


# Keys whose value is a secret: what they hold is never shown, whatever its type.
_SECRET_KEY = re.compile(r"(password|passwd|secret|token)$", re.IGNORECASE)


def _not_shown(value: object) -> str:
    """What a secret key holds, without its value ("an integer (not shown)")."""
    if value is None:
        return "null"
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    return f"{kind.get(type(value), 'a value')} (not shown)"


@dataclass(frozen=True)
class Context:
    file: str
    env: Mapping[str, str]
    merges: MergeBudget = field(default_factory=MergeBudget, compare=False)


class Node:
    """One YAML node, with its key path for messages."""

    def __init__(self, node: yaml.Node, key: str, ctx: Context) -> None:
        self.node = node
        self.key = key
        self.ctx = ctx

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    def error(self, message: str, *, line: int | None = None) -> ConfigError:
        text = f"{self.key}: {message}" if self.key else message
        return ConfigError(text, path=self.ctx.file, line=line or self.line)

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.node, yaml.MappingNode)

    @property
    def is_null(self) -> bool:
        return self.node.tag == "tag:yaml.org,2002:null"

    def _child_key(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def _where(self) -> str:
        return f"in {self.key}" if self.key else "at the top level"

    def got(self) -> str:
        """What this node holds, for "got ..." (an interpolated value is not shown)."""
        if isinstance(self.node, yaml.CollectionNode) and self.node.tag not in (_MAP, _SEQ):
            return f"a value with the unsupported YAML tag {self.node.tag}"
        if isinstance(self.node, yaml.MappingNode):
            return "a mapping"
        if isinstance(self.node, yaml.SequenceNode):
            return "a list"
        value, names = self._scalar()
        return self._shown(value, names)

    def _shown(self, value: object, names: tuple[str, ...]) -> str:
        """``value`` for "got ...": hidden when interpolated or held by a secret key."""
        if names:
            return _hidden(names)
        if _SECRET_KEY.search(self.key.rpartition(".")[2]):
            return _not_shown(value)
        return describe(value)

    def mapping(
        self, allowed: Collection[str], *, skip_prefix: str | None = None
    ) -> dict[str, Node]:
        """The children of a mapping; unknown, duplicate and non-string keys are errors.

        Keys starting with ``skip_prefix`` are ignored: a place for YAML anchors (``x-camera:
        &defaults``) to be merged elsewhere with ``<<: *defaults``.
        """
        if not isinstance(self.node, yaml.MappingNode):
            raise self.error(f"expected a mapping, got {self.got()}")
        out: dict[str, Node] = {}
        for key_node, value_node in self._pairs(self.node):
            name = str(key_node.value)
            if skip_prefix and name.startswith(skip_prefix):
                continue
            if name not in allowed:
                line = int(key_node.start_mark.line) + 1
                close = difflib.get_close_matches(name, list(allowed), n=1)
                hint = f"did you mean '{close[0]}'?" if close else "expected one of: "
                hint += "" if close else ", ".join(allowed)
                message = f"unknown key '{redact_text(name)}' {self._where()}; {hint}"
                raise ConfigError(message, path=self.ctx.file, line=line)
            out[name] = Node(value_node, self._child_key(name), self.ctx)
        return out

    def _pairs(
        self, node: yaml.MappingNode, within: tuple[yaml.Node, ...] = ()
    ) -> list[tuple[yaml.Node, yaml.Node]]:
        """Key/value pairs with ``<<`` merges applied: explicit keys win, then merges in order.

        ``within`` are the mappings whose merges led here: merging one of them again is a loop.
        What merges pull in is bounded by depth and by the document's :class:`MergeBudget`.
        """
        if node.tag != _MAP:
            raise self.error(f"unsupported YAML tag {node.tag}", line=node.start_mark.line + 1)
        explicit: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE:
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else []
                for source in sources or [value_node]:
                    if not isinstance(source, yaml.MappingNode):
                        raise self.error(
                            "'<<' must merge a mapping or a list of mappings", line=line
                        )
                    self._check_merge(source, (*within, node), line)
                    pairs = self._pairs(source, (*within, node))
                    if not self.ctx.merges.spend(1 + len(pairs)):
                        limit = self.ctx.merges.limit
                        raise self.error(
                            f"'<<' merges pull in more than {limit} keys in all; "
                            "merge fewer or flatter mappings",
                            line=line,
                        )
                    merged.extend(pairs)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error(f"keys must be strings {self._where()}", line=line)
            name = str(key_node.value)
            if name in explicit:
                first = explicit[name][0].start_mark.line + 1
                message = f"duplicate key '{name}' {self._where()} (first at line {first})"
                raise ConfigError(message, path=self.ctx.file, line=line)
            explicit[name] = (key_node, value_node)
        pairs = list(explicit.values())
        for key_node, value_node in merged:
            if str(key_node.value) not in explicit:
                explicit[str(key_node.value)] = (key_node, value_node)
                pairs.append((key_node, value_node))
        return pairs

    def _check_merge(self, source: yaml.Node, within: tuple[yaml.Node, ...], line: int) -> None:
        if any(source is outer for outer in within):
            raise self.error("'<<' merges a mapping into itself", line=line)
        if len(within) >= MAX_DEPTH:
            raise self.error(f"'<<' merges chained deeper than {MAX_DEPTH} levels", line=line)

    def items(self) -> list[Node]:
        """The children of a list."""
        if isinstance(self.node, yaml.SequenceNode) and self.node.tag != _SEQ:
            raise self.error(f"unsupported YAML tag {self.node.tag}")
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.error(f"expected a list, got {self.got()}")
        return [
            Node(child, f"{self.key}[{i}]", self.ctx) for i, child in enumerate(self.node.value)
        ]

    def check(self, check: Callable[[object], T]) -> T:
        """Run ``check`` on this scalar; a failure becomes a ConfigError with the line."""
        if not isinstance(self.node, yaml.ScalarNode):
            try:
                return check(_NotScalar())
            except CheckError as exc:
                raise self.error(f"expected {exc.expected}, got {self.got()}") from exc
        value, names = self._scalar()
        try:
            return check(value)
        except CheckError as exc:
            if names and isinstance(value, str):
                # "${PORT:-8080}" is the string "8080": try it as YAML would type it.
                try:
                    return check(_construct(_resolve(value), value))
                except CheckError:
                    pass
            raise self.error(f"expected {exc.expected}, got {self._shown(value, names)}") from exc

    def _scalar(self) -> tuple[object, tuple[str, ...]]:
        """The scalar's value and the environment variables it was filled from."""
        node = self.node
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(f"expected a single value, got {self.got()}")
        if node.tag not in _SCALAR_TAGS and node.tag != _TIMESTAMP:
            raise self.error(f"unsupported YAML tag {node.tag}")
        text = str(node.value)
        if node.tag != _STR:
            return _construct(node.tag, text), ()
        if node.style is None and _EXP_FLOAT.fullmatch(text):
            return float(text), ()
        if "${" not in text:
            return text, ()
        names: list[str] = []

        def fill(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            body = match.group(1)
            if body is not None and body.startswith("credential:"):
                names.append(body)  # shown as ${credential:NAME}, never its content
                return self._credential(body.removeprefix("credential:"), text)
            parsed = _VAR_BODY.fullmatch(body) if body is not None else None
            if parsed is None or "${" in (parsed.group(2) or ""):
                shown = "${" + (body or "")[:40]
                raise self.error(
                    f"bad interpolation '{shown}'; expected ${{NAME}} or ${{NAME:-default}}"
                )
            name, default = parsed.group(1), parsed.group(2)
            names.append(name)
            value = self.ctx.env.get(name, "")
            if value:
                return value
            if default is not None:
                return default
            if name in self.ctx.env:
                return ""
            raise self.error(
                f"environment variable {name} is not set (used as ${{{name}}}); "
                f"set it, or write ${{{name}:-default}}"
            )

        filled = _VAR.sub(fill, text)
        return filled, tuple(names)

    def _credential(self, name: str, text: str) -> str:
        """A systemd credential (LoadCredential=), percent-encoded when it sits in a URL."""
        from camera_app.errors import ConfigError
        from camera_app.service.credentials import read_credential

        try:
            value = read_credential(name, environ=self.ctx.env)
        except ConfigError as exc:
            raise self.error(str(exc)) from None
        return quote(value, safe="") if "://" in text else value


def _hidden(names: tuple[str, ...]) -> str:
    return "the value of " + " + ".join(f"${{{n}}}" for n in names) + " (not shown)"


def _resolve(text: str) -> str:
    resolve = cast(Callable[..., str], yaml.resolver.Resolver().resolve)
    return resolve(yaml.ScalarNode, text, (True, False))


def _construct(tag: str, text: str) -> object:
    if tag == _TIMESTAMP:
        return text  # dates are only ever names or paths here
    if tag not in _SCALAR_TAGS:
        return text
    try:
        return SafeConstructor().construct_object(yaml.ScalarNode(tag, text))
    except (ConstructorError, ValueError):
        return text


# ---- dataclass sections: each field says how it is read ----------------------------------


Reader = Callable[[Node], object]


def read_with(reader: Reader) -> dict[str, Reader]:
    """Field metadata: read this key's node with ``reader``."""
    return {"read": reader}


def checked(check: Callable[[object], object]) -> dict[str, Reader]:
    """Field metadata: read this key's scalar with ``check``."""
    return {"read": lambda node: node.check(check)}


def section(
    node: Node, cls: Callable[..., T], *, skip_prefix: str | None = None, **defaults: Any
) -> tuple[T, dict[str, Node]]:
    """Build the dataclass ``cls`` from a mapping node (null: all defaults), and its children."""
    readers: dict[str, Reader] = {f.name: f.metadata["read"] for f in fields(cls)}  # type: ignore[arg-type]
    children = {} if node.is_null else node.mapping(readers, skip_prefix=skip_prefix)
    values = {name: readers[name](child) for name, child in children.items()}
    return cls(**{**defaults, **values}), children


def nested(cls: Callable[..., object]) -> dict[str, Reader]:
    """Field metadata: this key holds the section ``cls`` (itself read by :func:`section`)."""
    return read_with(lambda node: section(node, cls)[0])


def listed(check: Callable[[object], T], *, nullable: bool = False, min_items: int = 0) -> Reader:
    """A reader for a list whose items pass ``check``, as a tuple (or None for null)."""

    def read(node: Node) -> tuple[T, ...] | None:
        if nullable and node.is_null:
            return None
        items = node.items()
        if len(items) < min_items:
            raise node.error(f"expected at least {min_items} item(s), got {len(items)}")
        return tuple(item.check(check) for item in items)

    return read
