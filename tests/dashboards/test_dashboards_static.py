"""The dashboards as files: generated and committed, stable uids, one datasource, local
time, and only the measurements, tags and fields the schema lists."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import pytest
import yaml
from facility_contracts import envelope, vitals
from facility_contracts.schema import MEASUREMENTS
from facility_dashboards import build
from facility_dashboards.core import DATASOURCE_UID, FOLDER_UID, TZ
from facility_server.domain import SpaceType
from grafana_sim import targets
from influxql_refs import FUNCTIONS, KEYWORDS, refs, tokens

BOARDS = build.dashboards()
#: Pinned: links, bookmarks and the push rely on these never changing.
UIDS = [
    "facility-overview",
    "facility-utilisation",
    "facility-safety",
    "facility-scorecard",
    "facility-devices",
    "facility-kiosk",
]
VARIABLES = {"timeFilter", "__interval", "__from", "__to", "district", "street", "complex", "space"}
KNOWN_VALUES = {
    "task": set(typing.get_args(envelope.TaskKind)),
    "space_type": {str(t) for t in SpaceType},
    "clock": {"synced", "unsynced", "estimated"},
    "rating": set(typing.get_args(envelope.Rating)),
    "reading_type": set(typing.get_args(vitals.ReadingType)),
}


def _queries() -> list[tuple[str, str]]:
    out = [
        (f"{d['uid']}: {p['title']} {t['refId']}", t["query"])
        for d in BOARDS
        for p, t in targets(d)
    ]
    out += [
        (f"{d['uid']}: ${v['name']}", v["query"]) for d in BOARDS for v in d["templating"]["list"]
    ]
    return out


def test_committed_files_are_generated_from_the_code() -> None:
    """dashboards/generated and dashboards/provisioning are exactly what the code makes."""
    assert build.check() == [], "run `uv run facility dashboards generate`"


def test_uids_are_stable_and_match_the_files() -> None:
    """Dashboard uids are the pinned ones, unique, and name their JSON files."""
    assert [d["uid"] for d in BOARDS] == UIDS
    files = sorted(p.name for p in (build.ROOT / build.GENERATED).glob("*.json"))
    assert files == sorted(f"{uid}.json" for uid in UIDS)
    for uid in UIDS:
        assert json.loads((build.ROOT / build.GENERATED / f"{uid}.json").read_text())["uid"] == uid


def test_one_datasource_uid_shared_with_provisioning() -> None:
    """Every panel and query names the provisioned datasource by its uid (math: expressions)."""
    provisioned = yaml.safe_load(
        (build.ROOT / "provisioning/datasources/facility.yaml").read_text()
    )
    assert [d["uid"] for d in provisioned["datasources"]] == [DATASOURCE_UID]
    providers = yaml.safe_load((build.ROOT / "provisioning/dashboards/facility.yaml").read_text())
    assert providers["providers"][0]["folderUid"] == FOLDER_UID
    for d in BOARDS:
        for var in d["templating"]["list"]:
            assert var["datasource"]["uid"] == DATASOURCE_UID
        for p in d["panels"]:
            for t in p.get("targets", []):
                assert t["datasource"]["uid"] in (DATASOURCE_UID, "__expr__"), p["title"]
            if p.get("targets"):
                assert p["datasource"]["uid"] == DATASOURCE_UID


def test_dashboards_are_in_local_time() -> None:
    """Dashboards show Asia/Shanghai; every time grouping is in that zone, weeks on Monday."""
    for d in BOARDS:
        assert d["timezone"] == TZ and d["weekStart"] == "monday"
    for name, q in _queries():
        groups = len(re.findall(r"GROUP BY time\(", q))
        assert q.count(f"tz('{TZ}')") == groups, name
        assert "time(1w)" not in q, f"{name}: 1w buckets start on Thursday"


def test_queries_use_only_the_schema() -> None:
    """Queries name only the schema's measurements, tags, fields and tag values; no bare names."""
    problems = []
    for name, q in _queries():
        r = refs(q)
        if not r.measurements or not r.measurements <= set(MEASUREMENTS):
            problems.append(f"{name}: measurements {r.measurements}")
            continue
        for m in r.measurements:
            spec = MEASUREMENTS[m]
            fields = {f.name for f in spec.fields}
            if bad := r.tags - set(spec.tags):
                problems.append(f"{name}: {m} has no tags {bad}")
            if bad := r.fields - fields - r.aliases:
                problems.append(f"{name}: {m} has no fields {bad}")
        for tag, values in r.tag_values.items():
            if bad := values - KNOWN_VALUES.get(tag, values):
                problems.append(f"{name}: {tag} values {bad}")
        if bad := r.words - KEYWORDS - FUNCTIONS:
            problems.append(f"{name}: bare words {bad}")
        if bad := r.variables - VARIABLES:
            problems.append(f"{name}: unknown variables {bad}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("query", "field", "tag"),
    [
        ('SELECT sum("nope") FROM "door_crossing" WHERE $timeFilter', "nope", None),
        ('SELECT sum("in") FROM "door_crossing" WHERE $timeFilter GROUP BY "room"', None, "room"),
    ],
)
def test_schema_check_catches_unknown_names(query: str, field: str | None, tag: str | None) -> None:
    """The reference reader sees an unknown field and an unknown tag (the check can fail)."""
    r = refs(query)
    spec = MEASUREMENTS["door_crossing"]
    if field:
        assert field in r.fields and field not in {f.name for f in spec.fields}
    if tag:
        assert tag in r.tags and tag not in spec.tags


def test_rating_values_in_regex_are_known() -> None:
    """The satisfaction filter's regex names only ratings the terminals send."""
    for name, q in _queries():
        for kind, text in tokens(q):
            if kind == "regex" and "satisfied" in text:
                assert set(re.findall(r"[a-z_]+", text)) <= KNOWN_VALUES["rating"], name


def test_panels_have_ids_descriptions_and_fit_the_grid() -> None:
    """Panel ids are unique, every query panel is described, and the layout is 24 wide."""
    for d in BOARDS:
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids))
        for p in d["panels"]:
            assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
            if p.get("targets"):
                assert p["description"], p["title"]
        assert [v["name"] for v in d["templating"]["list"]] == [
            "district",
            "street",
            "complex",
            "space",
        ]


def test_generated_json_is_deterministic(tmp_path: Path) -> None:
    """Generating twice gives byte-identical files (stable diffs in review)."""
    build.write(tmp_path)
    first = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert build.write(tmp_path) == []
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == first
