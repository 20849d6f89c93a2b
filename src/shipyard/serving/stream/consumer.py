"""A Redis Streams consumer that serves one deployment: serving, fed by a stream.

It runs the same ``ServingCore`` as ``shipyard serve`` (routing table limited
to its deployment, data plane, prediction log, statistics flushing), so a
moved alias or a rollout step reaches stream traffic as it reaches REST
traffic, by load-then-switch, and rollout analysis counts both.

Delivery: at least once, with exactly-once output. On start the consumer
re-reads its own pending messages (a restart under the same name), then
loops: new messages with XREADGROUP ``>``, and every ``claim_every_s`` the
pending messages of consumers idle longer than ``min_idle_s`` with XAUTOCLAIM
(paged by its cursor). The messages of a batch are scored concurrently, so the
model's micro-batcher makes one call of them; each message is its own request
(request id ``<stream>/<message id>``: a producer knows it, so feedback can
join on it). Results, dead letters and acks are committed by ``Committer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import start_http_server
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shipyard.config import ServerSettings
from shipyard.errors import InvalidInput
from shipyard.serving.core import ServingCore
from shipyard.serving.dataplane import Answer, ModelFailed
from shipyard.serving.model import ServedModel
from shipyard.serving.stream import messages as msg
from shipyard.serving.stream.commit import DEAD, OUTPUT, Committer, Entry
from shipyard.serving.stream.config import StreamConfig, as_text
from shipyard.serving.stream.errors import StreamUnavailable
from shipyard.serving.stream.metrics import StreamMetrics
from shipyard.serving.traffic import Route
from shipyard.store import Store
from shipyard.store.stream_store import ConsumerReport

logger = logging.getLogger(__name__)

_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)


@dataclass
class StreamCounts:
    """What one consumer did, for its summary line and ``run_for`` callers."""

    read: int = 0
    scored: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    reclaimed: int = 0

    @property
    def done(self) -> int:
        return self.scored + self.dead_lettered + self.skipped


class StreamConsumer:
    def __init__(
        self,
        store: Store,
        deployment: str,
        config: StreamConfig,
        *,
        settings: ServerSettings | None = None,
        metrics_port: int | None = None,
        metrics_host: str = "127.0.0.1",
    ) -> None:
        self.deployment = deployment
        self.store = store
        self.metrics_address = (metrics_host, metrics_port) if metrics_port is not None else None
        self.config = config
        self.core = ServingCore.build(
            store, settings or ServerSettings(), only=frozenset({deployment})
        )
        self.metrics = StreamMetrics(self.core.metrics.registry, config.stream, config.group)
        self.counts = StreamCounts()
        self._readers: dict[int, msg.MessageReader] = {}
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(config.max_in_flight)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self._fatal: BaseException | None = None
        self._limit: int | None = None
        self._lag: int | None = None
        self._pending: int | None = None

    # -- control -------------------------------------------------------------------
    def stop(self) -> None:
        """Stop reading, finish and acknowledge what is in hand (thread- and signal-safe)."""
        self._stop_requested = True
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    @property
    def stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def run(self, *, messages: int | None = None, seconds: float | None = None) -> StreamCounts:
        """Consume until stopped (SIGTERM/SIGINT in the main thread, or ``stop()``);
        ``messages``/``seconds`` stop it after at least that many, or that long."""
        return asyncio.run(self._run_with_signals(messages, seconds))

    async def _run_with_signals(self, messages: int | None, seconds: float | None) -> StreamCounts:
        if threading.current_thread() is threading.main_thread():
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
        return await self.serve(messages=messages, seconds=seconds)

    async def serve(
        self, *, messages: int | None = None, seconds: float | None = None
    ) -> StreamCounts:
        """The consumer's life: connect, load the model, drain own PEL, loop, drain."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stop_requested:
            self._stop.set()
        self._limit = messages
        if seconds is not None:
            self._loop.call_later(seconds, self._stop.set)
        config = self.config
        redis = aioredis.Redis.from_url(
            config.redis_url, socket_timeout=None, socket_connect_timeout=10
        )
        self.committer = Committer(
            redis,
            stream=config.stream,
            group=config.group,
            consumer=config.consumer,
            results=config.results,
            dead_letters=config.dead_letters,
        )
        gauges: asyncio.Task[None] | None = None
        heartbeat: asyncio.Task[None] | None = None
        exporter: Any = None
        try:
            try:
                await redis.ping()
            except _REDIS_DOWN as exc:
                raise StreamUnavailable(f"cannot reach Redis at {config.safe_url}: {exc}") from exc
            await self.core.load()
            self.core.dataplane.route(self.deployment)  # not found / not ready: say so now
            await self._ensure_group(redis)
            self.core.start()
            if self.metrics_address is not None:
                host, port = self.metrics_address
                exporter, _ = start_http_server(port, host, registry=self.core.metrics.registry)
            await self._report(started=True)
            gauges = self._loop.create_task(self._refresh_gauges(redis))
            heartbeat = self._loop.create_task(self._heartbeat())
            logger.info(
                "consumer %s of group %s on %s (%s) serves deployment %s",
                config.consumer,
                config.group,
                config.stream,
                config.safe_url,
                self.deployment,
            )
            await self._drain_own(redis)
            await self._consume(redis)
        finally:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            for task in (gauges, heartbeat):
                if task is not None:
                    task.cancel()
            if exporter is not None:
                exporter.shutdown()
            with contextlib.suppress(Exception):  # presence is best effort, never a failure
                await self._read_group(redis)  # what it left: lag and pending after its acks
                await self._report(stopped=True)
            await self.core.close()
            await redis.aclose()
        if self._fatal is not None:
            raise self._fatal
        return self.counts

    # -- reading -------------------------------------------------------------------
    async def _ensure_group(self, redis: aioredis.Redis) -> None:
        try:
            await redis.xgroup_create(
                self.config.stream, self.config.group, id=self.config.start_id, mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _drain_own(self, redis: aioredis.Redis) -> None:
        """Messages this consumer (this name) read before a crash: score them first."""
        start = "0"
        while not self.stopping:
            reply: Any = await redis.xreadgroup(
                self.config.group,
                self.config.consumer,
                {self.config.stream: start},
                count=self.config.batch,
            )
            entries = reply[0][1] if reply else []
            if not entries:
                return
            start = entries[-1][0]
            await self._dispatch(await self._with_deliveries(redis, entries))

    async def _consume(self, redis: aioredis.Redis) -> None:
        config = self.config
        next_claim = time.monotonic()
        while not self.stopping:
            try:
                if time.monotonic() >= next_claim:
                    await self._claim(redis)
                    next_claim = time.monotonic() + config.claim_every_s
                await self._slots.acquire()
                try:
                    reply: Any = await redis.xreadgroup(
                        config.group,
                        config.consumer,
                        {config.stream: ">"},
                        count=config.batch,
                        block=config.block_ms,
                    )
                finally:
                    self._slots.release()
                entries = reply[0][1] if reply else []
                if entries:
                    await self._dispatch([msg.Message(as_text(i), f or {}) for i, f in entries])
            except _REDIS_DOWN as exc:
                logger.warning("Redis at %s: %s; retrying in 1 s", config.safe_url, exc)
                await self._sleep(1.0)
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                logger.warning("group %s vanished; creating it again", config.group)
                await self._ensure_group(redis)

    async def _claim(self, redis: aioredis.Redis) -> None:
        """Take over messages idle longer than ``min_idle_s``, page by page (the cursor)."""
        config = self.config
        cursor: Any = "0-0"
        while not self.stopping:
            cursor, claimed, deleted = await redis.xautoclaim(
                config.stream,
                config.group,
                config.consumer,
                min_idle_time=int(config.min_idle_s * 1000),
                start_id=cursor,
                count=config.batch,
            )
            if deleted:
                await self._payload_lost([as_text(i) for i in deleted])
            claimed = [(i, f) for i, f in claimed if as_text(i) not in self._in_flight]
            if claimed:
                self.counts.reclaimed += len(claimed)
                self.metrics.reclaimed_count.inc(len(claimed))
                await self._dispatch(await self._with_deliveries(redis, claimed))
            if as_text(cursor) == "0-0":
                return

    async def _with_deliveries(
        self, redis: aioredis.Redis, entries: list[tuple[Any, Any]]
    ) -> list[msg.Message]:
        """Messages with their delivery counts (XPENDING's extended form, one round trip);
        an entry no longer pending was answered meanwhile and is left out."""
        async with redis.pipeline(transaction=False) as pipe:
            for entry_id, _ in entries:
                pipe.xpending_range(
                    self.config.stream, self.config.group, min=entry_id, max=entry_id, count=1
                )
            pending = await pipe.execute()
        found = []
        for (entry_id, fields), info in zip(entries, pending, strict=True):
            if info and as_text(info[0]["consumer"]) == self.config.consumer:
                deliveries = int(info[0]["times_delivered"])
                found.append(msg.Message(as_text(entry_id), fields or {}, deliveries))
        return found

    async def _payload_lost(self, ids: list[str]) -> None:
        error = "deleted from the stream while pending"
        lost = [msg.Rejected(msg.Message(i, {}), msg.PAYLOAD_LOST, error) for i in ids]
        await self.committer.dead_letter_unowned(
            [msg.dead_letter_fields(r, self.config.consumer) for r in lost]
        )
        for _ in lost:
            self._count_dead(msg.PAYLOAD_LOST)

    # -- scoring ---------------------------------------------------------------------
    async def _dispatch(self, messages: list[msg.Message]) -> None:
        """Start scoring a batch once an in-flight slot is free (the backpressure)."""
        if not messages:
            return
        self._in_flight.update(m.id for m in messages)
        await self._slots.acquire()
        self.counts.read += len(messages)
        self.metrics.count(read=len(messages))
        self.metrics.in_flight_gauge.inc()
        assert self._loop is not None
        task = self._loop.create_task(self._process(messages, time.perf_counter()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process(self, messages: list[msg.Message], started: float) -> None:
        try:
            entries = await self._score(messages)
            skipped = await self.committer.commit(entries)
            self._account(entries, skipped)
            self.metrics.batch_seconds.observe(time.perf_counter() - started)
        except _REDIS_DOWN as exc:  # left pending: reclaimed and scored again later
            logger.warning("could not commit %d message(s): %s", len(messages), exc)
        except Exception as exc:
            logger.error("stream consumer stops: %s", exc)
            self._fatal = exc
            self.stop()
        finally:
            self._in_flight.difference_update(m.id for m in messages)
            self.metrics.in_flight_gauge.dec()
            self._slots.release()
            if self._limit is not None and self.counts.done >= self._limit:
                self.stop()

    async def _score(self, messages: list[msg.Message]) -> list[Entry]:
        route = self.core.dataplane.route(self.deployment)
        reader = self._reader(route.primary)
        entries: list[Entry] = []
        parsed: list[msg.Parsed] = []
        limit = self.config.max_deliveries
        for message in messages:
            if message.deliveries > limit:
                error = f"delivered {message.deliveries} times; the limit is {limit}"
                entries.append(self._dead(msg.Rejected(message, msg.MAX_DELIVERIES, error)))
                continue
            outcome = reader.read(message)
            if isinstance(outcome, msg.Rejected):
                entries.append(self._dead(outcome))
            else:
                parsed.append(outcome)
        answers = await asyncio.gather(
            *(self._predict(route, p) for p in parsed), return_exceptions=True
        )
        for item, answer in zip(parsed, answers, strict=True):
            if isinstance(answer, Answer):
                fields = msg.result_fields(
                    item.message.id, answer.model, answer.output, self._request_id(item.message)
                )
                entries.append(Entry(item.message.id, OUTPUT, fields))
            elif isinstance(answer, ModelFailed):
                entries.append(self._dead(msg.Rejected(item.message, msg.MODEL_ERROR, str(answer))))
            elif isinstance(answer, InvalidInput):
                entries.append(self._dead(msg.Rejected(item.message, msg.INVALID, str(answer))))
            else:  # transient (a model swapped out twice, ...): left pending, tried again
                logger.warning("message %s not scored now: %s", item.message.id, answer)
        return entries

    def _predict(self, route: Route, parsed: msg.Parsed) -> Any:
        key = parsed.key
        if key is None and route.key_column is not None:
            key = str(parsed.rows[0][route.key_column])
        return self.core.dataplane.predict(
            self.deployment,
            parsed.rows,
            key=key,
            route=route,
            request_id=self._request_id(parsed.message),
        )

    def _request_id(self, message: msg.Message) -> str:
        return f"{self.config.stream}/{message.id}"

    def _reader(self, model: ServedModel) -> msg.MessageReader:
        reader = self._readers.get(id(model))
        if reader is None:
            self._readers = {
                id(model): msg.MessageReader(model.validator, self.config.max_rows_per_message)
            }
            reader = self._readers[id(model)]
        return reader

    def _dead(self, rejected: msg.Rejected) -> Entry:
        fields = msg.dead_letter_fields(rejected, self.config.consumer)
        return Entry(rejected.message.id, DEAD, fields)

    def _account(self, entries: list[Entry], skipped: list[str]) -> None:
        gone = set(skipped)
        scored = 0
        for entry in entries:
            if entry.message_id in gone:
                continue
            if entry.target == OUTPUT:
                scored += 1
            else:
                self._count_dead(str(entry.fields["reason"]))
        self.counts.scored += scored
        self.counts.skipped += len(gone)
        self.metrics.count(scored=scored, skipped=len(gone))

    def _count_dead(self, reason: str) -> None:
        self.counts.dead_lettered += 1
        self.metrics.count_dead(reason)

    # -- housekeeping ----------------------------------------------------------------
    async def _refresh_gauges(self, redis: aioredis.Redis) -> None:
        while True:
            await self._read_group(redis)
            try:
                await self._report()
            except Exception as exc:  # nor must the presence row
                logger.warning("could not record this consumer's presence: %s", exc)
            await asyncio.sleep(self.config.gauge_interval_s)

    async def _read_group(self, redis: aioredis.Redis) -> None:
        """The group's lag and pending count, into the gauges and the presence row."""
        try:
            for group in await redis.xinfo_groups(self.config.stream):
                if as_text(group["name"]) == self.config.group:
                    if group.get("lag") is not None:
                        self._lag = int(group["lag"])
                        self.metrics.lag_gauge.set(group["lag"])
                    self._pending = int(group["pending"])
                    self.metrics.pending_gauge.set(group["pending"])
        except Exception as exc:  # gauges must never stop the consumer
            logger.debug("could not read the group's lag: %s", exc)

    async def _report(self, *, started: bool = False, stopped: bool = False) -> None:
        """This consumer's row in the store (``stream_consumers``), for the dashboard."""
        config = self.config
        report = ConsumerReport(
            stream=config.stream,
            group=config.group,
            consumer=config.consumer,
            deployment=self.deployment,
            redis=config.safe_url,
            scored=self.counts.scored,
            dead_lettered=self.counts.dead_lettered,
            lag=self._lag,
            pending=self._pending,
        )
        await asyncio.to_thread(
            self.store.stream_consumers.report, report, started=started, stopped=stopped
        )

    async def _heartbeat(self) -> None:
        """Touch the messages in hand a few times per ``min_idle_s``."""
        every = min(self.config.min_idle_s / 3, 5.0)
        while True:
            await asyncio.sleep(every)
            try:
                await self.committer.touch(sorted(self._in_flight))
            except Exception as exc:  # a missed beat costs at most a duplicate attempt
                logger.warning("could not touch messages in hand: %s", exc)

    async def _sleep(self, seconds: float) -> None:
        assert self._stop is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
