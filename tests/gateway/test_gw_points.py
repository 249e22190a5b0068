"""Line protocol serialisation: exact strings, escaping, types."""

from __future__ import annotations

import math

import pytest
from facility_gateway.points import Point, format_field, make_point, to_body, to_line
from influxdb_client import Point as ClientPoint
from influxdb_client import WritePrecision

T = 1764403200123000042

CASES = [
    # (measurement, tags, fields, expected line)
    (
        "door_crossing",
        {"site": "xh-01", "device": "dc-main", "space": "culture-1", "clock": "synced"},
        [("in", 2), ("out", 0), ("seq", 42)],
        "door_crossing,clock=synced,device=dc-main,site=xh-01,space=culture-1 "
        f"in=2i,out=0i,seq=42i {T}",
    ),
    ("m", {"space": "reading room"}, [("v", 1)], f"m,space=reading\\ room v=1i {T}"),
    ("m", {"space": "a,b"}, [("v", 1)], f"m,space=a\\,b v=1i {T}"),
    ("m", {"space": "a=b"}, [("v", 1)], f"m,space=a\\=b v=1i {T}"),
    ("m", {"my tag": "x"}, [("v", 1)], f"m,my\\ tag=x v=1i {T}"),
    ("m", {"space": "文化站 二楼"}, [("v", 1)], f"m,space=文化站\\ 二楼 v=1i {T}"),
    ("door crossing,x", {}, [("v", 1)], f"door\\ crossing\\,x v=1i {T}"),
    ("m=eq", {}, [("v", 1)], f"m=eq v=1i {T}"),
    ("m", {"a": "line\nbreak"}, [("v", 1)], f"m,a=line\\nbreak v=1i {T}"),
    ("m", {"empty": "", "b": "2"}, [("v", 1)], f"m,b=2 v=1i {T}"),
    (
        "m",
        {},
        [("field key", 1), ("k=v", 2), ("a,b", 3)],
        f"m field\\ key=1i,k\\=v=2i,a\\,b=3i {T}",
    ),
    ("m", {}, [("s", 'say "hi" \\ ok')], f'm s="say \\"hi\\" \\\\ ok" {T}'),
    ("m", {}, [("s", "温度 = 高, ok")], f'm s="温度 = 高, ok" {T}'),
    ("m", {}, [("f", 1.5), ("g", 2.0), ("h", -0.25)], f"m f=1.5,g=2.0,h=-0.25 {T}"),
    ("m", {}, [("i", -3), ("big", 2**53 - 1)], f"m i=-3i,big=9007199254740991i {T}"),
    ("m", {}, [("on", True), ("off", False)], f"m on=true,off=false {T}"),
]


@pytest.mark.parametrize(("measurement", "tags", "fields", "expected"), CASES)
def test_line_protocol_exact(
    measurement: str, tags: dict[str, str], fields: list, expected: str
) -> None:
    """Each point renders to exactly the documented line-protocol string."""
    assert to_line(make_point(measurement, tags, fields, T)) == expected


@pytest.mark.parametrize("index", [0, 1, 2, 3, 4, 5, 6, 11, 12])
def test_matches_influxdb_client_serialiser(index: int) -> None:
    """Our lines equal influxdb-client's Point.to_line_protocol() (which sorts fields and
    writes 2.0 as 2, so only cases where both conventions agree)."""
    measurement, tags, fields, _ = CASES[index]
    theirs = ClientPoint(measurement).time(T, WritePrecision.NS)
    for k, v in tags.items():
        theirs = theirs.tag(k, v)
    for k, v in fields:
        theirs = theirs.field(k, v)
    assert to_line(make_point(measurement, tags, fields, T)) == theirs.to_line_protocol()


def test_tags_are_sorted_by_key() -> None:
    """Tags come out sorted by key whatever order they were given in."""
    point = make_point("m", {"z": "1", "a": "2", "m": "3"}, {"v": 1}, 5)
    assert to_line(point) == "m,a=2,m=3,z=1 v=1i 5"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_float_refused(bad: float) -> None:
    """NaN and infinities cannot be written and raise ValueError."""
    with pytest.raises(ValueError, match="cannot carry"):
        format_field(bad)


def test_point_without_fields_refused() -> None:
    """A point with no fields is not valid line protocol."""
    with pytest.raises(ValueError, match="no fields"):
        to_line(Point("m", (), (), 1))


def test_body_joins_lines_with_newlines() -> None:
    """A request body is the lines joined by newlines, UTF-8 encoded."""
    a = make_point("m", {"s": "文"}, {"v": 1}, 1)
    b = make_point("m", {}, {"v": 2}, 2)
    assert to_body([a, b]) == "m,s=文 v=1i 1\nm v=2i 2".encode()
