"""Bedrock's newer ways in, held to boto3 (botocore 1.44.18): Rerank, Bedrock API keys, profiles, a proxy.

boto3 points at the AWS fake (or, for bearer auth, which botocore sends over HTTPS only, is stopped just before
sending); our request must equal boto3's for the same logical call, and the fake checks every signature.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from modelyard.errors import UnsupportedFeatureError
from modelyard.runtime.invoke import Runtime
from modelyard.signing import SIGNING_SCHEMES
from modelyard.types import RerankRequest
from tests.fakes.aws import FakeAWS
from tests.fakes.loopback import served

NOW = datetime.datetime(2026, 11, 28, 9, 30, 15, tzinfo=datetime.UTC)
ACCESS_KEY, SECRET_KEY = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
KEYS = {"auth_method": "access_key", "aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY}
DOCUMENTS = ("Carson City is the capital of Nevada.", "Washington, D.C. is the capital of the United States.")


@pytest.fixture
async def fake_aws() -> AsyncIterator[FakeAWS]:
    async with served(FakeAWS(keys={ACCESS_KEY: SECRET_KEY}, api_keys=frozenset({"ABSKapikey"}))) as fake:
        yield fake


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(SIGNING_SCHEMES["sigv4"], "clock", NOW.timestamp)
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    with patch("botocore.auth.get_current_datetime", lambda: NOW.replace(tzinfo=None)):
        yield


def sdk(service: str, endpoint: str, region: str = "us-east-1", **keys: str) -> Any:
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        config=Config(retries={"total_max_attempts": 1}),
        **keys,
    )


def signed_keys() -> dict[str, str]:
    return {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY}


async def test_rerank_equals_boto3s_request_and_boto3_reads_the_fakes_answer(fake_aws) -> None:
    client = sdk("bedrock-agent-runtime", fake_aws.url, "us-west-2", **signed_keys())
    arn = "arn:aws:bedrock:us-west-2::foundation-model/cohere.rerank-v3-5:0"
    theirs = await asyncio.to_thread(
        client.rerank,
        queries=[{"type": "TEXT", "textQuery": {"text": "capital of the US?"}}],
        sources=[
            {"type": "INLINE", "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": document}}}
            for document in DOCUMENTS
        ],
        rerankingConfiguration={
            "type": "BEDROCK_RERANKING_MODEL",
            "bedrockRerankingConfiguration": {"numberOfResults": 2, "modelConfiguration": {"modelArn": arn}},
        },
    )
    client.close()
    assert [r["index"] for r in theirs["results"]] == [0, 1]
    boto_request = fake_aws.requests[-1]

    async with Runtime() as runtime:
        result = await runtime.rerank(
            provider="bedrock",
            model="cohere.rerank-v3-5:0",
            credentials={**KEYS, "aws_region": "us-west-2"},
            query="capital of the US?",
            documents=DOCUMENTS,
            base_url=fake_aws.url,
        )
    ours = fake_aws.requests[-1]
    assert (ours.method, ours.path) == (boto_request.method, boto_request.path) == ("POST", "/rerank")
    assert ours.body == boto_request.body
    assert ours.headers["authorization"] == boto_request.headers["authorization"]
    assert all(signature.ok and signature.service == "bedrock" for signature in fake_aws.signatures)
    assert [(hit.index, hit.document) for hit in result.hits] == [(0, DOCUMENTS[0]), (1, DOCUMENTS[1])]


async def test_rerank_with_an_api_key_is_refused_before_any_request(fake_aws) -> None:
    async with Runtime() as runtime:
        with pytest.raises(UnsupportedFeatureError) as refused:
            await runtime.invoke_rerank(
                runtime.target(
                    "bedrock",
                    "amazon.rerank-v1:0",
                    "rerank",
                    {"auth_method": "api_key", "bedrock_api_key": "ABSKapikey", "aws_region": "us-west-2"},
                    base_url=fake_aws.url,
                ),
                RerankRequest("q", ("a",)),
            )
    assert refused.value.field == "auth_method"
    assert fake_aws.requests == []


async def test_a_bedrock_api_key_is_sent_as_boto3_sends_aws_bearer_token_bedrock(fake_aws, monkeypatch) -> None:
    sent: list[Any] = []

    def stop_before_sending(request: Any, **_: Any) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 200, {}, _Raw(b'{"output":{"message":{"role":"assistant","content":[]}}}'))

    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "ABSKapikey")
    client = sdk("bedrock-runtime", "https://bedrock-runtime.us-east-1.amazonaws.com")
    client.meta.events.register("before-send.bedrock-runtime.Converse", stop_before_sending)
    model = "global.anthropic.claude-opus-4-8"
    await asyncio.to_thread(client.converse, modelId=model, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    client.close()
    (theirs,) = sent

    async with Runtime() as runtime:
        await runtime.chat(
            provider="bedrock",
            model="anthropic.claude-opus-4-8",
            credentials={"auth_method": "api_key", "bedrock_api_key": "ABSKapikey", "aws_region": "us-east-1"},
            messages=[{"role": "user", "content": "Hi"}],
            base_url=fake_aws.url,
        )
    ours = fake_aws.requests[-1]
    assert ours.headers["authorization"] == theirs.headers["Authorization"].decode() == "Bearer ABSKapikey"
    assert "x-amz-date" not in ours.headers and "X-Amz-Date" not in theirs.headers  # no SigV4 beside the key
    assert ours.body == theirs.body
    assert ours.path == "/model/global.anthropic.claude-opus-4-8/converse"


async def test_a_geographic_profile_call_equals_boto3s_for_that_profile_id(fake_aws) -> None:
    client = sdk("bedrock-runtime", fake_aws.url, "eu-central-1", **signed_keys())
    messages = [{"role": "user", "content": [{"text": "Hi"}]}]
    await asyncio.to_thread(client.converse, modelId="eu.anthropic.claude-sonnet-4-6", messages=messages)
    client.close()
    theirs = fake_aws.requests[-1]
    async with Runtime() as runtime:
        await runtime.chat(
            provider="bedrock",
            model="anthropic.claude-sonnet-4-6",
            credentials={**KEYS, "aws_region": "eu-central-1"},
            messages=[{"role": "user", "content": "Hi"}],
            base_url=fake_aws.url,
            extra={"cross_region": "geographic"},
        )
    ours = fake_aws.requests[-1]
    assert (
        (ours.path, ours.body)
        == (theirs.path, theirs.body)
        == ("/model/eu.anthropic.claude-sonnet-4-6/converse", ours.body)
    )
    assert ours.headers["authorization"] == theirs.headers["authorization"]
    assert json.loads(ours.body) == {"messages": messages}


async def test_every_request_goes_through_the_proxy_the_credentials_name(fake_aws) -> None:
    """The fake serves as its own forward proxy: a request in proxy form is recorded as proxied."""
    credentials = {**KEYS, "aws_region": "us-east-1", "proxy_url": fake_aws.url.removeprefix("http://")}
    async with Runtime() as runtime:
        chat = await runtime.chat(
            provider="bedrock",
            model="amazon.nova-pro-v1:0",
            credentials=credentials,
            messages=[{"role": "user", "content": "Hi"}],
            base_url="http://bedrock-runtime.us-east-1.amazonaws.example",
        )
        streamed = await (
            await runtime.chat(
                provider="bedrock",
                model="amazon.nova-pro-v1:0",
                credentials=credentials,
                messages=[{"role": "user", "content": "Hi"}],
                base_url="http://bedrock-runtime.us-east-1.amazonaws.example",
                stream=True,
            )
        ).collect()
    assert (chat.content, streamed.content) == ("Hello!", "Hello!")
    assert fake_aws.proxied == [
        "/model/us.amazon.nova-pro-v1:0/converse",
        "/model/us.amazon.nova-pro-v1:0/converse-stream",
    ]
    assert all(signature.ok for signature in fake_aws.signatures)


class _Raw:
    """The raw response botocore reads a short-circuited answer from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body
