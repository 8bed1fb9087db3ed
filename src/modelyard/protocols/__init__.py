"""One module per upstream wire format; pure translation, no I/O."""

from modelyard.protocols.anthropic import Anthropic
from modelyard.protocols.baichuan import Baichuan
from modelyard.protocols.base import WireProtocol
from modelyard.protocols.bedrock import Bedrock
from modelyard.protocols.cohere import Cohere
from modelyard.protocols.dashscope import DashScope
from modelyard.protocols.gemini import Gemini
from modelyard.protocols.huggingface import HuggingFace
from modelyard.protocols.hunyuan import Hunyuan
from modelyard.protocols.jina import Jina
from modelyard.protocols.minimax import MiniMax
from modelyard.protocols.nvidia import NVIDIA
from modelyard.protocols.ollama import Ollama
from modelyard.protocols.openai import OpenAI
from modelyard.protocols.openai_responses import OpenAIResponses
from modelyard.protocols.replicate import Replicate
from modelyard.protocols.sagemaker import SageMaker
from modelyard.protocols.spark import Spark
from modelyard.protocols.tei import TEI
from modelyard.protocols.tencent_asr import TencentASR
from modelyard.protocols.triton import Triton
from modelyard.protocols.vertex import Vertex
from modelyard.protocols.volcengine_maas import VolcengineMaaSV2
from modelyard.protocols.wenxin import Wenxin
from modelyard.protocols.zhipu import Zhipu

# Protocols by the name provider files use in `protocol:`.
PROTOCOLS: dict[str, WireProtocol] = {
    protocol.name: protocol
    for protocol in (
        OpenAI(),
        OpenAIResponses(),
        Anthropic(),
        Cohere(),
        DashScope(),
        Jina(),
        MiniMax(),
        NVIDIA(),
        Gemini(),
        Vertex(),
        Ollama(),
        HuggingFace(),
        TEI(),
        Replicate(),
        Triton(),
        VolcengineMaaSV2(),
        Bedrock(),
        SageMaker(),
        Spark(),
        Zhipu(),
        Baichuan(),
        Hunyuan(),
        TencentASR(),
        Wenxin(),
    )
}

__all__ = ["PROTOCOLS", "WireProtocol"]
