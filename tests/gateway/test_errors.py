from __future__ import annotations

import orjson
import pytest
import sqlalchemy.exc

from modelyard.errors import HostedQuotaExceededError, UpstreamRateLimitError
from modelyard.gateway.errors import error_body


def test_a_bug_is_a_plain_500_without_its_details() -> None:
    status, body, _ = error_body(KeyError("secret internals"))
    assert status == 500
    assert orjson.loads(body)["error"] == {
        "message": "internal error; the server log has the details",
        "type": "server_error",
        "param": None,
        "code": "internal_error",
    }


@pytest.mark.parametrize(
    "error",
    [
        sqlalchemy.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
        sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("database is locked")),
    ],
)
def test_a_busy_or_missing_database_is_a_503_to_retry(error: Exception) -> None:
    status, body, headers = error_body(error)
    assert status == 503
    assert orjson.loads(body)["error"]["code"] == "store_unavailable"
    assert "QueuePool" not in body.decode() and "locked" not in body.decode()
    assert (b"retry-after", b"1") in headers


def test_quota_and_rate_limits_tell_sdks_whether_to_retry() -> None:
    assert (b"x-should-retry", b"false") in error_body(HostedQuotaExceededError("used up"))[2]
    assert (b"retry-after", b"7") in error_body(UpstreamRateLimitError("slow", provider="p", retry_after_s=6.6))[2]
