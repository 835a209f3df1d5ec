"""JSON log lines carry the request's fields."""

from __future__ import annotations

import json
import logging

from visage.logs import JsonFormatter


def test_json_formatter_includes_extras_and_exceptions() -> None:
    record = logging.LogRecord("visage.api", logging.INFO, __file__, 1, "request", (), None)
    record.request_id, record.status = "abc", 200
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "request" and line["request_id"] == "abc" and line["status"] == 200
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert "ValueError: boom" in json.loads(JsonFormatter().format(record))["exc"]
