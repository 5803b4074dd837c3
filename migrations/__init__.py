"""Alembic migrations for the rationale store; the only way its schema changes.

Run them with `star db upgrade [--db URL]` (see db/migrate.py), or with
`alembic upgrade head` from the repository root (alembic.ini).
"""
