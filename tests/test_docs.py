"""Docs beside features, enforced (STYLE.md)."""
import importlib.util
from pathlib import Path

import pytest

from acquire.cli import cli

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location("make_cli_reference", DOCS / "make_cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_is_documented(name):
    assert f"## acquire {name}" in (DOCS / "cli.md").read_text()


def test_the_cli_reference_is_what_help_prints_today():
    assert (DOCS / "cli.md").read_text() == _generator().reference(), "run python docs/make_cli_reference.py"
