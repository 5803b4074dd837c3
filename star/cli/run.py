"""Placeholder: commands are added by the issue that owns this module."""

import click

COMMANDS: list[click.Command] = []
