"""Settings: defaults, URL normalization, clear errors, `papersift config` masks secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from papersift.settings import Settings
from tests.conftest import Cli


def test_defaults_resolve_paths():
    settings = Settings(_env_file=None)
    assert settings.data_dir == Path("./var").resolve()
    assert settings.shared_data == Path("../shared/data").resolve()
    assert settings.uses_embedded_database
    assert settings.model == "all-MiniLM-L6-v2"


def test_postgres_urls_use_the_psycopg_driver():
    settings = Settings(_env_file=None, database_url="postgres://u:p@db:5432/papersift")
    assert settings.database_url.get_secret_value() == "postgresql+psycopg://u:p@db:5432/papersift"


def test_a_non_postgres_url_is_refused_with_the_variable_named():
    with pytest.raises(ValidationError, match="PAPERSIFT_DATABASE_URL must be a postgresql:// URL"):
        Settings(_env_file=None, database_url="sqlite:///x.db")


def test_environment_variables_are_read_with_the_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("PAPERSIFT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PAPERSIFT_IMPORT_BATCH_SIZE", "123")
    settings = Settings(_env_file=None)
    assert settings.data_dir == tmp_path
    assert settings.import_batch_size == 123


def test_config_prints_every_setting_with_the_password_masked(tmp_path):
    settings = Settings(_env_file=None, database_url="postgresql://me:s3cret@db/papersift",
                        data_dir=tmp_path)
    result = Cli(settings)("config")
    assert result.exit_code == 0
    assert "s3cret" not in result.output
    assert "PAPERSIFT_DATABASE_URL = postgresql+psycopg://me:***@db/papersift" in result.output
    for name in Settings.model_fields:
        assert f"PAPERSIFT_{name.upper()} = " in result.output
