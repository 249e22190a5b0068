"""What an InfluxQL statement of the dashboards refers to: measurements, tags, fields.

The dashboards quote every identifier, so a small tokenizer suffices: quoted identifiers
are classified by where they stand (after ``FROM`` a measurement, after ``AS`` an alias,
after ``GROUP BY`` or before ``=~`` / ``= 'text'`` / ``WITH KEY =`` a tag, inside a
function call or before a numeric comparison a field). Bare words must be InfluxQL
keywords or functions, so nothing slips through unquoted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TOKEN = re.compile(
    r"""(?P<regex>(?<=~)\s*/(?:[^/\\]|\\.)*/)
    |(?P<ident>"(?:[^"\\]|\\.)*")
    |(?P<string>'(?:[^'\\]|\\.)*')
    |(?P<var>\$\{\w+\}(?:ms)?|\$\w+)
    |(?P<duration>\d+(?:ms|[smhdw])\b)
    |(?P<number>\d+(?:\.\d+)?)
    |(?P<word>[A-Za-z_]\w*)
    |(?P<op>=~|!~|!=|<>|>=|<=|[=<>*/+\-(),])
    |(?P<space>\s+)""",
    re.VERBOSE,
)
KEYWORDS = {
    "select",
    "from",
    "where",
    "and",
    "or",
    "group",
    "by",
    "as",
    "fill",
    "tz",
    "time",
    "show",
    "tag",
    "values",
    "with",
    "key",
    "order",
    "desc",
    "asc",
    "limit",
    "null",
    "none",
}
FUNCTIONS = {"sum", "count", "max", "min", "mean", "last", "first", "cumulative_sum"}


@dataclass
class Refs:
    """Names a statement uses, by role."""

    measurements: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)
    aliases: set[str] = field(default_factory=set)
    tag_values: dict[str, set[str]] = field(default_factory=dict)
    words: set[str] = field(default_factory=set)
    variables: set[str] = field(default_factory=set)


def tokens(query: str) -> list[tuple[str, str]]:
    """``(kind, text)`` tokens without whitespace; raises ValueError on anything else."""
    out, pos = [], 0
    while pos < len(query):
        m = TOKEN.match(query, pos)
        if not m:
            raise ValueError(f"cannot read {query[pos : pos + 20]!r} in {query}")
        if m.lastgroup != "space":
            out.append((m.lastgroup or "", m.group().strip()))
        pos = m.end()
    return out


def _after_with_key(toks: list[tuple[str, str]], i: int) -> bool:
    """``SHOW TAG VALUES ... WITH KEY = "tag"``."""
    return i >= 2 and toks[i - 1][1] == "=" and toks[i - 2][1].lower() == "key"


def refs(query: str) -> Refs:
    """Classify every identifier of ``query`` (see the module docstring)."""
    toks = tokens(query)
    out = Refs()
    in_group = False
    depth_fn = 0
    for i, (kind, text) in enumerate(toks):
        prev = toks[i - 1][1].lower() if i else ""
        nxt = toks[i + 1] if i + 1 < len(toks) else ("", "")
        if kind == "word":
            out.words.add(text.lower())
            if text.lower() == "group":
                in_group = True
            elif text.lower() in ("fill", "tz") or text.lower() == "select":
                in_group = False
            if text.lower() in FUNCTIONS and nxt[1] == "(":
                depth_fn += 1
            continue
        if kind == "var":
            out.variables.add(re.sub(r"^\$\{?|\}(?:ms)?$", "", text))
            continue
        if kind == "op" and text == ")" and depth_fn:
            depth_fn -= 1
        if kind != "ident":
            continue
        name = text[1:-1]
        if prev == "from":
            out.measurements.add(name)
        elif prev == "as":
            out.aliases.add(name)
        elif in_group or nxt[1] in ("=~", "!~") or _after_with_key(toks, i):
            out.tags.add(name)
        elif nxt[1] in ("=", "!=") and i + 2 < len(toks) and toks[i + 2][0] == "string":
            out.tags.add(name)
            out.tag_values.setdefault(name, set()).add(toks[i + 2][1][1:-1])
        else:
            out.fields.add(name)
    return out
