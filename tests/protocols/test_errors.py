from __future__ import annotations

import orjson
import pytest

from modelyard.errors import (
    ContentFilteredError,
    ContextLengthExceededError,
    ProviderQuotaExhaustedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from modelyard.protocols.anthropic import Anthropic, AnthropicQuirks
from modelyard.protocols.errors import error_for_status, redact, retry_after_s
from modelyard.protocols.openai import OpenAI
from modelyard.protocols.sse import ServerSentEvent
from tests.fakes.openai import error_body
from tests.protocols.targets import target

openai = OpenAI()


@pytest.mark.parametrize(
    ("status", "code", "error_type", "expected", "retryable"),
    [
        (400, None, "invalid_request_error", UpstreamBadRequestError, False),
        (400, "context_length_exceeded", "invalid_request_error", ContextLengthExceededError, False),
        (400, "content_filter", "invalid_request_error", ContentFilteredError, False),
        (401, "invalid_api_key", "invalid_request_error", UpstreamAuthError, False),
        (403, "unsupported_country_region_territory", "request_forbidden", UpstreamAuthError, False),
        (404, "model_not_found", "invalid_request_error", UpstreamBadRequestError, False),
        (402, None, "unknown_error", ProviderQuotaExhaustedError, False),
        (408, None, "timeout", UpstreamTimeoutError, True),
        (409, None, "conflict", UpstreamUnavailableError, True),
        (413, None, "invalid_request_error", UpstreamBadRequestError, False),
        (422, None, "invalid_request_error", UpstreamBadRequestError, False),
        (429, "rate_limit_exceeded", "requests", UpstreamRateLimitError, True),
        (429, "insufficient_quota", "insufficient_quota", ProviderQuotaExhaustedError, False),
        (500, None, "server_error", UpstreamUnavailableError, True),
        (502, None, "server_error", UpstreamUnavailableError, True),
        (503, None, "server_error", UpstreamUnavailableError, True),
        (529, None, "overloaded_error", UpstreamUnavailableError, True),
    ],
)
def test_every_documented_status_maps_into_the_hierarchy(status, code, error_type, expected, retryable) -> None:
    body = orjson.dumps(error_body("Something happened", type=error_type, code=code))
    error = openai.parse_error(target(), status, {}, body)
    assert type(error) is expected
    assert error.is_retryable is retryable
    assert error.status_code == status
    assert str(error).startswith("[acme] ")
    assert "Something happened" in str(error)


def test_rate_limit_reads_retry_after_in_seconds_or_milliseconds() -> None:
    body = orjson.dumps(error_body("slow down", code="rate_limit_exceeded"))
    assert openai.parse_error(target(), 429, {"Retry-After": "7"}, body).retry_after_s == 7
    assert openai.parse_error(target(), 429, {"retry-after-ms": "1500"}, body).retry_after_s == 1.5
    assert retry_after_s({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None


def test_fastapi_style_detail_bodies_are_understood() -> None:
    error = openai.parse_error(target(), 400, {}, b'{"detail": "Model not found in the cluster"}')
    assert isinstance(error, UpstreamBadRequestError)
    assert "Model not found in the cluster" in str(error)


def test_a_non_json_error_page_is_quoted_briefly() -> None:
    error = openai.parse_error(target(), 502, {}, b"<html>Bad Gateway</html>" + b"x" * 1000)
    assert isinstance(error, UpstreamUnavailableError)
    assert len(str(error)) < 400


def test_a_key_echoed_by_the_vendor_never_reaches_the_message() -> None:
    secret = "sk-test-0123456789"
    body = orjson.dumps(error_body(f"Incorrect API key provided: {secret}. Also sk-proj-abcdefgh1234 is wrong."))
    error = openai.parse_error(target(credentials={"api_key": secret}), 401, {}, body)
    assert secret not in str(error)
    assert "sk-proj-abcdefgh1234" not in str(error)
    assert "Incorrect API key provided" in str(error)


def test_redact_masks_given_secrets_even_when_they_do_not_look_like_keys() -> None:
    assert redact("token hunter2secret leaked", ["hunter2secret"]) == "token **** leaked"


# --- failures reported inside an HTTP 200 -------------------------------------------------------------------------


def test_an_error_event_in_a_200_stream_quotes_the_vendor_not_a_status_it_never_sent() -> None:
    parser = openai.chat_stream_parser(target())
    event = ServerSentEvent(orjson.dumps(error_body("upstream fell over", type="server_error", code="server_error")))

    with pytest.raises(UpstreamUnavailableError) as caught:
        parser.feed(event)

    assert str(caught.value) == "[acme] upstream stream error: upstream fell over (server_error)"
    assert caught.value.status_code == 502  # what the code amounts to: it still classifies the error


def test_an_anthropic_error_event_keeps_its_class_and_says_what_anthropic_said() -> None:
    parser = Anthropic().chat_stream_parser(target(protocol="anthropic", quirks=AnthropicQuirks()))
    data = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}

    with pytest.raises(UpstreamUnavailableError) as caught:
        parser.feed(ServerSentEvent(orjson.dumps(data), event="error"))

    assert str(caught.value) == "[acme] upstream stream error: Overloaded (overloaded_error)"


def test_an_error_in_place_of_a_200_answer_says_so() -> None:
    body = orjson.dumps(error_body("slow down", type="requests", code="rate_limit_exceeded"))

    with pytest.raises(UpstreamRateLimitError) as caught:
        openai.parse_chat(target(), body)

    assert str(caught.value) == "[acme] upstream error in a 200 answer: slow down (rate_limit_exceeded)"


def test_an_http_failure_still_quotes_its_status() -> None:
    error = error_for_status(provider="acme", status=503, message="down for maintenance", code="unavailable")
    assert str(error) == "[acme] provider unavailable: down for maintenance (HTTP 503)"
