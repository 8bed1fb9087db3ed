"""The response cache's opt-ins from the command line: a workspace's with `cache show|set`, a key's with
`apikey create|update --cache-ttl`."""

from __future__ import annotations

from tests.support.cli import Cli


def test_cache_set_opts_the_workspace_in_and_show_reads_it_back(cli: Cli, workspace: str) -> None:
    assert cli.json("cache", "show", "--workspace", workspace) == {"workspace_id": workspace, "ttl_s": 0}
    assert "off" in cli("cache", "show", "--workspace", workspace).stdout

    assert cli.json("cache", "set", "--workspace", workspace, "--ttl", "3600")["ttl_s"] == 3600
    assert cli.json("cache", "show", "--workspace", workspace)["ttl_s"] == 3600
    assert "3600 s" in cli("cache", "show", "--workspace", workspace).stdout

    assert cli.json("cache", "set", "--workspace", workspace, "--ttl", "0")["ttl_s"] == 0
    assert cli.json("cache", "show", "--workspace", workspace)["ttl_s"] == 0


def test_cache_set_refuses_a_bad_ttl_naming_it(cli: Cli, workspace: str) -> None:
    for bad in ("-5", "an hour", "2592001"):
        result = cli("cache", "set", "--workspace", workspace, "--ttl", bad, "--json")
        assert result.exit_code == 1, bad
        assert '"code":"invalid_request"' in result.stderr and "ttl_s" in result.stderr
    assert cli.json("cache", "show", "--workspace", workspace)["ttl_s"] == 0


def test_a_key_carries_its_own_cache_ttl_until_set_back_to_the_workspaces(cli: Cli, workspace: str) -> None:
    key = cli.json("apikey", "create", "--workspace", workspace, "--name", "app", "--cache-ttl", "600")["id"]
    [listed] = cli.json("apikey", "list", "--workspace", workspace)
    assert listed["policy"]["cache_ttl_s"] == 600

    off = cli.json("apikey", "update", "--workspace", workspace, key, "--cache-ttl", "0")
    assert off["policy"]["cache_ttl_s"] == 0
    inherited = cli.json("apikey", "update", "--workspace", workspace, key, "--cache-ttl", "none")
    assert inherited["policy"]["cache_ttl_s"] is None

    result = cli("apikey", "update", "--workspace", workspace, key, "--cache-ttl", "forever", "--json")
    assert result.exit_code == 1 and "cache_ttl_s" in result.stderr
