"""/api/v1/papers and the service's refusal of an outdated schema."""

from __future__ import annotations

import pytest

from papersift.errors import SchemaOutdated
from papersift.settings import Settings
from tests.conftest import HEAD, Cli, create_database, drop_database


def test_paper_by_public_id_bare_id_and_url(cli, client_for, shared_data):
    cli("import", "arxiv-snapshot", shared_data / "arxiv" / "kaggle-snapshot-sample-200.jsonl")
    with client_for() as client:
        by_public_id = client.get("/api/v1/papers/arxiv:0704.0001")
        by_url = client.get("/api/v1/papers/https://arxiv.org/abs/0704.0001v2")
        by_bare_id = client.get("/api/v1/papers/0704.0001")
    assert by_public_id.status_code == 200
    body = by_public_id.json()
    assert body["id"] == "arxiv:0704.0001"
    assert body["title"] == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    assert body["authors"][0] == "C. Balázs"
    assert by_url.json() == body
    assert by_bare_id.json() == body


def test_unknown_paper_gets_a_404_in_the_error_shape(client_for):
    with client_for() as client:
        response = client.get("/api/v1/papers/arxiv:9999.99999")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "status": 404,
            "code": "paper_not_found",
            "message": "no paper with id 'arxiv:9999.99999'",
            "hint": "ids look like arxiv:2503.11731 or openreview:<forum id>",
        }
    }


def test_service_refuses_an_outdated_schema(pg_admin_url, tmp_path, client_for):
    url = create_database(pg_admin_url, template=None)
    try:
        settings = Settings(_env_file=None, database_url=url, data_dir=tmp_path)
        with pytest.raises(SchemaOutdated, match=f"code needs {HEAD}"):
            with client_for(settings):
                pass
        result = Cli(settings)("serve", "--port", "8765")
        assert result.exit_code == 3
        assert f"database schema is at nothing (empty database), code needs {HEAD}" in result.output
        assert "hint: run: papersift db upgrade" in result.output
    finally:
        drop_database(pg_admin_url, url)


def test_healthz(client_for):
    with client_for() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
