"""Results, dead letters and acknowledgements written together, once.

One Lua script per batch (Redis runs it atomically): for each message it
checks that the message is still pending *and owned by this consumer*, then
adds the result (or dead letter) and acknowledges it. A consumer killed
before the script ran leaves its messages pending (another consumer or its own
restart scores them again); killed after, everything is written and acked.
A slow consumer whose message was reclaimed by another (or already answered)
finds it no longer its own and writes nothing: each input id reaches the
output exactly once. While a consumer holds messages it touches them (idle
time back to zero, no delivery counted), so only a dead or stalled consumer's
messages ever look idle to the others. Under Redis Cluster the three streams must share a hash
slot (name them with a hash tag, e.g. ``{scores}``, ``{scores}:out``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

OUTPUT = "o"
DEAD = "d"

_COMMIT = """
local group, consumer = ARGV[1], ARGV[2]
local i = 3
local skipped = {}
while i <= #ARGV do
  local id, target, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local pending = redis.call('XPENDING', KEYS[1], group, id, id, 1)
  if #pending == 1 and pending[1][2] == consumer then
    local fields = {}
    for j = 1, n do fields[j] = ARGV[i + 2 + j] end
    redis.call('XADD', target == 'o' and KEYS[2] or KEYS[3], '*', unpack(fields))
    redis.call('XACK', KEYS[1], group, id)
  else
    skipped[#skipped + 1] = id
  end
  i = i + 3 + n
end
return skipped
"""

# Resets the idle time of messages this consumer still owns, without counting a
# delivery (XCLAIM JUSTID): a live consumer's work is never taken for a dead one's.
_TOUCH = """
local group, consumer = ARGV[1], ARGV[2]
local touched = 0
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], group, ARGV[i], ARGV[i], 1)
  if #pending == 1 and pending[1][2] == consumer then
    redis.call('XCLAIM', KEYS[1], group, consumer, 0, ARGV[i], 'JUSTID')
    touched = touched + 1
  end
end
return touched
"""

FieldValues = Mapping[str, bytes | str | int]


@dataclass(frozen=True)
class Entry:
    """What to write for one input message: to the output or the dead-letter stream."""

    message_id: str
    target: str  # OUTPUT | DEAD
    fields: FieldValues


class Committer:
    """Writes a batch's entries and acks with the ownership check, in one round trip."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        stream: str,
        group: str,
        consumer: str,
        results: str,
        dead_letters: str,
    ) -> None:
        self.redis = redis
        self.keys = [stream, results, dead_letters]
        self.group = group
        self.consumer = consumer
        self.dead_letters = dead_letters
        self._script = redis.register_script(_COMMIT)
        self._touch = redis.register_script(_TOUCH)

    async def commit(self, entries: Sequence[Entry]) -> list[str]:
        """Write and ack; returns the ids skipped because this consumer no longer owns them."""
        if not entries:  # nothing to ack: XACK with no ids is an error
            return []
        args: list[bytes | str | int] = [self.group, self.consumer]
        for entry in entries:
            args.extend((entry.message_id, entry.target, 2 * len(entry.fields)))
            for name, value in entry.fields.items():
                args.extend((name, value))
        skipped = await self._script(keys=self.keys, args=args)
        return [s.decode() if isinstance(s, bytes) else str(s) for s in skipped]

    async def touch(self, ids: Sequence[str]) -> int:
        """Keep messages in hand from looking abandoned (idle time back to 0); how many."""
        if not ids:
            return 0
        return int(await self._touch(keys=self.keys[:1], args=[self.group, self.consumer, *ids]))

    async def dead_letter_unowned(self, fields: Sequence[FieldValues]) -> None:
        """Dead letters for entries XAUTOCLAIM already dropped from the PEL (deleted from
        the stream): there is nothing to ack, so no ownership to check."""
        if not fields:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for entry in fields:
                pipe.xadd(self.dead_letters, dict(entry))  # type: ignore[arg-type]
            await pipe.execute()
