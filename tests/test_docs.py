"""The README documents every setting and every CLI command (datasette's test_docs)."""

from __future__ import annotations

import re

import typer.main

from papersift.cli import app
from papersift.settings import Settings
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def _commands(group: typer.Typer, prefix: str = "papersift") -> list[str]:
    click_group = typer.main.get_command(group)
    names = []
    for name, command in click_group.commands.items():
        if hasattr(command, "commands"):
            names += [f"{prefix} {name} {sub}" for sub in command.commands]
        else:
            names.append(f"{prefix} {name}")
    return names


def test_every_setting_is_in_the_configuration_table():
    documented = set(re.findall(r"^\| `(PAPERSIFT_[A-Z0-9_]+)` \|", README, flags=re.M))
    assert documented == {f"PAPERSIFT_{name.upper()}" for name in Settings.model_fields}


def test_every_command_is_in_the_cli_reference():
    missing = [cmd for cmd in _commands(app) if f"| `{cmd}" not in README]
    assert missing == []
