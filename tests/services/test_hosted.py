"""The operator's hosted-provider config: parsed, checked against the catalog, and never leaking a key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from modelyard.catalog import default_catalog
from modelyard.services.hosted import HostedConfigError, load_hosted_config
from tests.support import SECRET

ENV = {"OPENAI_API_KEY": SECRET}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hosted.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(HostedConfigError) as caught:
        load_hosted_config(path, default_catalog(), environ=ENV if environ is None else environ)
    message = str(caught.value)
    assert str(path) in message
    assert SECRET not in message
    assert caught.value.__cause__ is None  # a chained error could carry the value into a traceback
    return message


def test_no_config_file_means_no_hosted_providers() -> None:
    assert load_hosted_config(None, default_catalog()).providers == {}


def test_config_loads_quota_models_credits_and_expands_env_references(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        providers:
          openai:
            credentials: {openai_api_key: "${OPENAI_API_KEY}"}
            quota: {type: trial, unit: times, limit: 200}
            models: [gpt-4.1-mini, text-embedding-3-small]
          mistralai:
            credentials: {api_key: "key-${MISTRAL_SUFFIX}"}
            quota: {type: paid, unit: credits, limit: -1}
            credits: {mistral-large-latest: 5}
        """,
    )

    config = load_hosted_config(path, default_catalog(), environ=ENV | {"MISTRAL_SUFFIX": "abc"})

    openai = config.providers["openai"]
    assert openai.credentials["openai_api_key"] == SECRET
    assert openai.credentials["openai_api_base"] == "https://api.openai.com"  # the form's default, filled in
    assert (openai.quota_type, openai.unit, openai.limit) == ("trial", "times", 200)
    assert openai.models == frozenset({"gpt-4.1-mini", "text-embedding-3-small"})
    assert openai.allows("gpt-4.1-mini")
    assert not openai.allows("gpt-4.1")
    mistral = config.providers["mistralai"]
    assert mistral.credentials["api_key"] == "key-abc"
    assert (mistral.limit, mistral.credits, mistral.models) == (-1, {"mistral-large-latest": 5}, None)
    assert mistral.allows("codestral-latest")
    assert list(config.providers) == ["openai", "mistralai"]  # the file's order


def test_env_references_default_to_the_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_TEST_HOSTED_KEY", SECRET)
    path = write(
        tmp_path,
        """
        providers:
          deepseek:
            credentials: {api_key: "${MODELYARD_TEST_HOSTED_KEY}"}
            quota: {type: free, unit: tokens, limit: 1000000}
        """,
    )

    config = load_hosted_config(path, default_catalog())

    assert config.providers["deepseek"].credentials["api_key"] == SECRET


def test_hosted_provider_repr_hides_its_credentials(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        providers:
          openai:
            credentials: {openai_api_key: "${OPENAI_API_KEY}"}
            quota: {type: trial, unit: times, limit: 200}
        """,
    )

    config = load_hosted_config(path, default_catalog(), environ=ENV)

    assert SECRET not in repr(config)


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        pytest.param(
            """
            providers:
              nope:
                credentials: {api_key: sk-test-9f8e7d6c5b4a}
                quota: {type: trial, unit: times, limit: 10}
            """,
            "providers.nope",
            "unknown provider 'nope'",
            id="unknown-provider",
        ),
        pytest.param(
            """
            providers:
              openai:
                credentials: {openai_api_key: sk-test-9f8e7d6c5b4a}
                quota: {type: trial, unit: times, limit: 10}
                models: [gpt-4.1-mini, gpt-2]
            """,
            "providers.openai.models[1]",
            "'gpt-2' is not a openai model in the catalog",
            id="model-not-in-catalog",
        ),
        pytest.param(
            """
            providers:
              openai:
                credentials: {openai_api_key: sk-test-9f8e7d6c5b4a, api_key: sk-test-9f8e7d6c5b4a}
                quota: {type: trial, unit: times, limit: 10}
            """,
            "providers.openai.credentials.api_key",
            "unknown credential field",
            id="unknown-credential-field",
        ),
        pytest.param(
            """
            providers:
              openai:
                credentials: {openai_organization: sk-test-9f8e7d6c5b4a}
                quota: {type: trial, unit: times, limit: 10}
            """,
            "providers.openai.credentials.openai_api_key",
            "openai_api_key is required",
            id="missing-required-credential",
        ),
        pytest.param(
            """
            providers:
              openai:
                credentials: {openai_api_key: ["sk-test-9f8e7d6c5b4a"]}
                quota: {type: trial, unit: times, limit: 10}
            """,
            "providers.openai.credentials.openai_api_key",
            "must be a string",
            id="credential-not-a-string",
        ),
        pytest.param(
            """
            providers:
              openai:
                credentials: {openai_api_key: "${NOT_SET_ANYWHERE}"}
                quota: {type: trial, unit: times, limit: 10}
            """,
            "providers.openai.credentials.openai_api_key",
            "environment variable NOT_SET_ANYWHERE is not set",
            id="missing-env-variable",
        ),
        pytest.param(
            """
            providers:
              openai:
                credentials: {openai_api_key: sk-test-9f8e7d6c5b4a}
                quota: {type: gift, unit: times, limit: 10}
            """,
            "providers.openai.quota.type",
            "'trial', 'paid' or 'free'",
            id="unknown-quota-type",
        ),
        pytest.param(
            """
            providers:
              openai:
                credentials: {openai_api_key: sk-test-9f8e7d6c5b4a}
                quota: {type: trial, unit: seconds, limit: 10}
            """,
            "providers.openai.quota.unit",
            "'times', 'tokens' or 'credits'",
            id="unknown-unit",
        ),
        pytest.param(
            """
            providers:
              openai:
                credentials: {openai_api_key: sk-test-9f8e7d6c5b4a}
                quota: {type: trial, unit: times, limit: -2}
            """,
            "providers.openai.quota.limit",
            "greater than or equal to -1",
            id="limit-below-unlimited",
        ),
        pytest.param(
            """
            providers:
              openai:
                credentials: {openai_api_key: sk-test-9f8e7d6c5b4a}
                quota: {type: trial, unit: times, limit: "200"}
            """,
            "providers.openai.quota.limit",
            "valid integer",
            id="limit-not-an-integer",
        ),
        pytest.param(
            """
            providers:
              openai:
                credentials: {openai_api_key: sk-test-9f8e7d6c5b4a}
                quota: {type: trial, unit: times, limit: 10, period: monthly}
            """,
            "providers.openai.quota.period",
            "Extra inputs are not permitted",
            id="unknown-key",
        ),
        pytest.param(
            """
            providers:
              openai:
                credentials: {openai_api_key: sk-test-9f8e7d6c5b4a}
            """,
            "providers.openai.quota",
            "Field required",
            id="missing-quota",
        ),
        pytest.param(
            """
            providers:
              openai:
                credentials: {openai_api_key: sk-test-9f8e7d6c5b4a}
                quota: {type: trial, unit: times, limit: 10}
                credits: {gpt-4.1: 5}
            """,
            "providers.openai.credits",
            "apply to unit credits, not times",
            id="credits-without-credit-unit",
        ),
        pytest.param(
            """
            providers:
              openai:
                credentials: {openai_api_key: sk-test-9f8e7d6c5b4a}
                quota: {type: trial, unit: credits, limit: 10}
                models: [gpt-4.1-mini]
                credits: {gpt-4.1: 5}
            """,
            "providers.openai.credits.gpt-4.1",
            "not a hosted openai model",
            id="credits-for-a-model-not-offered",
        ),
        pytest.param(
            """
            providers:
              openai:
                credentials: {openai_api_key: sk-test-9f8e7d6c5b4a}
                quota: {type: trial, unit: credits, limit: 10}
                credits: {gpt-4.1: 0}
            """,
            "providers.openai.credits.gpt-4.1",
            "at least 1 credit",
            id="zero-credit-call",
        ),
        pytest.param(
            """
            providers:
              openai:
                credentials: {openai_api_key: sk-test-9f8e7d6c5b4a}
                quota: {type: trial, unit: times, limit: 10}
                models: []
            """,
            "providers.openai.models",
            "at least 1 item",
            id="empty-model-list",
        ),
        pytest.param(
            """
            providers:
              localai:
                credentials: {api_key: sk-test-9f8e7d6c5b4a}
                quota: {type: trial, unit: times, limit: 10}
            """,
            "providers.localai",
            "only providers with predefined models can be hosted",
            id="customizable-only-provider",
        ),
    ],
)
def test_bad_config_names_the_file_and_the_field_but_never_the_secret(
    tmp_path: Path, text: str, field: str, problem: str
) -> None:
    message = load_error(write(tmp_path, text))

    assert f": {field}" in message
    assert problem in message


def test_yaml_syntax_error_reports_the_line_without_quoting_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        providers:
          openai:
            credentials: {openai_api_key: "sk-test-9f8e7d6c5b4a
            quota: {type: trial, unit: times, limit: 10}
        """,
    )

    message = load_error(path)

    assert "line " in message


def test_a_config_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "- openai\n"))

    assert "must be a mapping with a `providers` key" in message


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    message = load_error(tmp_path / "absent.yaml")

    assert "cannot read the hosted config" in message
