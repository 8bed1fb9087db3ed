"""One module per upstream wire format; pure translation, no I/O."""

from modelyard.protocols.anthropic import Anthropic
from modelyard.protocols.base import WireProtocol
from modelyard.protocols.bedrock import Bedrock
from modelyard.protocols.cohere import Cohere
from modelyard.protocols.gemini import Gemini
from modelyard.protocols.huggingface import HuggingFace
from modelyard.protocols.jina import Jina
from modelyard.protocols.nvidia import NVIDIA
from modelyard.protocols.ollama import Ollama
from modelyard.protocols.openai import OpenAI
from modelyard.protocols.replicate import Replicate
from modelyard.protocols.sagemaker import SageMaker
from modelyard.protocols.tei import TEI
from modelyard.protocols.triton import Triton

# Protocols by the name provider files use in `protocol:`.
PROTOCOLS: dict[str, WireProtocol] = {
    protocol.name: protocol
    for protocol in (
        OpenAI(),
        Anthropic(),
        Cohere(),
        Jina(),
        NVIDIA(),
        Gemini(),
        Ollama(),
        HuggingFace(),
        TEI(),
        Replicate(),
        Triton(),
        Bedrock(),
        SageMaker(),
    )
}

__all__ = ["PROTOCOLS", "WireProtocol"]
