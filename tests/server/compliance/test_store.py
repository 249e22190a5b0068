"""Storing occurrences in batches (on PostgreSQL the server upserts one batch while the
next is evaluated): every row once, nothing twice, in one lock order, a failing batch
fails the write; the one foreign key of an occurrence refers to its rule, complex and
space together."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

import psycopg
import pytest
from facility_server.compliance import store
from facility_server.compliance.load import RuleInfo, load_rules
from facility_server.compliance.views import Occurrence, Window
from facility_server.core.db import make_engine, session_factory
from facility_server.models import Space, TaskOccurrence, TaskRule
from facility_server.setup.importer import import_setup_text
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .conftest import Site, example_text, local, ms

DAY = date(2026, 6, 2)
STATES = ("missed", "on_time", "late")


def _occurrences(n: int, *, changed: str | None = None) -> list[Occurrence]:
    """``n`` rounds of DAY at 09:00, 10:00, ... in the states of STATES in turn (the first
    in ``changed`` instead, when given)."""
    out = []
    for i in range(n):
        start = ms(local(2026, 6, 2, 9 + i))
        window = Window(f"2026-06-02T{9 + i:02d}:00", DAY, start, start, start, start)
        state = changed if changed and i == 0 else STATES[i % len(STATES)]
        out.append(Occurrence(window, state, done_count=int(state != "missed")))  # type: ignore[arg-type]
    return out


def _stored(factory: sessionmaker[Session]) -> set[tuple[int, int, int, str, date, str]]:
    with factory() as s:
        rows = s.execute(
            select(
                TaskOccurrence.rule_id,
                TaskOccurrence.complex_id,
                TaskOccurrence.space_id,
                TaskOccurrence.key,
                TaskOccurrence.day,
                TaskOccurrence.state,
            )
        )
        return {tuple(r) for r in rows}  # type: ignore[misc]


def _rules(factory: sessionmaker[Session]) -> list[RuleInfo]:
    with factory() as s:
        rules, _, _ = load_rules(s)
    assert len(rules) >= 4
    return rules


def _write(
    factory: sessionmaker[Session],
    results: Iterable[tuple[RuleInfo, list[Occurrence]]],
    at: datetime,
    memo: store.Memo | None = None,
) -> list[store.Change]:
    with factory() as s:
        changes, evaluated = store.write(s, results, ms(at), memo=memo)
        s.commit()
    if memo is not None:
        memo.accept()
    assert evaluated == 3 * len(_rules(factory))
    return changes


def test_batches_store_every_row_once(
    site: Site, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Results taken lazily in batches of two rows (a rule's three rounds never split):
    every occurrence is stored once with its rule's complex and space; the same results
    again write nothing (with a memo or without); one changed result rewrites that row."""
    monkeypatch.setattr(store, "_ROWS_PER_BATCH", 2)
    rules = _rules(factory)
    memo = store.Memo()
    changes = _write(factory, ((r, _occurrences(3)) for r in rules), local(2026, 6, 2, 18), memo)
    assert len(changes) == 3 * len(rules)
    expected = {
        (r.id, r.complex_id, r.space_id, f"2026-06-02T{9 + i:02d}:00", DAY, STATES[i])
        for r in rules
        for i in range(3)
    }
    assert _stored(factory) == expected
    same = [(r, _occurrences(3)) for r in reversed(rules)]  # a list may come in any order
    assert _write(factory, same, local(2026, 6, 2, 18, 1)) == []
    assert _write(factory, iter(same[::-1]), local(2026, 6, 2, 18, 1), memo) == []
    last = rules[-1]
    again = [(r, _occurrences(3, changed="late" if r is last else None)) for r in rules]
    changed = _write(factory, iter(again), local(2026, 6, 2, 18, 2), memo)
    assert [(c.info.id, c.occ.key, c.before) for c in changed] == [
        (last.id, "2026-06-02T09:00", "missed")
    ]
    assert _stored(factory) == expected - {
        (last.id, last.complex_id, last.space_id, "2026-06-02T09:00", DAY, "missed")
    } | {(last.id, last.complex_id, last.space_id, "2026-06-02T09:00", DAY, "late")}


def test_lazy_results_out_of_rule_order_are_refused(
    site: Site, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lazy results must come in rule id order (the lock order): a rule after a higher one
    is refused with ValueError naming both, and after the rollback nothing is stored."""
    monkeypatch.setattr(store, "_ROWS_PER_BATCH", 2)
    rules = _rules(factory)
    results = ((r, _occurrences(3)) for r in [*rules[1:], rules[0]])
    with (
        factory() as s,
        pytest.raises(ValueError, match=f"rule {rules[0].id} after {rules[-1].id}"),
    ):
        store.write(s, results, ms(local(2026, 6, 2, 18)))
    assert _stored(factory) == set()


def test_two_writers_at_once_store_each_row_once(
    site: Site, db_url: str, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes writing the same results at once, one given them in reverse order,
    both succeed (the batches go in one lock order: no deadlock) and store each row once."""
    monkeypatch.setattr(store, "_ROWS_PER_BATCH", 2)
    rules = _rules(factory)
    results = [(r, _occurrences(3)) for r in rules]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(given: list[tuple[RuleInfo, list[Occurrence]]]) -> None:
        engine = make_engine(db_url)
        try:
            barrier.wait()
            _write(session_factory(engine), given, local(2026, 6, 2, 18))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=writer, args=(r,)) for r in (results, results[::-1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(_stored(factory)) == 3 * len(rules)
    assert {(o[0], o[3]) for o in _stored(factory)} == {
        (r.id, f"2026-06-02T{9 + i:02d}:00") for r in rules for i in range(3)
    }


def test_a_failing_batch_fails_the_write(
    site: Site, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An occurrence claiming a space that is not its rule's breaks the foreign key: its
    batch (on PostgreSQL upserted in the background) fails the write, and after the
    rollback nothing of any batch is stored."""
    monkeypatch.setattr(store, "_ROWS_PER_BATCH", 2)
    rules = _rules(factory)
    other = next(r.space_id for r in rules if r.space_id != rules[0].space_id)
    wrong = rules[0]._replace(space_id=other)
    results = [(wrong, _occurrences(3))] + [(r, _occurrences(3)) for r in rules[1:]]
    with factory() as s, pytest.raises((IntegrityError, psycopg.IntegrityError)):
        store.write(s, results, ms(local(2026, 6, 2, 18)))
    assert _stored(factory) == set()


def test_occurrences_follow_their_rule(
    site: Site, factory: sessionmaker[Session], example_path: Path
) -> None:
    """A rule moved to another space by the setup file takes its occurrences along;
    deleting that space deletes the rule and its occurrences, and nothing else."""
    site.tick(local(2026, 6, 2, 18))
    with factory() as s:
        spaces = dict(s.execute(select(Space.code, Space.id)).all())
        rule_id = s.scalars(select(TaskRule.id).where(TaskRule.code == "kids-disinfection")).one()
    before = {o for o in _stored(factory) if o[0] == rule_id}
    assert {o[2] for o in before} == {spaces["kids-play"]} and len(before) == 1
    text = example_text(example_path)
    moved = text.replace(
        "  - code: kids-disinfection          # 儿童憩戏: 每日消毒清洁设施\n    space: kids-play",
        "  - code: kids-disinfection          # 儿童憩戏: 每日消毒清洁设施\n    space: culture",
    )
    assert moved != text
    with factory() as s:
        import_setup_text(s, moved)
        s.commit()
    after = {o for o in _stored(factory) if o[0] == rule_id}
    assert after == {(*o[:2], spaces["culture"], *o[3:]) for o in before}
    others = _stored(factory) - after
    with factory() as s:
        s.execute(delete(Space).where(Space.id == spaces["culture"]))
        s.commit()
    assert _stored(factory) == others
