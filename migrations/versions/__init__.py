"""Alembic revisions (a package so setuptools ships them with the distribution)."""
