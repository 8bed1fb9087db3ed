"""The Amazon Bedrock Runtime wire family (providers-a §5): Converse, ConverseStream, InvokeModel."""

from modelyard.protocols.bedrock.protocol import Bedrock

__all__ = ["Bedrock"]
