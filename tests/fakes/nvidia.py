"""An NVIDIA upstream on 127.0.0.1: the OpenAI-wire routes of the API Catalog and NIMs, plus ranking (R2).

Ranking is served where NVIDIA serves it: a NIM's `/v1/ranking`, and the hosted catalog's per-model
`/retrieval/{org}/{model}/reranking` (plus the generic `/retrieval/nvidia/reranking`). It answers logits,
`{"rankings": [{"index", "logit"}]}`, best first; errors as the hosted API's problem+json.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.openai import FakeOpenAI, Recorded


def rankings(*logits: float) -> dict[str, Any]:
    ranked = sorted(({"index": i, "logit": logit} for i, logit in enumerate(logits)), key=lambda r: -r["logit"])
    return {"rankings": ranked}


class FakeNVIDIA(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__()
        ranking = self._handle("ranking")
        self.app.router.add_post("/v1/ranking", ranking)
        self.app.router.add_post("/retrieval/{org}/{model}/reranking", ranking)
        self.app.router.add_post("/retrieval/nvidia/reranking", ranking)

    def fail(  # type: ignore[override]
        self, status: int, message: str, *, headers: dict[str, str] | None = None, **_: Any
    ) -> None:
        problem = {"type": "about:blank", "status": status, "title": "Error", "detail": message}
        self.reply_json(problem, status=status, headers=headers)

    async def _default_ranking(self, recorded: Recorded) -> web.StreamResponse:
        """Logits that grow with the passage's position: the last passage is the best, and some are negative."""
        passages = (recorded.json or {}).get("passages") or []
        return web.json_response(rankings(*(2.0 * i - 3.0 for i in range(len(passages)))))
