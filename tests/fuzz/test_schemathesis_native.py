"""Schemathesis against the native OpenAPI spec: no generated request may cause a 5xx.

Driven through schemathesis' hypothesis strategies (its pytest plugin does not load on this
pytest), bounded per operation so the suite stays fast.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

schemathesis = pytest.importorskip("schemathesis")

pytestmark = pytest.mark.slow


def test_no_generated_request_causes_a_server_error(engine, tmp_path) -> None:
    from visage.api.app import create_app
    from visage.config import Settings

    app = create_app(Settings(store_url=f"sqlite:///{tmp_path}/s.db"), engine)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def run(case) -> None:
            response = case.call()
            if response.status_code >= 500 or "Traceback" in response.text:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}")

        run()
    assert not failures, "\n".join(failures[:10])
