"""Setup files a person gets wrong: duplicates, non-UTF-8 text, bad badges and weekdays are
reported with line and field (never a database traceback); the CLI prints them verbatim."""

from __future__ import annotations

from pathlib import Path

import pytest
from facility_server.cli import app as cli_app
from facility_server.models import Checkpoint
from facility_server.setup import SetupError, import_setup
from facility_server.setup.importer import import_setup_text, parse_setup
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner


def _line_of(text: str, anchor: str) -> int:
    """1-based line of the first line containing ``anchor``."""
    return next(i for i, x in enumerate(text.splitlines(), 1) if anchor in x)


def _edit(example_path: Path, old: str, new: str) -> str:
    text = example_path.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "anchor", "field"),
    [
        (  # the NFC tag of the slide checkpoint, written in lower case with colons
            'nfc: "04A1B2C4"}',
            'nfc: "04:a1:b2:c3"}',
            "04:a1:b2:c3",
            "checkpoints.1.nfc",
        ),
        ('qr: "QR-FIT-EQUIP-01"}', 'qr: "QR-KIDS-TOYS-01"}', "fitness-equip", "checkpoints.4.qr"),
    ],
)
def test_duplicate_checkpoint_tag_names_line_and_field(
    example_path: Path, old: str, new: str, anchor: str, field: str
) -> None:
    """Two checkpoints with the same NFC or QR tag: SetupError at the second one's tag."""
    bad = _edit(example_path, old, new)
    with pytest.raises(SetupError) as info:
        parse_setup(bad)
    assert (info.value.field, info.value.line) == (field, _line_of(bad, anchor))
    assert "tag" in str(info.value)


def test_duplicate_complex_exception_date_names_line_and_field(example_path: Path) -> None:
    """Two whole-complex exceptions on one date: SetupError at the second one's date."""
    bad = _edit(
        example_path,
        '    - {date: "2026-03-18", note: 消防设施年检，全天闭馆}\n',
        '    - {date: "2026-03-18", note: 消防设施年检，全天闭馆}\n'
        '    - {date: "2026-03-18", hours: ["09:00-12:00"], note: 半天}\n',
    )
    with pytest.raises(SetupError) as info:
        parse_setup(bad)
    second = _line_of(bad, "note: 半天")
    assert (info.value.field, info.value.line) == ("complex.exceptions.1.date", second)
    assert "2026-03-18" in str(info.value)


def test_duplicate_space_exception_date_names_line_and_field(example_path: Path) -> None:
    """Two exceptions of one space on one date: SetupError at the second one's date."""
    bad = _edit(
        example_path,
        '      - {date: "2026-04-23", hours: ["09:00-21:30"], note: 世界读书日延时开放}\n',
        '      - {date: "2026-04-23", hours: ["09:00-21:30"], note: 世界读书日延时开放}\n'
        '      - {date: "2026-04-23", note: 闭馆}\n',
    )
    with pytest.raises(SetupError) as info:
        parse_setup(bad)
    second = _line_of(bad, "note: 闭馆")  # culture is the tenth space (index 9)
    assert (info.value.field, info.value.line) == ("spaces.9.exceptions.1.date", second)


def test_same_date_in_complex_and_space_is_allowed(example_path: Path) -> None:
    """A space's exception may share its date with the complex's (it takes precedence)."""
    ok = _edit(
        example_path,
        '      - {date: "2026-04-23", hours: ["09:00-21:30"], note: 世界读书日延时开放}\n',
        '      - {date: "2026-04-23", hours: ["09:00-21:30"], note: 世界读书日延时开放}\n'
        '      - {date: "2026-03-18", note: 闭馆}\n',
    )
    assert len(parse_setup(ok).spaces[9].exceptions) == 2


def test_renamed_checkpoint_keeps_its_tag(
    factory: sessionmaker[Session], example_path: Path
) -> None:
    """Re-importing with a checkpoint's code changed (same tag) replaces it, no conflict."""
    text = example_path.read_text(encoding="utf-8")
    with factory() as s:
        import_setup_text(s, text)
        s.commit()
    renamed = text.replace("cp-kids-slide", "cp-kids-slide-2")  # the checkpoint and its uses
    assert renamed != text
    with factory() as s:
        report = import_setup_text(s, renamed)
        s.commit()
        rows = dict(s.execute(select(Checkpoint.code, Checkpoint.tag)).all())
    assert (report.created["checkpoint"], report.deleted["checkpoint"]) == (1, 1)
    assert rows["cp-kids-slide-2"] == "04A1B2C4" and "cp-kids-slide" not in rows


def test_badge_that_is_not_hex_says_so(example_path: Path) -> None:
    """Badge "ZZZZ" (an even count of non-hex characters) is reported as not hex."""
    bad = _edit(example_path, 'badges: ["04A23B1C"]', 'badges: ["ZZZZ"]')
    with pytest.raises(SetupError) as info:
        parse_setup(bad)
    assert info.value.field == "staff.0.badges"
    assert "hex" in str(info.value)
    assert "even number" not in str(info.value)


def test_badge_with_odd_hex_digits_says_so(example_path: Path) -> None:
    """Badge "04A23B1" (seven hex digits) is still reported as an odd count of digits."""
    bad = _edit(example_path, 'badges: ["04A23B1C"]', 'badges: ["04A23B1"]')
    with pytest.raises(SetupError) as info:
        parse_setup(bad)
    assert "even number of hex digits" in str(info.value)


def test_unknown_weekday_key_is_named(example_path: Path) -> None:
    """Hours key ``wednesday``: 'unknown weekday' at that key's line, field without [key]."""
    bad = _edit(
        example_path,
        'hours: {mon: ["08:00-17:30"], tue: ["08:00-17:30"], wed: ["08:00-17:30"]',
        'hours: {mon: ["08:00-17:30"], tue: ["08:00-17:30"], wednesday: ["08:00-17:30"]',
    )
    with pytest.raises(SetupError) as info:
        parse_setup(bad)
    line = _line_of(bad, "wednesday")
    assert (info.value.field, info.value.line) == ("spaces.0.hours.wednesday", line)
    assert "unknown weekday 'wednesday'; use one of mon, tue" in str(info.value)


def test_setup_file_not_utf8_is_a_setup_error(
    factory: sessionmaker[Session], example_path: Path, tmp_path: Path
) -> None:
    """A setup file saved as GBK (Chinese Windows) is refused as not UTF-8, naming the line."""
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes(example_path.read_text(encoding="utf-8").encode("gbk"))
    first = next(  # the first line with a character GBK encodes as non-ASCII bytes
        i for i, x in enumerate(example_path.read_text("utf-8").splitlines(), 1) if not x.isascii()
    )
    with factory() as s, pytest.raises(SetupError) as info:
        import_setup(s, gbk)
    assert "UTF-8" in str(info.value)
    assert info.value.line == first


def _import(db_url: str, text: str | bytes, tmp_path: Path) -> tuple[int, str]:
    path = tmp_path / "setup.yaml"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    r = CliRunner().invoke(cli_app, ["import", str(path), "--db", db_url])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.output


def test_cli_duplicate_tag_is_one_line_exit_1(
    db_url: str, example_path: Path, tmp_path: Path
) -> None:
    """`import` of a file with a duplicate QR tag prints the line and field, no traceback."""
    bad = _edit(example_path, 'qr: "QR-FIT-EQUIP-01"}', 'qr: "QR-KIDS-TOYS-01"}')
    code, out = _import(db_url, bad, tmp_path)
    assert code == 1
    assert f"line {_line_of(bad, 'cp-fitness-equip')}: checkpoints.4.qr" in out
    assert "Traceback" not in out and "IntegrityError" not in out and "INSERT" not in out


def test_cli_gbk_file_is_one_line_exit_1(db_url: str, example_path: Path, tmp_path: Path) -> None:
    """`import` of a GBK file says it is not UTF-8 instead of crashing."""
    code, out = _import(db_url, example_path.read_text("utf-8").encode("gbk"), tmp_path)
    assert code == 1
    assert "UTF-8" in out
    assert "Traceback" not in out and "UnicodeDecodeError" not in out


def test_cli_keeps_bracketed_text_of_errors(
    db_url: str, example_path: Path, tmp_path: Path
) -> None:
    """A bad site id's message keeps the pattern's [a-z0-9] (no rich markup eaten)."""
    bad = _edit(example_path, "site_id: xihu-beishan-shuguang", "site_id: Xihu Beishan")
    code, out = _import(db_url, bad, tmp_path)
    assert code == 1
    assert r"^[a-z0-9][a-z0-9_-]{0,63}$" in out.replace("\n", "")


def test_cli_database_error_is_one_line_exit_2(example_path: Path, tmp_path: Path) -> None:
    """A database that cannot be opened gives one line and exit 2, not a traceback."""
    url = f"sqlite:///{tmp_path}/no/such/dir/facility.db"
    r = CliRunner().invoke(cli_app, ["import", str(example_path), "--db", url])
    assert r.exit_code == 2, r.output
    assert isinstance(r.exception, SystemExit), r.exception
    assert "database" in r.output.lower()
    assert "Traceback" not in r.output and "[SQL" not in r.output
    assert len(r.output.strip().splitlines()) <= 2  # one message (rich may wrap it once)


def test_cli_unknown_database_scheme_is_exit_2(example_path: Path) -> None:
    """`--db garbage://x` names the URL and the accepted schemes, exit 2."""
    r = CliRunner().invoke(cli_app, ["import", str(example_path), "--db", "garbage://x"])
    assert r.exit_code == 2, r.output
    assert isinstance(r.exception, SystemExit), r.exception
    assert "garbage" in r.output and "sqlite" in r.output
    assert "Traceback" not in r.output and "NoSuchModuleError" not in r.output
