"""YAML loading that remembers line numbers, so errors name the line and the field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import yaml
from facility_contracts.yamlfile import UniqueKeyLoader
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class SetupError(ValueError):
    """A setup file that cannot be loaded.

    Attributes:
        line: 1-based line in the YAML file (0 when unknown).
        field: dotted path of the offending field (``spaces.3.hours.mon``).
        value: the offending value, when there is one.
    """

    def __init__(self, message: str, *, line: int = 0, field: str = "", value: Any = None) -> None:
        self.line, self.field, self.value = line, field, value
        where = f"line {line}: " if line else ""
        at = f"{field}: " if field else ""
        super().__init__(f"{where}{at}{message}")


class _Loader(UniqueKeyLoader):
    """SafeLoader that refuses a key repeated in one mapping (the contract's reader of
    edge and gateway files) and whose dates stay strings (pydantic parses them, with
    line numbers)."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in UniqueKeyLoader.yaml_implicit_resolvers.items()
}


def load_with_lines(text: str) -> tuple[Any, yaml.Node | None]:
    """Parse ``text``; return the data and the node tree (for line lookups).

    Raises:
        SetupError: on YAML syntax errors and duplicate keys, with the line.
    """
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        problem = str(exc.problem)
        if not problem.startswith("duplicate key"):
            problem = f"YAML syntax: {problem}"
        raise SetupError(problem, line=(mark.line + 1) if mark else 0) from exc
    return data, node


def line_of(node: yaml.Node | None, loc: Sequence[str | int]) -> int:
    """1-based line of the deepest node on path ``loc`` (the parent's when a key is missing)."""
    line = node.start_mark.line + 1 if node is not None else 0
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(part)), None)
            if match is None:
                key = next((k for k, _ in node.value if k.value == str(part)), None)
                return key.start_mark.line + 1 if key is not None else line
            node = match
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
        else:
            return line
        line = node.start_mark.line + 1
    return line


def _drop_tags(node: yaml.Node | None, loc: Sequence[str | int]) -> list[str | int]:
    """``loc`` without the tags pydantic inserts for tagged unions (``task_rules.2.quota.
    period`` -> ``task_rules.2.period``): a part naming no key of a mapping whose ``kind``
    has that value."""
    out: list[str | int] = []
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            keys = {k.value: v for k, v in node.value}
            kind = keys.get("kind")
            if part not in keys and isinstance(kind, yaml.ScalarNode) and kind.value == part:
                continue
            node = keys.get(str(part))
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
        else:
            node = None
        out.append(part)
    return out


def _synthetic(part: str) -> bool:
    """A part pydantic adds to a location that names no YAML key (``[key]``: the error is
    in a mapping's key itself; ``function-after[...]``: a validator)."""
    return part == "[key]" or part.startswith("function-")


def validate(model: type[M], data: Any, node: yaml.Node | None) -> M:
    """Validate ``data`` into ``model``; the first error becomes a :class:`SetupError`.

    Raises:
        SetupError: naming the YAML line, the field and the value.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = [p for p in err["loc"] if not (isinstance(p, str) and _synthetic(p))]
        loc = _drop_tags(node, loc)
        field = ".".join(str(p) for p in loc)
        value = None if err["type"] == "missing" else err.get("input")
        msg = err["msg"].removeprefix("Value error, ")
        raise SetupError(msg, line=line_of(node, loc), field=field, value=value) from exc
