"""The gateway's exact response cache: see `service.py`."""

from modelyard.services.response_cache.service import ResponseCache
from modelyard.services.response_cache.settings import MAX_TTL_S, CacheSettings, parse_ttl
from modelyard.services.response_cache.stores import CachedAnswer

__all__ = ["MAX_TTL_S", "CacheSettings", "CachedAnswer", "ResponseCache", "parse_ttl"]
