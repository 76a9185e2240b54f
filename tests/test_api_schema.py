"""Property-based requests from the service's own OpenAPI schema (schemathesis): whatever the
parameters, no endpoint answers 5xx, and every response matches its documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import response_schema_conformance

from service.app import create_app


@pytest.fixture(scope="module")
def api_schema(corpus):
    app = create_app(corpus)
    with TestClient(app):  # runs the lifespan: database, catalog, index
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_errors_and_documented_responses(api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            response = case.call()
            where = f"{case.method} {case.formatted_path} {case.query}"
            assert response.status_code < 500, f"{where}: {response.text[:300]}"
            if response.status_code < 400:
                case.validate_response(response, checks=(response_schema_conformance,))
            else:
                assert response.json()["error"]["message"], where
                assert "Traceback" not in response.text, where

        check()
