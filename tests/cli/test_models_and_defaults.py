"""`provider list`, `model add | list | enable | disable | remote`, `default set | get | clear`."""

from __future__ import annotations

from pathlib import Path

from modelyard.catalog.loader import default_catalog
from modelyard.catalog.spec import ModelSpec
from modelyard.types.model_type import MODEL_TYPES
from modelyard.vault import SECRET_MASK
from tests.fakes.openai import FakeOpenAI
from tests.support import SECRET
from tests.support.cli import Cli


def configure_deepseek(cli: Cli, workspace: str) -> None:
    cli.json("credential", "set", "--workspace", workspace, "deepseek", f"api_key={SECRET}", "--no-validate")


def test_provider_list_without_a_workspace_lists_the_catalog(cli: Cli) -> None:
    everything = cli.json("provider", "list")
    rerank = cli.json("provider", "list", "--type", "rerank")

    assert {"openai", "deepseek", "openai_api_compatible"} <= {p["id"] for p in everything}
    assert rerank and all("rerank" in p["supported_model_types"] for p in rerank)
    assert len(rerank) < len(everything)


def test_provider_list_for_a_workspace_reports_what_is_configured(cli: Cli, workspace: str) -> None:
    configure_deepseek(cli, workspace)

    providers = {p["id"]: p for p in cli.json("provider", "list", "--workspace", workspace)}

    assert providers["deepseek"]["has_custom"] is True
    assert providers["deepseek"]["credential_status"] == "unverified"
    assert providers["deepseek"]["resolved_type"] == "custom"
    assert providers["openai"]["has_custom"] is False and providers["openai"]["resolved_type"] is None


def test_model_list_shows_which_models_can_be_called(cli: Cli, workspace: str) -> None:
    configure_deepseek(cli, workspace)

    models = cli.json("model", "list", "--workspace", workspace, "--type", "llm")
    available = cli.json("model", "list", "--workspace", workspace, "--available")

    assert all(m["model_type"] == "llm" for m in models)
    assert {m["provider"] for m in available} == {"deepseek"}
    assert {m["provider"] for m in models if not m["is_available"]} >= {"openai"}


def test_model_add_stores_a_custom_model_with_masked_secrets(cli: Cli, workspace: str) -> None:
    added = cli.json(
        "model", "add", "--workspace", workspace, "openai_api_compatible", "my-llama", "--type", "llm",
        "endpoint_url=http://127.0.0.1:9/v1", "api_key=-", "--no-validate", input=SECRET,
    )  # fmt: skip

    models = cli.json("model", "list", "--workspace", workspace, "--provider", "openai_api_compatible")

    assert (added["provider"], added["model"], added["model_type"]) == ("openai_api_compatible", "my-llama", "llm")
    assert added["values"]["api_key"] == SECRET_MASK
    assert [(m["model"], m["is_custom"], m["is_available"]) for m in models] == [("my-llama", True, True)]


async def test_model_add_validates_against_the_upstream(cli: Cli, workspace: str, fake_openai: FakeOpenAI) -> None:
    added = await cli.json_in_thread(
        "model", "add", "--workspace", workspace, "openai_api_compatible", "my-llama", "--type", "llm",
        f"endpoint_url={fake_openai.url}/v1", f"api_key={SECRET}",
    )  # fmt: skip

    assert added["status"] == "verified"
    assert [r.json["model"] for r in fake_openai.requests] == ["my-llama"]


def test_model_disable_and_enable_switch_a_model(cli: Cli, workspace: str) -> None:
    configure_deepseek(cli, workspace)
    model = cli.json("model", "list", "--workspace", workspace, "--provider", "deepseek", "--type", "llm")[0]["model"]

    disabled = cli.json("model", "disable", "--workspace", workspace, "deepseek", model, "--type", "llm")
    listed = {m["model"]: m for m in cli.json("model", "list", "--workspace", workspace, "--provider", "deepseek")}
    enabled = cli.json("model", "enable", "--workspace", workspace, "deepseek", model, "--type", "llm")

    assert disabled == {"provider": "deepseek", "model": model, "model_type": "llm", "is_enabled": False}
    assert (listed[model]["is_enabled"], listed[model]["is_available"]) == (False, False)
    assert enabled["is_enabled"] is True
    assert cli.json("model", "list", "--workspace", workspace, "--available")[0]["is_enabled"] is True


def test_model_enable_and_disable_take_provider_slash_model_as_default_set_does(cli: Cli, workspace: str) -> None:
    configure_deepseek(cli, workspace)
    model = cli.json("model", "list", "--workspace", workspace, "--provider", "deepseek", "--type", "llm")[0]["model"]

    disabled = cli.json("model", "disable", "--workspace", workspace, f"deepseek/{model}", "--type", "llm")
    enabled = cli.json("model", "enable", "--workspace", workspace, f"deepseek/{model}")

    assert disabled == {"provider": "deepseek", "model": model, "model_type": "llm", "is_enabled": False}
    assert enabled == {"provider": "deepseek", "model": model, "model_type": "llm", "is_enabled": True}


def test_model_disable_infers_the_type_of_a_name_only_one_model_has(cli: Cli, workspace: str) -> None:
    configure_deepseek(cli, workspace)
    model = cli.json("model", "list", "--workspace", workspace, "--provider", "deepseek")[0]

    disabled = cli.json("model", "disable", "--workspace", workspace, "deepseek", model["model"])
    listed = {m["model"]: m for m in cli.json("model", "list", "--workspace", workspace, "--provider", "deepseek")}

    assert disabled["model_type"] == model["model_type"]
    assert listed[model["model"]]["is_enabled"] is False


def test_model_disable_of_a_name_several_types_share_asks_for_the_type_listing_them(cli: Cli, workspace: str) -> None:
    for model_type in ("text-embedding", "llm"):
        cli.json(
            "model", "add", "--workspace", workspace, "openai_api_compatible/shared-name", "--type", model_type,
            "endpoint_url=http://127.0.0.1:9/v1", "--no-validate",
        )  # fmt: skip

    result = cli("model", "disable", "--workspace", workspace, "openai_api_compatible/shared-name")
    chosen = cli.json(
        "model", "disable", "--workspace", workspace, "openai_api_compatible/shared-name", "--type", "llm"
    )

    assert result.exit_code == 2
    assert "several types (llm, text-embedding)" in result.stderr and "--type" in result.stderr
    assert chosen["model_type"] == "llm"


def test_model_disable_of_an_unknown_model_fails_in_one_line(cli: Cli, workspace: str, home: Path) -> None:
    result = cli("model", "disable", "--workspace", workspace, "deepseek", "no-such-model", "--type", "llm")

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: [deepseek] has no llm model 'no-such-model' in this workspace (looked in {home / 'modelyard.db'})\n"
    )


async def test_model_remote_lists_what_the_provider_offers(
    cli: Cli, workspace: str, fake_openai: FakeOpenAI, openai_credentials: dict[str, str]
) -> None:
    fields = [f"{name}={value}" for name, value in openai_credentials.items()]
    await cli.json_in_thread("credential", "set", "--workspace", workspace, "openai", *fields, "--no-validate")

    remote = await cli.json_in_thread("model", "remote", "--workspace", workspace, "openai")

    assert remote and all(set(m) == {"id", "owned_by"} for m in remote)
    assert fake_openai.requests[-1].path == "/v1/models"


def test_default_get_reports_every_type_and_the_automatic_choice(cli: Cli, workspace: str) -> None:
    configure_deepseek(cli, workspace)

    defaults = {d["model_type"]: d for d in cli.json("default", "get", "--workspace", workspace)}
    llm = cli.json("default", "get", "--workspace", workspace, "llm")

    assert list(defaults) == list(MODEL_TYPES)
    assert (llm["provider"], llm["source"], llm["is_available"]) == ("deepseek", "automatic", True)
    assert defaults["rerank"]["source"] is None and defaults["rerank"]["is_available"] is False


def test_default_set_then_clear_returns_to_the_automatic_choice(cli: Cli, workspace: str) -> None:
    configure_deepseek(cli, workspace)
    models = [m["model"] for m in cli.json("model", "list", "--workspace", workspace, "--provider", "deepseek")]
    chosen = models[-1]

    set_view = cli.json("default", "set", "--workspace", workspace, "llm", f"deepseek/{chosen}")
    got = cli.json("default", "get", "--workspace", workspace, "llm")
    cleared = cli.json("default", "clear", "--workspace", workspace, "llm")

    assert (set_view["provider"], set_view["model"], set_view["source"]) == ("deepseek", chosen, "chosen")
    assert (got["model"], got["source"]) == (chosen, "chosen")
    assert (cleared["model"], cleared["source"]) == (models[0], "automatic")


def test_default_set_refuses_a_model_the_workspace_cannot_call(cli: Cli, workspace: str) -> None:
    result = cli("default", "set", "--workspace", workspace, "llm", "openai/gpt-4.1-mini")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1


def test_default_set_without_a_model_is_a_usage_error(cli: Cli, workspace: str) -> None:
    result = cli("default", "set", "--workspace", workspace, "llm", "deepseek")

    assert result.exit_code == 2
    assert "PROVIDER/MODEL or PROVIDER MODEL" in result.stderr


def test_default_set_takes_provider_and_model_as_two_arguments_too(cli: Cli, workspace: str) -> None:
    configure_deepseek(cli, workspace)
    chosen = cli.json("model", "list", "--workspace", workspace, "--provider", "deepseek")[-1]["model"]

    set_view = cli.json("default", "set", "--workspace", workspace, "llm", "deepseek", chosen)

    assert (set_view["provider"], set_view["model"], set_view["source"]) == ("deepseek", chosen, "chosen")


def test_model_add_takes_provider_slash_model(cli: Cli, workspace: str) -> None:
    added = cli.json(
        "model", "add", "--workspace", workspace, "openai_api_compatible/my-llama", "--type", "llm",
        "endpoint_url=http://127.0.0.1:9/v1", "--no-validate",
    )  # fmt: skip

    assert (added["provider"], added["model"], added["values"]["endpoint_url"]) == (
        "openai_api_compatible", "my-llama", "http://127.0.0.1:9/v1",
    )  # fmt: skip


def test_model_list_marks_deprecated_models_with_their_shutdown_date(cli: Cli, workspace: str) -> None:
    provider, model = next(
        (spec.id, m) for spec in default_catalog() for m in spec.models if m.deprecated and m.shutdown_date
    )

    listed = cli.json("model", "list", "--workspace", workspace, "--provider", provider)
    text = cli("model", "list", "--workspace", workspace, "--provider", provider).stdout
    row = next(line for line in text.splitlines() if line.startswith(f"{provider}/{model.id} "))

    shown = next(m for m in listed if m["model"] == model.id)
    assert (shown["deprecated"], shown["shutdown_date"]) == (True, model.shutdown_date.isoformat())
    assert f"shuts down {model.shutdown_date}" in row
    assert "DEPRECATED" in text.splitlines()[0]
    specs = {m.id: m for m in default_catalog().get(provider).models}
    assert all(
        (m["deprecated"], m["shutdown_date"]) == (specs[m["model"]].deprecated, str_or_none(specs[m["model"]]))
        for m in listed
    )


def str_or_none(spec: ModelSpec) -> str | None:
    return spec.shutdown_date.isoformat() if spec.shutdown_date else None
