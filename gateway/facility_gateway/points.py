"""Points and their InfluxDB line-protocol serialisation (pure).

A :class:`Point` is one row of the time-series schema (:mod:`facility_contracts.schema`):
a measurement, a tag set, typed fields and a time in nanoseconds since the Unix epoch,
UTC. :func:`to_line` renders it exactly as the InfluxDB line protocol reference
describes (docs.influxdata.com, "Line protocol", special characters):

- measurement: ``,`` and space escaped with a backslash;
- tag keys, tag values and field keys: ``,``, ``=`` and space escaped;
- string field values: double-quoted, ``"`` and ``\\`` escaped;
- integers with an ``i`` suffix, floats in shortest round-trip form, booleans as
  ``true``/``false``; NaN and infinities do not exist in line protocol.

Newline, carriage return and tab cannot appear in a line; they are escaped as ``\\n``,
``\\r``, ``\\t`` (as influxdb-client does) so one bad value can never split a line. Tags
with an empty value are omitted (line protocol has no empty tag values). Non-ASCII text
is written as UTF-8 unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

FieldValue = int | float | bool | str
TagSet = tuple[tuple[str, str], ...]

_CONTROL = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPE_MEASUREMENT = str.maketrans({",": "\\,", " ": "\\ ", **_CONTROL})
_ESCAPE_KEY = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ ", **_CONTROL})
_ESCAPE_STRING = str.maketrans({'"': '\\"', "\\": "\\\\"})


@dataclass(frozen=True, slots=True)
class Point:
    """One time-series point.

    Attributes:
        measurement: measurement name (``door_crossing`` ...).
        tags: ``(key, value)`` pairs sorted by key; build with :func:`make_point`.
        fields: ``(key, value)`` pairs in schema order; values already of the schema type.
        time_ns: nanoseconds since 1970-01-01T00:00:00Z.
    """

    measurement: str
    tags: TagSet
    fields: tuple[tuple[str, FieldValue], ...]
    time_ns: int

    @property
    def time_ms(self) -> int:
        """The point's time in whole milliseconds (UTC epoch)."""
        return self.time_ns // 1_000_000

    def tag_dict(self) -> dict[str, str]:
        """Tags as a dict."""
        return dict(self.tags)

    def field_dict(self) -> dict[str, FieldValue]:
        """Fields as a dict."""
        return dict(self.fields)


def make_point(
    measurement: str,
    tags: Mapping[str, str],
    fields: Iterable[tuple[str, FieldValue]] | Mapping[str, FieldValue],
    time_ns: int,
) -> Point:
    """Build a :class:`Point` with tags sorted by key and empty tag values dropped."""
    pairs = fields.items() if isinstance(fields, Mapping) else fields
    return Point(
        measurement,
        tuple(sorted((k, v) for k, v in tags.items() if v != "")),
        tuple(pairs),
        time_ns,
    )


def format_field(value: FieldValue) -> str:
    """One field value in line protocol.

    Raises:
        ValueError: for NaN or an infinity (line protocol cannot carry them) or an
            unsupported type.
    """
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return f"{value}i"
    if type(value) is float:
        if not math.isfinite(value):
            raise ValueError(f"line protocol cannot carry {value!r}")
        return repr(value)
    if type(value) is str:
        return '"' + value.translate(_ESCAPE_STRING) + '"'
    raise ValueError(f"unsupported field value {value!r} ({type(value).__name__})")


#: Rendered series keys and field keys, cleared when they grow past this many entries.
CACHE_MAX = 100_000
_series_cache: dict[tuple[str, TagSet], str] = {}
_field_key_cache: dict[str, str] = {}  # field name -> escaped name followed by "="


def _render_series(measurement: str, tags: TagSet) -> str:
    out = measurement.translate(_ESCAPE_MEASUREMENT)
    for key, value in tags:
        out += "," + key.translate(_ESCAPE_KEY) + "=" + value.translate(_ESCAPE_KEY)
    return out


def _cache_series(cache_key: tuple[str, TagSet]) -> str:
    if len(_series_cache) >= CACHE_MAX:
        _series_cache.clear()
    rendered = _series_cache[cache_key] = _render_series(*cache_key)
    return rendered


def _cache_field_key(name: str) -> str:
    if len(_field_key_cache) >= CACHE_MAX:
        _field_key_cache.clear()
    prefix = _field_key_cache[name] = name.translate(_ESCAPE_KEY) + "="
    return prefix


def series_key(point: Point) -> str:
    """Measurement and tag set in line-protocol form: identifies the point's series."""
    cache_key = (point.measurement, point.tags)
    return _series_cache.get(cache_key) or _cache_series(cache_key)


def _lines(points: Iterable[Point]) -> list[str]:
    """Each point as a line; one loop with the caches inlined, since a batch renders
    thousands of points (``facility bench ingest``)."""
    series_cache, field_keys = _series_cache, _field_key_cache
    lines = []
    for point in points:
        fields = point.fields
        if not fields:
            raise ValueError(f"point of {point.measurement!r} has no fields")
        cache_key = (point.measurement, point.tags)
        series = series_cache.get(cache_key) or _cache_series(cache_key)
        parts = []
        for name, value in fields:
            prefix = field_keys.get(name) or _cache_field_key(name)
            if type(value) is int:
                parts.append(f"{prefix}{value}i")
            else:
                parts.append(prefix + format_field(value))
        lines.append(f"{series} {','.join(parts)} {point.time_ns}")
    return lines


def to_line(point: Point) -> str:
    """Render one point as a line of line protocol (no trailing newline).

    Raises:
        ValueError: when the point has no fields or a field value cannot be written.
    """
    return _lines((point,))[0]


def to_body(points: Iterable[Point]) -> bytes:
    """Render points as one line-protocol request body (UTF-8, newline-separated).

    Raises:
        ValueError: as :func:`to_line`.
    """
    return "\n".join(_lines(points)).encode()
