"""Full-text search of completions (db/search.py, db/search_index.py, `star rationales --search`).

On SQLite (FTS5) and PostgreSQL (tsvector + GIN) the same queries must find the same attempts;
the index is built by `index_pending` (what `star db index` runs), follows deletes and edits,
and the query goes through the index (EXPLAIN), which is how "fast" is tested here.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from db.errors import StoreError
from db.queries import RationaleFilter, list_rationales, round_ids
from db.search import fts5_expression, id_range, index_query, parse_search, search_rationales
from db.search_index import index_pending, pending_count
from db.store import get_or_create_round, get_run, insert_attempts
from star.cli import cli, register_commands

register_commands()

PLANTED = {
    "one": "so we carry the one into the tens column, answer 4",
    "twice": "the sum carries over twice; answer 5",
    "carrying": "No carrying needed here. answer 4",
    "markup": "<b>carry</b> & <script>alert(1)</script> answer 4",
}
FILLER = 3_000  # attempts without any of the words above, so a word in four is rare to the planner


def test_queries_are_parsed_not_passed_through() -> None:
    parsed = parse_search('carry "the one" tens OR units -wrong')
    assert parsed.clauses == (("carry",), ("the one",), ("tens", "units")) and parsed.excluded == ("wrong",)
    assert fts5_expression(parsed) == '(("carry") AND ("the one") AND ("tens" OR "units")) NOT "wrong"'
    # FTS5 operators and quotes in the input are only ever text.
    assert fts5_expression(parse_search('NEAR(a b) "x""y" AND*')) == '("NEAR(a") AND ("b)") AND ("x") AND ("y") AND ("AND*")'
    for nothing in ("", "   ", "-carry", '"" + =', "OR"):
        with pytest.raises(StoreError, match="has no word to look for"):
            parse_search(nothing)
    with pytest.raises(StoreError, match="more than 32 terms"):
        parse_search(" ".join(f"w{i}" for i in range(33)))


@pytest.fixture
def planted(factory, seeded, make_attempt) -> dict[str, int]:
    """The demo run plus round 3 holding the planted completions; returns their attempt ids."""
    with factory.begin() as s:
        run = get_run(s, seeded.run)
        round_id = get_or_create_round(s, run, 3).id
        pid = seeded.problems["p0"]
        rows = [make_attempt(round_id, pid, "direct", n, ok=key != "twice", completion=completion)
                for n, (key, completion) in enumerate(PLANTED.items())]
        rows += [make_attempt(round_id, seeded.problems["p1"], "direct", n, ok=False,
                              completion=f"add the units first, then the tens: filler number {n}")
                 for n in range(FILLER)]
        insert_attempts(s, rows)
        ids = {key: s.scalar(text("SELECT id FROM attempts WHERE completion = :c"), {"c": c})
               for key, c in PLANTED.items()}
    index_everything(factory)
    return ids


def index_everything(factory) -> None:
    while True:
        with factory.begin() as s:
            if index_pending(s, batch=100) == 0:
                return


def found(factory, query: str, **filters) -> list[int]:
    with factory() as s:
        flt = RationaleFilter(run="demo", search=query, **{"limit": 50, **filters})
        return [a.id for a in search_rationales(s, flt)]


def test_words_stems_phrases_or_and_exclusion(factory, planted) -> None:
    ids = planted
    assert found(factory, "carry") == sorted([ids["one"], ids["twice"], ids["carrying"], ids["markup"]])
    assert found(factory, "CARRIES") == found(factory, "carry")  # case and English stems
    assert found(factory, '"carry the one"') == [ids["one"]]
    assert found(factory, '"the one carry"') == []  # a phrase keeps its order
    assert found(factory, "twice OR needed") == sorted([ids["twice"], ids["carrying"]])
    assert found(factory, "carry -tens -twice") == sorted([ids["carrying"], ids["markup"]])
    assert found(factory, "script alert") == [ids["markup"]]  # markup is text like any other
    assert found(factory, "nowhere") == []


def test_filters_and_pages(factory, planted, seeded) -> None:
    ids = planted
    assert found(factory, "carry", accepted=False) == [ids["twice"]]
    assert found(factory, "carry", round_index=1) == []
    assert found(factory, "tens", round_index=3, correct=True) == [ids["one"]]  # the fillers are all wrong
    assert len(found(factory, "tens", correct=False)) == 50  # a page of the fillers
    first = found(factory, "carry", limit=2)
    rest = found(factory, "carry", after_id=first[-1])
    assert first + rest == found(factory, "carry") and len(first) == 2
    assert found(factory, "answer", kind="rationalized") != []  # seeded round 1 has rationalized attempts


def test_contains_keeps_its_substring_semantics(factory, planted) -> None:
    with factory() as s:
        hits = list_rationales(s, RationaleFilter(run="demo", round_index=3, contains="CARR", limit=50))
    # A substring, any case: "carr" inside "carrying" and "carries", which no word search for "carr" finds.
    assert sorted(a.id for a in hits) == sorted(planted.values())
    assert found(factory, "carr") == []


def test_only_indexed_attempts_are_found_until_indexed(factory, planted, seeded, make_attempt) -> None:
    with factory.begin() as s:
        round_id = get_or_create_round(s, get_run(s, "demo"), 4).id
        insert_attempts(s, [make_attempt(round_id, seeded.problems["p2"], "direct", 0, ok=True,
                                         completion="a zebra carries the digit")])
    with factory() as s:
        assert pending_count(s) == 1
    assert found(factory, "zebra") == []
    index_everything(factory)
    with factory() as s:
        assert pending_count(s) == 0
    assert len(found(factory, "zebra")) == 1


def test_deleted_and_edited_attempts_leave_the_index(store_url, factory, planted, seeded, make_attempt) -> None:
    with factory.begin() as s:
        s.execute(text("UPDATE attempts SET completion = 'rewritten: a walrus' WHERE id = :id"), {"id": planted["one"]})
        s.execute(text("DELETE FROM attempts WHERE id = :id"), {"id": planted["markup"]})
    index_everything(factory)  # PostgreSQL re-queues an edited attempt
    assert found(factory, "walrus") == [planted["one"]] and found(factory, '"carry the one"') == []
    assert planted["markup"] not in found(factory, "carry")
    # Rows stored after a delete at the end of the table get ids the index has not seen: pending again.
    with factory.begin() as s:
        top = s.scalar(text("SELECT max(id) FROM attempts"))
        s.execute(text("DELETE FROM attempts WHERE id > :top"), {"top": top - 5})
        round_id = get_or_create_round(s, get_run(s, "demo"), 5).id
        insert_attempts(s, [make_attempt(round_id, seeded.problems["p3"], "direct", 0, ok=True,
                                         completion="an okapi carries")])
    index_everything(factory)
    assert len(found(factory, "okapi")) == 1
    if store_url.startswith("sqlite"):
        with factory.begin() as s:  # FTS5 checks its index against the content table
            s.execute(text("INSERT INTO attempts_fts (attempts_fts) VALUES ('integrity-check')"))


def explain(session, stmt) -> str:
    conn = session.connection()
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    if conn.dialect.name == "sqlite":
        params = tuple(compiled.params[name] for name in compiled.positiontup)
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.string, params)
        return "\n".join(str(row[-1]) for row in rows)
    return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + compiled.string, compiled.params))


def test_the_id_range_of_many_rounds_is_one_statement(factory, engine, planted, seeded) -> None:
    """A whole run's search bounds its walk by the rounds' id range; it once took two round trips per
    round (70 ms of a 100-round run's search), so the number of statements is what is checked."""
    from sqlalchemy import event

    with factory.begin() as s:
        run = get_run(s, seeded.run)
        empty = get_or_create_round(s, run, 9).id  # a round with no attempts bounds nothing
    with factory() as s:
        rounds = round_ids(s, get_run(s, "demo"), None)
        assert empty in rounds and len(rounds) >= 3
        expected = s.execute(text("SELECT min(a.id), max(a.id) FROM attempts a JOIN rounds r ON r.id = a.round_id "
                                  "JOIN runs u ON u.id = r.run_id WHERE u.name = 'demo'")).one()
        statements: list[str] = []

        def listener(_conn, _cursor, statement, *_rest) -> None:
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert id_range(s, rounds) == tuple(expected)
            assert id_range(s, [empty]) == (0, -1)
            assert id_range(s, []) == (0, -1)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    assert len(statements) == 2, statements  # one per call with rounds, none for no rounds


def test_the_query_goes_through_the_full_text_index(store_url, factory, planted, seeded) -> None:
    with factory() as s:
        if not store_url.startswith("sqlite"):
            # What autovacuum does within a minute of a load: merge GIN's list of pending entries (the
            # planner prices a search by it) and gather statistics.
            s.execute(text("SELECT gin_clean_pending_list('ix_attempt_search_document')"))
            s.execute(text("ANALYZE attempt_search"))
        rounds = round_ids(s, get_run(s, "demo"), None)
        low, high = id_range(s, rounds)
        query = index_query(s, parse_search("walrus"), rounds, RationaleFilter(run="demo"), after=low - 1, high=high,
                            limit=20)
        plan = explain(s, query)
    if store_url.startswith("sqlite"):
        assert "attempts_fts VIRTUAL TABLE INDEX" in plan, plan
        assert "SEARCH attempts USING INTEGER PRIMARY KEY" in plan, plan
    else:
        assert "ix_attempt_search_document" in plan, plan  # the GIN index finds a rare word
        assert "Seq Scan on attempts" not in plan, plan


def test_star_rationales_search_indexes_first(store_url, factory, seeded, make_attempt) -> None:
    with factory.begin() as s:
        insert_attempts(s, [make_attempt(seeded.rounds[2], seeded.problems["p5"], "direct", 7, ok=True,
                                         completion="the lemur carries one")])
    runner = CliRunner()
    out = runner.invoke(cli, ["rationales", "demo", "--search", "lemur", "--json", "--db", store_url],
                        catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert [a["completion"] for a in json.loads(out.stdout)] == ["the lemur carries one"]
    with factory() as s:
        assert pending_count(s) == 0
    bad = runner.invoke(cli, ["rationales", "demo", "--search", "-lemur", "--db", store_url])
    assert bad.exit_code == 2 and "has no word to look for" in bad.stderr
    index = runner.invoke(cli, ["db", "index", "--db", store_url], catch_exceptions=False)
    assert index.exit_code == 0 and "indexed 0 attempts" in index.output


def test_a_large_backlog_is_left_to_star_db_index(store_url, factory, seeded, make_attempt, monkeypatch) -> None:
    from star.cli import store as store_cmds

    monkeypatch.setattr(store_cmds, "INLINE_INDEX_LIMIT", 5)  # the seeded run alone is more than that
    out = CliRunner().invoke(cli, ["rationales", "demo", "--search", "steps", "--json", "--db", store_url])
    assert out.exit_code == 0 and json.loads(out.stdout) == []
    assert "more than 5 stored attempts are not indexed yet" in out.stderr and "star db index" in out.stderr
    index = CliRunner().invoke(cli, ["db", "index", "--batch", "7", "--db", store_url], catch_exceptions=False)
    assert index.exit_code == 0 and "indexed 32 attempts" in index.output
    again = CliRunner().invoke(cli, ["rationales", "demo", "--search", "steps", "--limit", "100", "--json",
                                     "--db", store_url])
    assert len(json.loads(again.stdout)) == 32


def test_pages_cross_from_the_walk_to_the_index(factory, planted) -> None:
    """PostgreSQL reads the first rows in id order, then asks GIN for the rest: no match lost or repeated."""
    pages, after = [], None
    while True:
        page = found(factory, "filler", limit=700, after_id=after)
        if not page:
            break
        pages.append(page)
        after = page[-1]
    ids = [i for page in pages for i in page]
    assert len(ids) == FILLER and ids == sorted(set(ids)) and [len(p) for p in pages] == [700] * 4 + [200]
    assert found(factory, "one", limit=1) == [planted["one"]]  # the planted row comes before the fillers
