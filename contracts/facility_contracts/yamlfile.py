"""Strict YAML file reading for configuration: UTF-8 only, no duplicate keys.

:func:`read_yaml` turns every way a hand-edited file can be wrong into one short
:class:`YamlFileError` message with the line (and column), never a traceback:

- a file that is not UTF-8 (a GBK file saved by a Chinese-locale Windows editor):
  the first bad byte, its line and column;
- a YAML syntax error: line, column and the parser's problem;
- a key given twice in one mapping (YAML 1.1 loaders silently keep the last one):
  the line of the second occurrence and of the first.

A UTF-8 byte order mark (Windows Notepad) is accepted. Merge keys (``<<: *base``) may
still be overridden by explicit keys. The edge's configuration and the gateway's
settings both read their files through it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node

_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlFileError(ValueError):
    """A configuration file that cannot be read as strict YAML; the message names where."""


class UniqueKeyLoader(yaml.SafeLoader):
    """A :class:`yaml.SafeLoader` that refuses a key repeated in one mapping."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            first_line: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    earlier = first_line.get(key)
                except TypeError:
                    continue  # an unhashable key: SafeLoader reports it below
                if earlier is not None:
                    raise ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"duplicate key {key!r} (first given on line {earlier + 1})",
                        key_node.start_mark,
                    )
                first_line[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]


def decode_utf8(data: bytes) -> str:
    """Decode a file's bytes as UTF-8 (a leading byte order mark is dropped).

    Raises:
        YamlFileError: ``not UTF-8 text: byte 0xC4 at line 3, column 9 (offset 41)``.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise YamlFileError(
            f"not UTF-8 text: byte 0x{data[exc.start]:02X} at line {line}, column {column} "
            f"(offset {exc.start}); save the file as UTF-8"
        ) from exc


def parse_yaml(text: str) -> Any:
    """Parse YAML text with :class:`UniqueKeyLoader`.

    Raises:
        YamlFileError: a syntax error or a duplicate key, with line and column.
    """
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        if not problem.startswith("duplicate key"):
            problem = f"YAML syntax error: {problem}"
        raise YamlFileError(f"{where}{problem}") from exc


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file strictly (see the module docstring).

    Raises:
        YamlFileError: unreadable, not UTF-8, bad syntax or a duplicate key.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise YamlFileError(f"cannot read: {exc.strerror or exc}") from exc
    return parse_yaml(decode_utf8(data))
