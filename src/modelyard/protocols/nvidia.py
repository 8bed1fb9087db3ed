"""NVIDIA's API Catalog and NIMs: OpenAI's wire for chat and embeddings, NVIDIA's own for ranking (R2).

Ranking (shared/providers-a.md §12.2): `{"model", "query": {"text"}, "passages": [{"text"}], "truncate"}` to
`{"rankings": [{"index", "logit"}]}`. The hosted catalog serves each ranking model at its own URL on another
host than chat (`https://ai.api.nvidia.com/v1/retrieval/{model path}/reranking`, the model id with dots as
underscores); a NIM container serves `{base}/ranking`. Where is a quirk, so both providers share this code.

Scores: NVIDIA answers raw logits (unbounded). We pass sigmoid(logit) as the score, a probability in (0, 1)
as every R1 reranker answers, so a `score_threshold` means the same for every provider. The sigmoid keeps the
order, and NVIDIA's own docs name it as the way to turn these logits into probabilities.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import orjson

from modelyard.protocols.base import JSON_HEADERS, Target, UpstreamRequest
from modelyard.protocols.openai import OpenAI, OpenAIQuirks
from modelyard.protocols.openai.responses import load_object, reading
from modelyard.types import RerankHit, RerankRequest, RerankResult, Usage
from modelyard.types.usage import UNREPORTED


class NVIDIAQuirks(OpenAIQuirks):
    # Where ranking models are served: this base URL (None: the provider's own), overridable by a credential
    # (a proxy, or a test), followed by `ranking_path`, in which `{model_path}` is the model id, dots as `_`.
    ranking_base_url: str | None = None
    ranking_base_url_credential: str | None = None
    ranking_path: str = "/ranking"
    # END cuts passages longer than the model's window instead of failing the request (the API's default, NONE).
    ranking_truncate: Literal["NONE", "END"] = "END"


class NVIDIA(OpenAI):
    name = "nvidia"
    quirks_model = NVIDIAQuirks

    def build_rerank(self, target: Target, request: RerankRequest) -> UpstreamRequest:
        # No top_n on the wire: NVIDIA ranks every passage, the runtime cuts the list.
        body: dict[str, Any] = {
            "model": target.upstream_model,
            "query": {"text": request.query},
            "passages": [{"text": document} for document in request.documents],
            "truncate": _quirks(target).ranking_truncate,
        }
        return UpstreamRequest("POST", ranking_url(target), JSON_HEADERS, orjson.dumps(body))

    def parse_rerank(self, target: Target, request: RerankRequest, body: bytes) -> RerankResult:
        with reading(target, "ranking"):
            data = load_object(target, body)
            hits = []
            for item in data["rankings"]:
                index = int(item["index"])
                score = sigmoid(float(item["logit"]))
                hits.append(RerankHit(index=index, score=score, document=request.documents[index]))
            hits.sort(key=lambda hit: hit.score, reverse=True)
            usage = data.get("usage") or {}
            tokens = usage.get("prompt_tokens") or usage.get("total_tokens") or 0
            return RerankResult(
                model=target.model.id, hits=tuple(hits), usage=Usage(prompt_tokens=tokens) if tokens else UNREPORTED
            )


def ranking_url(target: Target) -> str:
    quirks = _quirks(target)
    base = (
        target.credentials.get(quirks.ranking_base_url_credential or "") or quirks.ranking_base_url or target.base_url
    )
    path = quirks.ranking_path.replace("{model_path}", target.upstream_model.replace(".", "_"))
    return f"{base.rstrip('/')}{path}"


def sigmoid(logit: float) -> float:
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    exp = math.exp(logit)  # the other branch would overflow for very negative logits
    return exp / (1.0 + exp)


def _quirks(target: Target) -> NVIDIAQuirks:
    quirks = target.quirks
    return quirks if isinstance(quirks, NVIDIAQuirks) else NVIDIAQuirks()
