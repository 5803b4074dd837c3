"""Packaged prompt templates and few-shot examples (data files, read with importlib.resources)."""
