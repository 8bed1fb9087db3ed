"""Redis as the idempotency store, shared by replicas: one hash per key, claimed and changed by Lua scripts.

The claim sets the holder's token only if the key has none (HSETNX) and gives the hash the lease as its expiry, so a
crashed holder's key frees itself. Keeping the answer and letting the key go both check the token first. The
database is not touched.
"""

from __future__ import annotations

import base64
import hashlib

from modelyard.services.idempotency.values import Claim, Found, KeyScope
from modelyard.services.recorded import StoredAnswer
from modelyard.store.cache import RedisCache

# KEYS: the record. ARGV: token, fingerprint, lease (ms).
# Returns {'claimed'} or {'found', fingerprint, status|nil, headers|nil, body|nil, lease left (ms)}.
_CLAIM = """
if redis.call('HSETNX', KEYS[1], 'token', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'fingerprint', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'claimed'}
end
local held = redis.call('HMGET', KEYS[1], 'fingerprint', 'status', 'headers', 'body')
return {'found', held[1], held[2], held[3], held[4], redis.call('PTTL', KEYS[1])}
"""

# KEYS: the record. ARGV: token, status, headers, body, lifetime (ms). Returns 1 if kept, 0 if the key changed hands.
_KEEP = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'headers', ARGV[3], 'body', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""

# KEYS: the record. ARGV: token.
_RELEASE = """
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisRecords:
    PREFIX = "modelyard:idempotency:"

    def __init__(self, cache: RedisCache) -> None:
        self._claim = cache.script(_CLAIM)
        self._keep = cache.script(_KEEP)
        self._release = cache.script(_RELEASE)

    def record_key(self, scope: KeyScope) -> str:
        # Hashed: a key is any printable text up to 255 characters, and Redis keys should stay short and plain.
        digest = hashlib.sha256(scope.key.encode()).hexdigest()[:40]
        return f"{self.PREFIX}{scope.workspace_id}:{scope.api_key_id}:{digest}"

    async def claim(self, scope: KeyScope, fingerprint: str, token: str, lease_s: float) -> Claim | Found | None:
        outcome = await self._claim(keys=[self.record_key(scope)], args=[token, fingerprint, _ms(lease_s)])
        if outcome[0] == "claimed":
            return Claim(scope, token)
        _, held_fingerprint, status, headers, body, lease_left_ms = outcome
        if held_fingerprint is None:
            return None  # expired between HSETNX and HMGET, or a record half-written by a crash: ask again
        if status is None:
            return Found(held_fingerprint, None, max(int(lease_left_ms), 0) / 1000)
        # The client decodes replies as text: the body travels as base64.
        return Found(held_fingerprint, StoredAnswer.of(int(status), headers, base64.b64decode(body)), 0.0)

    async def keep(self, claim: Claim, answer: StoredAnswer, ttl_s: float) -> bool:
        body = base64.b64encode(answer.body).decode()
        args = [claim.token, answer.status, answer.encoded_headers().decode(), body, _ms(ttl_s)]
        return bool(await self._keep(keys=[self.record_key(claim.scope)], args=args))

    async def release(self, claim: Claim) -> None:
        await self._release(keys=[self.record_key(claim.scope)], args=[claim.token])

    async def prune(self) -> int:
        return 0  # each record expires by itself


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 1)
