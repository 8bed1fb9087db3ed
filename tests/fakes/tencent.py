"""Tencent Cloud on 127.0.0.1: Hunyuan (native API 3.0 and OpenAI-compatible), ASR SentenceRecognition and flash.

`POST /` is Tencent Cloud API 3.0: the call is named by X-TC-Action / X-TC-Version, and every request's TC3
signature is recomputed from what arrived (the Content-Type and Host as received, the body bytes) with the
SDK's own `Sign.sign_tc3` and the fake's known secret keys. A bad signature is answered as Tencent does, HTTP 200
with `Response.Error.Code` AuthFailure.SignatureFailure; `signatures` records each verdict. Answers are shaped as
tencentcloud-sdk-python reads them (exact `application/json` / `text/event-stream` Content-Types, which its
client compares literally). The OpenAI-compatible Hunyuan routes are FakeOpenAI's, at `/` and at `/v1`.

`POST /asr/flash/v1/{appid}` is flash recognition: its HMAC-SHA1 Authorization is recomputed over the sorted
query as received (the speech SDK's sign text, host `asr.cloud.tencent.com`); a bad one answers code 4002.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import re
import time
import wave
from typing import Any

import orjson
from aiohttp import web
from tencentcloud.common.sign import Sign

from tests.fakes.openai import FakeOpenAI, Recorded

_AUTHORIZATION = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z]+)/tc3_request, "
    r"SignedHeaders=content-type;host, Signature=(?P<signature>[0-9a-f]{64})$"
)
# action -> (service, version)
ACTIONS: dict[str, tuple[str, str]] = {
    "ChatCompletions": ("hunyuan", "2023-09-01"),
    "GetEmbedding": ("hunyuan", "2023-09-01"),
    "SentenceRecognition": ("asr", "2019-06-14"),
}
SIGNATURE_WINDOW_S = 300  # Tencent refuses a timestamp more than about five minutes off (SignatureExpire)


def envelope(**fields: Any) -> dict[str, Any]:
    return {"Response": {**fields, "RequestId": "req-fake-0001"}}


def cloud_error(code: str, message: str) -> dict[str, Any]:
    return envelope(Error={"Code": code, "Message": message})


def usage(prompt: int = 9, completion: int = 3) -> dict[str, Any]:
    return {"PromptTokens": prompt, "CompletionTokens": completion, "TotalTokens": prompt + completion}


def chat_answer(
    content: str = "Hello!",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    reasoning: str | None = None,
    finish: str = "stop",
    usage_: dict[str, Any] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"Role": "assistant", "Content": content}
    if tool_calls:
        message["ToolCalls"] = tool_calls
    if reasoning is not None:
        message["ReasoningContent"] = reasoning
    return envelope(
        Id="req-fake-0001",
        Created=1_764_300_000,
        Note="以上内容为AI生成，不代表开发者立场",
        Choices=[{"Index": 0, "FinishReason": finish, "Message": message}],
        Usage=usage_ or usage(),
    )


def tool_call(name: str, arguments: str = '{"q": "x"}', *, call_id: str = "call_1", index: int = 0) -> dict[str, Any]:
    return {"Id": call_id, "Type": "function", "Index": index, "Function": {"Name": name, "Arguments": arguments}}


def stream_event(delta: dict[str, Any], finish: str = "", *, usage_: dict[str, Any] | None = None) -> dict[str, Any]:
    """One native stream event: no Response envelope, cumulative Usage on every event."""
    return {
        "Note": "以上内容为AI生成，不代表开发者立场",
        "Choices": [{"Delta": delta, "FinishReason": finish}],
        "Created": 1_764_300_000,
        "Id": "req-fake-0001",
        "Usage": usage_ or usage(),
    }


def sse_lines(*events: dict[str, Any]) -> bytes:
    """Hunyuan's framing: `data: <json>` per event, a blank line after each, no [DONE]."""
    return b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events)


def text_stream(*pieces: str, finish: str = "stop") -> bytes:
    events = [
        stream_event({"Role": "assistant", "Content": piece}, usage_=usage(9, i + 1)) for i, piece in enumerate(pieces)
    ]
    events.append(stream_event({"Role": "assistant", "Content": ""}, finish, usage_=usage(9, len(pieces))))
    return sse_lines(*events)


def tool_stream(name: str, fragments: tuple[str, ...] = ('{"q": ', '"x"}')) -> bytes:
    first, *rest = fragments
    events = [stream_event({"Role": "assistant", "Content": "", "ToolCalls": [tool_call(name, first)]})]
    events += [
        stream_event({"Role": "assistant", "Content": "", "ToolCalls": [{"Index": 0, "Function": {"Arguments": f}}]})
        for f in rest
    ]
    events.append(stream_event({"Role": "assistant", "Content": ""}, "tool_calls"))
    return sse_lines(*events)


def wav_duration_ms(audio: bytes) -> int:
    try:
        with wave.open(io.BytesIO(audio)) as reader:
            return int(reader.getnframes() * 1000 / reader.getframerate())
    except (wave.Error, EOFError):
        return 1000


class FakeTencent(FakeOpenAI):
    """Queue replies (`reply_cloud`, `fail_cloud`, `stream`, `reply_raw`, and FakeOpenAI's), run the code, read
    `requests`; `signatures` holds each TC3 verdict as (secret id, service, ok)."""

    def __init__(self, keys: dict[str, str] | None = None) -> None:
        super().__init__()  # the OpenAI-compatible routes under /v1
        self.keys = {"AKIDEXAMPLE": "SECRETKEYEXAMPLE", **(keys or {})}  # secret id -> secret key
        self.signatures: list[tuple[str, str, bool]] = []
        self.app.router.add_post("/", self._cloud)
        self.app.router.add_post("/chat/completions", self._handle("chat"))
        self.app.router.add_post("/embeddings", self._handle("embeddings"))
        self.app.router.add_post("/asr/flash/v1/{appid}", self._flash)

    # --- scripting ----------------------------------------------------------------------------------------------

    def reply_cloud(self, body: dict[str, Any]) -> None:
        """Answer the next call with this JSON, as Tencent sends it (HTTP 200, Content-Type application/json)."""
        self.reply_raw(orjson.dumps(body), content_type="application/json")

    def fail_cloud(self, code: str, message: str = "refused") -> None:
        self.reply_cloud(cloud_error(code, message))

    # --- serving ------------------------------------------------------------------------------------------------

    async def _cloud(self, request: web.Request) -> web.StreamResponse:
        recorded = await Recorded.of(request)
        self.requests.append(recorded)
        refusal = self._check(request, recorded)
        if refusal is not None:
            return _json(cloud_error(*refusal))
        if self._replies:
            return await self._replies.pop(0)(request, recorded)
        defaults = {
            "ChatCompletions": self._default_chat_completions,
            "GetEmbedding": self._default_get_embedding,
            "SentenceRecognition": self._default_sentence_recognition,
        }
        return await defaults[recorded.headers["x-tc-action"]](recorded)

    async def _flash(self, request: web.Request) -> web.StreamResponse:
        recorded = await Recorded.of(request)
        self.requests.append(recorded)
        refusal = self._check_flash(request, recorded)
        if refusal is not None:
            return _json({"request_id": "req-fake-0002", "code": refusal[0], "message": refusal[1]})
        if self._replies:
            return await self._replies.pop(0)(request, recorded)
        result = {"text": "腾讯云极速识别。", "channel_id": 0, "sentence_list": [{"text": "腾讯云极速识别。"}]}
        return _json(
            {
                "request_id": "req-fake-0002",
                "code": 0,
                "message": "success",
                "audio_duration": wav_duration_ms(recorded.body),
                "flash_result": [result],
            }
        )

    def _check_flash(self, request: web.Request, recorded: Recorded) -> tuple[int, str] | None:
        query = recorded.query
        for name in ("secretid", "timestamp", "engine_type", "voice_format"):
            if not query.get(name):
                return 4001, f"missing {name}"
        secret_key = self.keys.get(query["secretid"])
        if secret_key is None:
            self.signatures.append((query["secretid"], "asr-flash", False))
            return 4002, "unknown secretid"
        if abs(time.time() - int(query["timestamp"])) > SIGNATURE_WINDOW_S:
            return 4002, "the signature expired"
        text = "POSTasr.cloud.tencent.com" + request.path + "?" + "&".join(f"{k}={query[k]}" for k in sorted(query))
        expected = base64.b64encode(hmac.new(secret_key.encode(), text.encode(), hashlib.sha1).digest()).decode()
        ok = recorded.headers.get("authorization") == expected
        self.signatures.append((query["secretid"], "asr-flash", ok))
        if not ok:
            return 4002, "the signature does not match"
        if recorded.headers.get("content-type") != "application/octet-stream" or not recorded.body:
            return 4001, "the body must be the audio, as application/octet-stream"
        return None

    def _check(self, request: web.Request, recorded: Recorded) -> tuple[str, str] | None:
        """The error code and message Tencent would answer for this request's envelope, or None when it is sound."""
        action = recorded.headers.get("x-tc-action", "")
        if action not in ACTIONS:
            return "InvalidAction", f"no action {action!r}"
        service, version = ACTIONS[action]
        if recorded.headers.get("x-tc-version") != version:
            return "InvalidParameter", f"{action} wants X-TC-Version {version}"
        match = _AUTHORIZATION.match(recorded.headers.get("authorization", ""))
        if match is None:
            return "AuthFailure.InvalidAuthorization", "malformed Authorization header"
        secret_id = match["id"]
        secret_key = self.keys.get(secret_id)
        if secret_key is None:
            self.signatures.append((secret_id, match["service"], False))
            return "AuthFailure.SecretIdNotFound", "the SecretId is not found"
        timestamp = int(recorded.headers.get("x-tc-timestamp", "0"))
        if abs(time.time() - timestamp) > SIGNATURE_WINDOW_S:
            return "AuthFailure.SignatureExpire", "the signature expired"
        canonical = "\n".join(
            (
                request.method,
                request.path,
                "",
                f"content-type:{request.headers.get('Content-Type', '')}\nhost:{request.headers.get('Host', '')}\n",
                "content-type;host",
                hashlib.sha256(recorded.body).hexdigest(),
            )
        )
        date = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
        scope = f"{date}/{service}/tc3_request"
        to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        expected = Sign.sign_tc3(secret_key, date, service, to_sign)
        ok = match["date"] == date and match["service"] == service and match["signature"] == expected
        self.signatures.append((secret_id, service, ok))
        if not ok:
            return "AuthFailure.SignatureFailure", "the signature does not match"
        if recorded.json is None:
            return "InvalidParameter", "the body is not JSON"
        return None

    async def _default_chat_completions(self, recorded: Recorded) -> web.StreamResponse:
        """Hello!, or a call of the first tool offered; streamed as `data:` events when asked."""
        body = recorded.json or {}
        tools = body.get("Tools") or []
        name = tools[0]["Function"]["Name"] if tools else None
        if body.get("Stream"):
            payload = tool_stream(name) if name else text_stream("Hel", "lo!")
            return web.Response(body=payload, headers={"Content-Type": "text/event-stream"})
        if name:
            return _json(chat_answer("", tool_calls=[tool_call(name)], finish="tool_calls"))
        return _json(chat_answer())

    async def _default_get_embedding(self, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        texts = body.get("InputList") or [body.get("Input", "")]
        data = [
            {"Embedding": [round(0.1 * (i + 1) + 0.01 * d, 4) for d in range(8)], "Index": i, "Object": "embedding"}
            for i in range(len(texts))
        ]
        tokens = sum(len(str(text)) for text in texts)
        return _json(envelope(Data=data, Usage={"PromptTokens": tokens, "TotalTokens": tokens}))

    async def _default_sentence_recognition(self, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        if body.get("SourceType") != 1 or not body.get("VoiceFormat") or not body.get("EngSerViceType"):
            return _json(cloud_error("InvalidParameter.ErrorParamsMissing", "SourceType, VoiceFormat, EngSerViceType"))
        try:
            audio = base64.b64decode(body.get("Data") or "", validate=True)
        except binascii.Error:
            return _json(cloud_error("InvalidParameterValue.ErrorInvalidVoicedata", "Data is not base64"))
        if len(audio) != body.get("DataLen"):
            return _json(cloud_error("InvalidParameter.ErrorContentlength", "DataLen is not the audio's length"))
        return _json(
            envelope(Result="腾讯云语音识别。", AudioDuration=wav_duration_ms(audio), WordSize=0, WordList=None)
        )


def _json(body: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")
