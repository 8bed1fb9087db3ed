from __future__ import annotations

from decimal import Decimal

import pytest

from modelyard.errors import CredentialValidationError, InvalidRequestError, UnsupportedFeatureError
from modelyard.runtime.validation import silent_wav
from tests.support import SECRET


@pytest.fixture
def xinference(fake_openai) -> dict[str, str]:
    """A model launched on a self-hosted Xinference, served by the fake."""
    return {"server_url": fake_openai.url, "model_uid": "uid-1234", "api_key": SECRET}


async def test_embeddings_are_split_into_the_models_batch_size_and_kept_in_order(
    runtime, fake_openai, xinference
) -> None:
    credentials = xinference | {"max_chunks": "2"}
    result = await runtime.embed(
        provider="xinference", model="bge-m3", credentials=credentials, texts=["one", "two", "three", "four", "five"]
    )
    assert [r.json["input"] for r in fake_openai.requests] == [["one", "two"], ["three", "four"], ["five"]]
    assert all(r.json["model"] == "uid-1234" for r in fake_openai.requests)  # the uid goes upstream
    assert len(result.vectors) == 5
    assert [round(v[0], 2) for v in result.vectors] == [0.1, 0.2, 0.1, 0.2, 0.1]  # each batch restarts its index
    assert result.usage.prompt_tokens == 5


async def test_embeddings_decode_base64_for_providers_that_ask_for_it(runtime, fake_openai, openai_credentials) -> None:
    result = await runtime.embed(
        provider="openai",
        model="text-embedding-3-small",
        credentials=openai_credentials,
        texts="hello world",
        dimensions=8,
    )
    assert fake_openai.last.json == {
        "model": "text-embedding-3-small",
        "input": ["hello world"],
        "encoding_format": "base64",
        "dimensions": 8,
    }
    assert len(result.vectors[0]) == 8
    assert result.vectors[0][0] == pytest.approx(0.1)
    assert result.usage.total_price == result.usage.prompt_tokens * Decimal("0.02") * Decimal("0.000001")


async def test_models_without_a_dimensions_parameter_refuse_one(runtime, openai_credentials) -> None:
    with pytest.raises(UnsupportedFeatureError, match="dimensions"):
        await runtime.embed(
            provider="openai", model="text-embedding-ada-002", credentials=openai_credentials, texts="x", dimensions=8
        )


async def test_rerank_sorts_cuts_to_top_n_and_drops_scores_under_the_threshold(
    runtime, fake_openai, xinference
) -> None:
    documents = ["alpha", "beta", "gamma", "delta"]
    result = await runtime.rerank(
        provider="xinference",
        model="bge-reranker",
        credentials=xinference,
        query="q",
        documents=documents,
        top_n=3,
        score_threshold=0.4,
    )
    assert fake_openai.last.path == "/v1/rerank"
    assert fake_openai.last.json["top_n"] == 3
    assert [(hit.document, hit.score) for hit in result.hits] == [("delta", 1.0), ("gamma", 0.5)]
    assert result.usage.prompt_tokens == 12


async def test_transcription_uploads_the_file_and_prices_by_duration(runtime, fake_openai, openai_credentials) -> None:
    audio = silent_wav()
    result = await runtime.transcribe(
        provider="openai",
        model="whisper-1",
        credentials=openai_credentials,
        audio=audio,
        filename="note.wav",
        language="en",
    )
    form = fake_openai.last.form
    assert (form["model"], form["language"], form["file"], form["file.filename"]) == (
        "whisper-1",
        "en",
        audio,
        "note.wav",
    )
    assert result.text == "hello world"
    assert result.duration_s == 2
    assert result.usage.total_price > 0


async def test_speech_streams_audio_bytes(runtime, fake_openai, openai_credentials) -> None:
    speech = await runtime.speak(
        provider="openai", model="tts-1", credentials=openai_credentials, text="Hello there", voice="nova"
    )
    audio = await speech.read()
    assert audio.startswith(b"ID3") and len(audio) > 2000
    assert speech.media_type == "audio/mpeg"
    assert fake_openai.last.json == {
        "model": "tts-1",
        "input": "Hello there",
        "voice": "nova",
        "response_format": "mp3",
    }


async def test_speech_refuses_unknown_voices_and_formats(runtime, fake_openai, openai_credentials) -> None:
    with pytest.raises(InvalidRequestError, match="voice"):
        await runtime.speak(provider="openai", model="tts-1", credentials=openai_credentials, text="x", voice="bob")
    with pytest.raises(InvalidRequestError, match="format"):
        await runtime.speak(provider="openai", model="tts-1", credentials=openai_credentials, text="x", format="ogg")
    assert fake_openai.requests == []


async def test_moderation_flags_per_input(runtime, fake_openai, openai_credentials) -> None:
    result = await runtime.moderate(
        provider="openai",
        model="omni-moderation-latest",
        credentials=openai_credentials,
        inputs=["hello", "I will kill"],
    )
    assert [v.flagged for v in result.verdicts] == [False, True]
    assert result.flagged
    assert result.verdicts[1].scores["violence"] == pytest.approx(0.97)


async def test_remote_model_listing(runtime, fake_openai, xinference) -> None:
    models = await runtime.list_remote_models(provider="xinference", credentials=xinference)
    assert [m.id for m in models] == ["fake-chat", "fake-embed"]
    assert fake_openai.last.headers["authorization"] == f"Bearer {SECRET}"


async def test_validation_accepts_good_credentials_and_fills_defaults(runtime, fake_openai, deepseek) -> None:
    values = await runtime.validate_credentials(
        provider="deepseek", credentials={"api_key": SECRET, "endpoint_url": deepseek["endpoint_url"]}
    )
    assert values == {"api_key": SECRET, "endpoint_url": deepseek["endpoint_url"]}
    assert fake_openai.last.json["model"] == "deepseek-flash"
    assert fake_openai.last.json["max_tokens"] == 16


async def test_validation_names_the_missing_field(runtime) -> None:
    with pytest.raises(CredentialValidationError, match="api_key is required") as caught:
        await runtime.validate_credentials(provider="deepseek", credentials={})
    assert caught.value.field == "api_key"


async def test_validation_quotes_the_provider_when_it_refuses(runtime, fake_openai, deepseek) -> None:
    fake_openai.fail(401, "Authentication Fails (no such user)", code="invalid_api_key")
    with pytest.raises(CredentialValidationError, match="Authentication Fails"):
        await runtime.validate_credentials(provider="deepseek", credentials=deepseek)


async def test_custom_model_validation_calls_that_model_with_its_type(runtime, fake_openai, xinference) -> None:
    await runtime.validate_credentials(
        provider="xinference", model="my-reranker", model_type="rerank", credentials=xinference
    )
    assert fake_openai.last.path == "/v1/rerank"
    await runtime.validate_credentials(
        provider="xinference", model="my-whisper", model_type="speech2text", credentials=xinference
    )
    assert fake_openai.last.path == "/v1/audio/transcriptions"


async def test_custom_model_features_come_from_its_form(runtime, fake_openai, xinference) -> None:
    image = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}
    with pytest.raises(UnsupportedFeatureError):
        await runtime.chat(provider="xinference", model="qwen-vl", credentials=xinference, messages=[image])
    result = await runtime.chat(
        provider="xinference", model="qwen-vl", messages=[image], credentials=xinference | {"vision_support": "support"}
    )
    assert result.content == "Hello!"
