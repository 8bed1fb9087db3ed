"""The upstream address policy: its rules, and its enforcement on every connection the runtime opens.

The fakes listen on 127.0.0.1, which the default policy allows (self-hosted providers live on such addresses);
strict mode, deny lists and the service's own port are what refuse them here. Host names are resolved by an
injected resolver, so a name can be made to answer a refused address (DNS rebinding) without any real DNS.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

from modelyard.errors import AddressRefusedError, InvalidRequestError
from modelyard.protocols.base import UpstreamRequest, WebSocketRequest
from modelyard.runtime import Runtime, websocket
from modelyard.runtime.address_policy import AddressRules, UpstreamPolicy
from modelyard.runtime.transport import Transport
from modelyard.settings import Settings, SettingsError
from tests.fakes.loopback import served
from tests.fakes.openai import FakeOpenAI
from tests.fakes.wenxin import FakeWenxin

KEY = "sk-policy-0123456789"
HI = [{"role": "user", "content": "Hi"}]
STRICT = UpstreamPolicy(mode="strict")


def refusal(policy: UpstreamPolicy, address: str, *, host: str | None = None, port: int = 443) -> str | None:
    return policy.refusal(host or address, port, address)


# --- the rules -----------------------------------------------------------------------------------------------------


def test_rules_read_ranges_addresses_names_and_wildcards() -> None:
    rules = AddressRules.parse(" 10.0.0.0/8, 192.168.1.20,[fd00::1], Ollama.LAN., *.corp.example ,")

    assert [str(n) for n in rules.networks] == ["10.0.0.0/8", "192.168.1.20/32", "fd00::1/128"]
    assert rules.names_host("ollama.lan")
    assert rules.names_host("gpu-1.corp.example") and rules.names_host("a.b.corp.example")
    assert not rules.names_host("corp.example")  # the wildcard covers the names below, not the name itself
    assert not rules.names_host("evilcorp.example")


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("10.0.0.1/8", "has host bits set"),
        ("10.0.0.0/33", "not an address or address range"),
        ("10.0.0.300", "not an address or address range"),
        ("fd00::/200", "not an address or address range"),
        ("http://ollama.lan", "neither an address"),
        ("ollama.lan:11434", "neither an address"),
        ("a*.corp.example", "neither an address"),
    ],
)
def test_an_unreadable_entry_is_named(entry: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as caught:
        AddressRules.parse(f"10.0.0.0/8,{entry}")
    assert repr(entry) in str(caught.value)


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "169.254.0.1", "fd00:ec2::254", "fe80::1", "100.100.100.200", "168.63.129.16",
     "::ffff:169.254.169.254"],
)  # fmt: skip
def test_the_default_mode_refuses_link_local_and_metadata_addresses(address: str) -> None:
    assert refusal(UpstreamPolicy(), address) == "a link-local or cloud metadata address"


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "192.168.0.9", "172.16.5.5", "8.8.8.8"])
def test_the_default_mode_allows_loopback_private_and_public_addresses(address: str) -> None:
    assert refusal(UpstreamPolicy(), address) is None


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "::1", "10.1.2.3", "192.168.0.9", "172.16.5.5", "100.64.0.1", "0.0.0.0", "fd12::1",
     "224.0.1.1", "::ffff:10.0.0.1"],
)  # fmt: skip
def test_strict_mode_refuses_every_non_public_address(address: str) -> None:
    assert refusal(STRICT, address) is not None


def test_strict_mode_allows_public_addresses() -> None:
    assert refusal(STRICT, "8.8.8.8") is None
    assert refusal(STRICT, "2606:4700:4700::1111") is None


def test_the_allow_list_lifts_the_modes_refusals_by_range_or_by_name() -> None:
    by_range = UpstreamPolicy(mode="strict", allow=AddressRules.parse("10.0.0.0/8"))
    by_name = UpstreamPolicy(mode="strict", allow=AddressRules.parse("*.gpu.lan"))
    metadata = UpstreamPolicy(allow=AddressRules.parse("169.254.169.254"))

    assert refusal(by_range, "10.9.9.9") is None
    assert refusal(by_range, "192.168.0.1") is not None
    assert refusal(by_name, "192.168.0.1", host="tei.gpu.lan") is None
    assert refusal(by_name, "192.168.0.1", host="tei.other.lan") is not None
    assert refusal(metadata, "169.254.169.254") is None


def test_the_deny_list_beats_the_allow_list() -> None:
    policy = UpstreamPolicy(allow=AddressRules.parse("10.0.0.0/8, *.lan"), deny=AddressRules.parse("10.0.0.5, db.lan"))

    assert refusal(policy, "10.0.0.5") == "it is on the deny list (MODELYARD_UPSTREAM_DENY)"
    assert refusal(policy, "10.0.0.6", host="db.lan") is not None
    assert refusal(policy, "10.0.0.6", host="ollama.lan") is None
    assert refusal(UpstreamPolicy(deny=AddressRules.parse("8.8.0.0/16")), "8.8.8.8") is not None


def test_this_services_own_port_is_refused_on_every_local_address_even_when_allowed() -> None:
    policy = UpstreamPolicy(allow=AddressRules.parse("127.0.0.0/8, 0.0.0.0/0, localhost"), own_port=8080)
    this_machine = socket.gethostbyname(socket.gethostname())

    for address in ("127.0.0.1", "127.0.0.2", "0.0.0.0", "::1", "::ffff:127.0.0.1", this_machine):
        assert refusal(policy, address, port=8080) == "this service's own address and port", address
    assert refusal(policy, "127.0.0.1", port=8081) is None
    assert refusal(policy, "192.0.2.10", port=8080) is None  # TEST-NET-1: not an address of this machine


def test_a_refusal_names_the_policy_and_the_host_but_not_what_a_name_resolves_to() -> None:
    with pytest.raises(AddressRefusedError) as caught:
        UpstreamPolicy().admit("meta.rebind.test", 80, ["169.254.169.254"], address=str)

    message = str(caught.value)
    assert message.startswith("the upstream address policy (default) refuses meta.rebind.test:80: it resolves to")
    assert "MODELYARD_UPSTREAM_ALLOW" in message
    assert "169.254" not in message
    assert isinstance(caught.value, InvalidRequestError)  # a 400 wherever the request came from


def test_admit_keeps_the_allowed_addresses_of_a_mixed_answer() -> None:
    assert UpstreamPolicy().admit("h.test", 80, ["169.254.169.254", "10.0.0.1"], address=str) == ["10.0.0.1"]


# --- the settings --------------------------------------------------------------------------------------------------


def test_settings_read_the_policy_and_the_services_own_port_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "MODELYARD_UPSTREAM_POLICY": "strict",
            "MODELYARD_UPSTREAM_ALLOW": "10.0.0.0/8, ollama.lan",
            "MODELYARD_UPSTREAM_DENY": "10.9.0.0/16",
            "MODELYARD_PORT": "9090",
        }
    )
    policy = settings.upstream_policy

    assert policy.mode == "strict"
    assert policy.own_port == 9090
    assert policy.refusal("x", 443, "10.1.1.1") is None
    assert policy.refusal("x", 443, "10.9.1.1") is not None
    assert policy.refusal("ollama.lan", 443, "192.168.1.1") is None
    assert Settings.from_env({}).upstream_policy == UpstreamPolicy(own_port=8080)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MODELYARD_UPSTREAM_POLICY", "paranoid"),
        ("MODELYARD_UPSTREAM_ALLOW", "10.0.0.1/8"),
        ("MODELYARD_UPSTREAM_DENY", "not a host"),
    ],
)
def test_a_bad_policy_setting_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: value})


# --- enforcement on real connections -------------------------------------------------------------------------------


class Names(AbstractResolver):
    """A resolver answering from a table that tests rewrite (what a rebinding DNS server does between lookups)."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups.append(host)
        if host not in self.table:
            raise OSError(f"no such host {host}")
        return [
            ResolveResult(hostname=host, host=address, port=port, family=socket.AF_INET, proto=0, flags=0)
            for address in self.table[host]
        ]

    async def close(self) -> None:
        pass


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with served(FakeOpenAI()) as upstream:
        yield upstream


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


async def get(transport: Transport, url: str) -> int:
    response = await transport.open(
        UpstreamRequest("GET", url, {"Connection": "close"}), provider="test", deadline=transport.deadline()
    )
    await transport.read(response, provider="test", deadline=transport.deadline())
    return response.status


async def test_a_metadata_address_is_refused_before_any_connection() -> None:
    async with Runtime() as runtime:
        with pytest.raises(
            AddressRefusedError, match=r"upstream address policy \(default\) refuses 169\.254\.169\.254"
        ):
            await runtime.chat(
                provider="deepseek",
                model="deepseek-flash",
                credentials={"api_key": KEY, "endpoint_url": "http://169.254.169.254/latest/meta-data"},
                messages=HI,
            )


@pytest.mark.parametrize(
    "url",
    ["http://[fd00:ec2::254]/latest/meta-data", "http://[::ffff:169.254.169.254]/", "https://169.254.169.254:8443/"],
)
async def test_literal_addresses_are_checked_though_aiohttp_resolves_no_literal(url: str) -> None:
    transport = Transport()
    try:
        with pytest.raises(AddressRefusedError, match="a link-local or cloud metadata address"):
            await get(transport, url)
    finally:
        await transport.close()


async def test_the_default_policy_lets_a_self_hosted_upstream_on_loopback_through(fake: FakeOpenAI) -> None:
    fake.reply_chat("hello from loopback")
    async with Runtime() as runtime:
        result = await runtime.chat(
            provider="deepseek",
            model="deepseek-flash",
            credentials={"api_key": KEY, "endpoint_url": f"{fake.url}/v1"},
            messages=HI,
        )
    assert result.content == "hello from loopback"


async def test_strict_mode_refuses_loopback_unless_the_allow_list_names_it(fake: FakeOpenAI) -> None:
    credentials = {"api_key": KEY, "endpoint_url": f"{fake.url}/v1"}
    async with Runtime(upstream_policy=STRICT) as runtime:
        with pytest.raises(AddressRefusedError, match=r"\(strict\) refuses 127\.0\.0\.1:\d+: a private, loopback"):
            await runtime.chat(provider="deepseek", model="deepseek-flash", credentials=credentials, messages=HI)
    assert fake.requests == []

    fake.reply_chat("allowed")
    allowed = UpstreamPolicy(mode="strict", allow=AddressRules.parse("127.0.0.1"))
    async with Runtime(upstream_policy=allowed) as runtime:
        result = await runtime.chat(provider="deepseek", model="deepseek-flash", credentials=credentials, messages=HI)
    assert result.content == "allowed"


async def test_a_name_is_judged_by_the_address_it_resolves_to_at_each_connection(fake: FakeOpenAI) -> None:
    names = Names({"models.rebind.test": ["127.0.0.1"]})
    transport = Transport(resolver=names)
    url = f"http://models.rebind.test:{port_of(fake.url)}/v1/models"
    try:
        assert await get(transport, url) == 200

        names.table["models.rebind.test"] = ["169.254.169.254"]  # the DNS answer changes after the first check
        transport.session().connector.clear_dns_cache()  # type: ignore[union-attr]  # as its TTL running out would
        with pytest.raises(AddressRefusedError, match=r"refuses models\.rebind\.test:"):
            await get(transport, url)
    finally:
        await transport.close()
    assert names.lookups == ["models.rebind.test", "models.rebind.test"]
    assert len(fake.requests) == 1


async def test_a_mixed_answer_connects_only_to_the_allowed_address(fake: FakeOpenAI) -> None:
    names = Names({"mixed.rebind.test": ["169.254.169.254", "127.0.0.1"]})
    transport = Transport(resolver=names)
    try:
        assert await get(transport, f"http://mixed.rebind.test:{port_of(fake.url)}/v1/models") == 200
    finally:
        await transport.close()
    assert len(fake.requests) == 1


async def test_a_name_allowed_by_the_operator_passes_strict_mode(fake: FakeOpenAI) -> None:
    names = Names({"ollama.lan": ["127.0.0.1"]})
    transport = Transport(policy=UpstreamPolicy(mode="strict", allow=AddressRules.parse("ollama.lan")), resolver=names)
    try:
        assert await get(transport, f"http://ollama.lan:{port_of(fake.url)}/v1/models") == 200
        with pytest.raises(AddressRefusedError):
            await get(transport, f"{fake.url}/v1/models")  # the same address by its literal is not on the list
    finally:
        await transport.close()


async def test_this_services_own_port_is_refused_by_literal_and_by_name(fake: FakeOpenAI) -> None:
    own_port = port_of(fake.url)  # the fake stands in for this service, listening on that port
    policy = UpstreamPolicy(allow=AddressRules.parse("127.0.0.0/8"), own_port=own_port)
    transport = Transport(policy=policy)  # aiohttp's own resolver: `localhost` comes from the hosts file
    try:
        for url in (f"http://127.0.0.1:{own_port}/v1/models", f"http://localhost:{own_port}/v1/models"):
            with pytest.raises(AddressRefusedError, match="this service's own address and port"):
                await get(transport, url)
    finally:
        await transport.close()
    assert fake.requests == []


async def test_a_token_exchange_is_held_to_the_policy() -> None:
    wenxin = FakeWenxin(keys={"wx-ak-0a1b2c3d": "wx-sk-4e5f6a7b"})
    server = TestServer(wenxin.app, host="127.0.0.1")
    await server.start_server(access_log=None)  # the token request's query holds the Secret Key
    wenxin.url = str(server.make_url("")).rstrip("/")
    credentials = {
        "api_style": "legacy", "api_key": "wx-ak-0a1b2c3d", "secret_key": "wx-sk-4e5f6a7b", "endpoint_url": wenxin.url
    }  # fmt: skip
    try:
        async with Runtime(upstream_policy=STRICT) as runtime:
            with pytest.raises(AddressRefusedError):
                await runtime.chat(provider="wenxin", model="ernie-3.5-8k", credentials=credentials, messages=HI)
    finally:
        await server.close()
    assert wenxin.requests == []
    assert wenxin.issued == []  # the token endpoint was never reached


# --- WebSocket upstreams -------------------------------------------------------------------------------------------


@pytest.fixture
async def socket_upstream() -> AsyncIterator[tuple[str, list[str]]]:
    opened: list[str] = []

    async def handle(request: web.Request) -> web.WebSocketResponse:
        opened.append(request.path)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str("hello")
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/socket", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/socket")).replace("http://", "ws://"), opened
    finally:
        await server.close()


def never_refused(status: int, headers: object) -> Exception:
    raise AssertionError(f"the handshake reached the upstream (HTTP {status})")


@pytest.mark.parametrize(
    ("policy", "url"),
    [(UpstreamPolicy(), "ws://169.254.169.254/v1/realtime"), (STRICT, None), (UpstreamPolicy(), "ws://meta.test/ws")],
)
async def test_a_websocket_upstream_is_refused_likewise(socket_upstream, policy: UpstreamPolicy, url: str | None):
    local_url, opened = socket_upstream
    transport = Transport(policy=policy, resolver=Names({"meta.test": ["169.254.169.254"]}))
    try:
        with pytest.raises(AddressRefusedError, match=f"upstream address policy \\({policy.mode}\\) refuses"):
            await websocket.connect(
                transport,
                WebSocketRequest(url or local_url, {}, ()),
                provider="test",
                deadline=transport.deadline(),
                refused=never_refused,  # type: ignore[arg-type]
            )
    finally:
        await transport.close()
    assert opened == []


async def test_a_websocket_upstream_the_policy_allows_opens(socket_upstream) -> None:
    local_url, opened = socket_upstream
    transport = Transport()
    try:
        socket_ = await websocket.connect(
            transport, WebSocketRequest(local_url, {}, ()), provider="test", deadline=transport.deadline(),
            refused=never_refused,  # type: ignore[arg-type]
        )  # fmt: skip
        assert await socket_.receive() == "hello"
        await socket_.close()
    finally:
        await transport.close()
    assert opened == ["/socket"]
