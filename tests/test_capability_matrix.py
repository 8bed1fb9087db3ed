"""The published matrix names each provider's sign-in choices (scripts/capability_matrix.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "capability_matrix.py"


def test_the_matrix_lists_the_sign_in_methods_a_provider_form_offers() -> None:
    spec = importlib.util.spec_from_file_location("capability_matrix", SCRIPT)
    assert spec is not None and spec.loader is not None
    matrix = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(matrix)
    listed = {line.split("**")[1]: line for line in matrix.sign_in_methods() if line.startswith("- **")}
    assert "`default_chain`" in listed["AWS Bedrock"] and "`api_key`" in listed["AWS Bedrock"]
    assert "`adc`" in listed["Google Cloud (Vertex AI)"]
    assert "`entra_id`" in listed["Azure OpenAI"]
