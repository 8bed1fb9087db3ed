"""The OpenAI-compatible gateway: /v1, bearer = a workspace API key."""
