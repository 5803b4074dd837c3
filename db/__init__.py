"""The rationale store: every attempt star makes, in SQLite or PostgreSQL.

Modules, in the order data flows through them:

- `db.urls`    the default URL (`$STAR_DATABASE_URL` or ./star.db) and URL checks
- `db.engine`  `open_store(url)` (creates/migrates new SQLite files, refuses stale
               databases) and `session_factory(engine)`
- `db.models`  the typed ORM tables; `migrations/` is the only way they change
- `db.store`   what the loop writes and reads back (batched, idempotent)
- `db.queries` listing runs and rationales, one attempt in full
- `db.export`  JSONL / Parquet / Hugging Face datasets for TRL (SFT and DPO pairs)
- `db.story`, `db.flips`, `db.compare`  a problem's story, flips, two runs side by side
               (from `problem_rounds`, kept by triggers; states in `db.outcomes`)
- `db.search`, `db.search_index`  full-text search of completions and keeping its index current
- `db.readonly` read-only engines for `star serve`
- `db.check`   `star db check`: the loop's invariants, asked in SQL (check_*.py)

This package imports nothing from `star/`. docs/schema.md documents the tables.
"""
