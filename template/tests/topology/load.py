"""The fault run: bounded mixed load through HAProxy while faults are injected in turn.

Load: ``concurrency`` clients share one logged-in user (logged in before the run, so no
login meets the Redis fault) and loop over
- writes: ``POST /api/v1/items`` (a published item; its commit enqueues a
  ``recompute_item_search_fields`` job through the outbox), followed at once by a
  read-after-write ``GET /api/v1/items/{id}`` carrying the write's X-Read-After-LSN;
- reads: the first catalog page, and a random item created earlier.

Like a browser's cookie jar, every read carries the newest X-Read-After-LSN this user was
handed, so a read never sees the database from before the user's own writes, whichever
replica or instance serves it (app/db/routing.py: read-your-writes).

Every response that is not the expected status (or a read-after-write that does not
show the write) is a failure, counted by kind and by the fault active at the time.

Faults, one after the other (``scripts/topology`` verbs): SIGTERM one instance and start
it again; stop the replica, then start it; restart Redis; stop the broker, then start it.
The run stops by itself after the faults or at ``max_requests``, whichever comes first.
Afterwards every created item's job must have run exactly once: its ``processed_jobs``
row exists and ``items.search_text`` holds the derived text.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from app.jobs.handlers import RECOMPUTE_ITEM_SEARCH_FIELDS, normalize_search_text
from tests.topology.state import Topology

ITEMS = "/api/v1/items"
PASSWORD = "fault-run password 0123"  # a throwaway account on a local topology


@dataclass(frozen=True, slots=True)
class Fault:
    name: str
    verbs: tuple[str, ...]  # scripts/topology commands, run in order
    hold_seconds: float = 0.0  # pause between the verbs (how long the dependency stays down)


FAULTS = (
    Fault("instance SIGTERM + restart", ("restart-instance 1",)),
    Fault("replica stop + start", ("stop-replica", "start-replica"), hold_seconds=2.0),
    Fault("Redis restart", ("restart-redis",)),
    Fault("broker stop + start", ("stop-broker", "start-broker"), hold_seconds=2.0),
)


@dataclass(slots=True)
class Report:
    requests: int = 0
    reads: int = 0
    writes: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    failure_samples: list[str] = field(default_factory=list)
    faults: list[tuple[str, float]] = field(default_factory=list)
    created: dict[int, str] = field(default_factory=dict)  # item id -> name
    duration_seconds: float = 0.0
    jobs_enqueued: int = 0
    jobs_executed: int = 0
    jobs_lost: int = 0
    jobs_duplicated: int = 0
    redeliveries_absorbed: int = 0
    items_without_job: int = 0
    effects_missing: int = 0
    jobs_drained_seconds: float = 0.0

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{kind}: {count}" for kind, count in self.failures.most_common())
        faults = ", ".join(f"{name} ({seconds:.1f}s)" for name, seconds in self.faults)
        return [
            f"fault-run: requests sent={self.requests} reads={self.reads} writes={self.writes} "
            f"failures={self.failed} duration={self.duration_seconds:.1f}s",
            f"fault-run: failures by kind: {kinds or 'none'}",
            f"fault-run: faults injected={len(self.faults)}: {faults}",
            f"fault-run: jobs enqueued={self.jobs_enqueued} executed={self.jobs_executed} "
            f"lost={self.jobs_lost} duplicated={self.jobs_duplicated} "
            f"redeliveries absorbed={self.redeliveries_absorbed} "
            f"items without job={self.items_without_job} effects missing={self.effects_missing} "
            f"drained in={self.jobs_drained_seconds:.1f}s",
            *(f"fault-run: failure sample: {sample}" for sample in self.failure_samples),
        ]


class FaultRun:
    def __init__(
        self,
        topology: Topology,
        *,
        concurrency: int = 4,
        max_requests: int = 8000,
        settle_seconds: float = 1.5,
        jobs_timeout_seconds: float = 90.0,
    ) -> None:
        self.topology = topology
        self.concurrency = concurrency
        self.max_requests = max_requests
        self.settle_seconds = settle_seconds
        self.jobs_timeout_seconds = jobs_timeout_seconds
        self.report = Report()
        self.phase = "warm-up"
        self._lsn = 0  # the newest write position handed to this user ...
        self._lsn_token = (
            ""  # ... and the signed token that carries it (app/db/read_your_writes.py)
        )
        self._stop = asyncio.Event()

    async def run(self) -> Report:
        limits = httpx.Limits(max_connections=self.concurrency * 2)
        async with httpx.AsyncClient(
            base_url=self.topology.base_url, timeout=15.0, limits=limits
        ) as client:
            client.headers["Authorization"] = f"Bearer {await self._log_in(client)}"
            started = time.perf_counter()
            clients = [asyncio.create_task(self._client(client)) for _ in range(self.concurrency)]
            try:
                await self._inject_faults()
            finally:
                self._stop.set()
                await asyncio.gather(*clients)
            self.report.duration_seconds = time.perf_counter() - started
        await self._check_jobs()
        return self.report

    async def _log_in(self, client: httpx.AsyncClient) -> str:
        email = f"fault-run-{uuid.uuid4().hex[:12]}@example.com"
        credentials = {"email": email, "password": PASSWORD}
        registered = await client.post("/api/v1/auth/register", json=credentials)
        registered.raise_for_status()
        logged_in = await client.post("/api/v1/auth/login", json=credentials)
        logged_in.raise_for_status()
        return str(logged_in.json()["access_token"])

    # ---------------------------------------------------------------- faults

    async def _inject_faults(self) -> None:
        await self._pause(self.settle_seconds)
        for fault in FAULTS:
            if self._stop.is_set():
                break
            self.phase = fault.name
            started = time.perf_counter()
            for index, verb in enumerate(fault.verbs):
                if index:
                    await self._pause(fault.hold_seconds)
                await self._topology(verb)
            self.report.faults.append((fault.name, time.perf_counter() - started))
            self.phase = f"after {fault.name}"
            await self._pause(self.settle_seconds)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _topology(self, verb: str) -> None:
        process = await asyncio.create_subprocess_exec(
            str(self.topology.script),
            *verb.split(),
            env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
            | {"TOPOLOGY_DIR": str(self.topology.directory)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 120)
        if process.returncode != 0:
            raise RuntimeError(f"scripts/topology {verb} failed:\n{output.decode()}")

    # ---------------------------------------------------------------- load

    async def _client(self, client: httpx.AsyncClient) -> None:
        rng = random.Random()  # noqa: S311 - picks requests, not secrets
        while not self._stop.is_set():
            if self.report.requests >= self.max_requests:
                self._stop.set()
                break
            choice = rng.random()
            if choice < 0.3 or not self.report.created:
                await self._write(client)
            elif choice < 0.65:
                await self._request(client, "GET", ITEMS, "list", params={"limit": 20})
            else:
                item_id = rng.choice(list(self.report.created))
                await self._request(client, "GET", f"{ITEMS}/{item_id}", "get")

    async def _write(self, client: httpx.AsyncClient) -> None:
        name = f"Fault run Crème Brûlée {uuid.uuid4().hex[:8]}"
        created = await self._request(
            client,
            "POST",
            ITEMS,
            "create",
            expected=201,
            json={"name": name, "description": "Made  under FAULTS", "status": "published"},
        )
        if created is None:
            return
        item_id = int(created.json()["id"])
        self.report.created[item_id] = name
        token = created.headers.get("X-Read-After-LSN", "")
        position = token.partition(".")[0]  # <lsn>.<signature>: only the server can make one
        if position.isascii() and position.isdigit() and int(position) > self._lsn:
            self._lsn, self._lsn_token = int(position), token
        read = await self._request(client, "GET", f"{ITEMS}/{item_id}", "read-after-write")
        if read is not None and read.json().get("name") != name:
            self._fail("read-after-write: stale item", f"{item_id}: {read.text[:200]}")

    async def _request(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        kind: str,
        *,
        expected: int = 200,
        **kwargs: object,
    ) -> httpx.Response | None:
        self.report.requests += 1
        if method == "GET":
            self.report.reads += 1
        else:
            self.report.writes += 1
        headers = {"X-Read-After-LSN": self._lsn_token} if method == "GET" and self._lsn else {}
        try:
            response = await client.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as error:
            self._fail(f"{kind}: {type(error).__name__}", f"{method} {url}: {error!r}")
            return None
        if response.status_code != expected:
            self._fail(
                f"{kind}: HTTP {response.status_code}",
                f"{method} {url}: {response.status_code} {response.text[:200]}",
            )
            return None
        return response

    def _fail(self, kind: str, detail: str) -> None:
        self.report.failures[f"{kind} during {self.phase}"] += 1
        if len(self.report.failure_samples) < 10:
            self.report.failure_samples.append(f"[{self.phase}] {detail}")

    # ---------------------------------------------------------------- jobs

    async def _check_jobs(self) -> None:
        """Wait for every created item's job, then count enqueued, executed, lost, duplicated."""
        ids = list(self.report.created)
        engine = create_async_engine(self.topology.state["TOPOLOGY_DATABASE_URL"])
        try:
            async with engine.connect() as connection:
                started = time.perf_counter()
                while True:
                    counts = await self._job_counts(connection, ids)
                    done = counts["executed"] >= counts["enqueued"] and counts["effects"] == len(
                        ids
                    )
                    if done or time.perf_counter() - started > self.jobs_timeout_seconds:
                        break
                    await connection.rollback()  # a fresh snapshot for the next look
                    await asyncio.sleep(0.5)
                self.report.jobs_drained_seconds = time.perf_counter() - started
                rows = (
                    await connection.execute(
                        text(
                            "SELECT name, description, search_text FROM items "
                            "WHERE id = ANY(CAST(:ids AS bigint[]))"
                        ),
                        {"ids": ids},
                    )
                ).all()
        finally:
            await engine.dispose()
        self.report.jobs_enqueued = counts["enqueued"]
        self.report.jobs_executed = counts["executed"]
        self.report.jobs_lost = counts["enqueued"] - counts["executed"]
        self.report.jobs_duplicated = counts["duplicated"]
        self.report.items_without_job = len(ids) - counts["items_with_job"]
        self.report.effects_missing = sum(
            row.search_text != normalize_search_text(row.name, row.description) for row in rows
        ) + (len(ids) - len(rows))
        self.report.redeliveries_absorbed = _count_in(
            self.topology.directory / "logs" / "worker.log", "already processed"
        )

    @staticmethod
    async def _job_counts(connection: AsyncConnection, ids: list[int]) -> dict[str, int]:
        row = (
            await connection.execute(
                text(
                    """
                    WITH jobs AS (
                        SELECT DISTINCT job_id, CAST(payload->>'item_id' AS bigint) AS item_id
                        FROM outbox
                        WHERE job = :job
                        AND CAST(payload->>'item_id' AS bigint) = ANY(CAST(:ids AS bigint[]))
                    )
                    SELECT
                        (SELECT count(*) FROM jobs) AS enqueued,
                        (SELECT count(DISTINCT item_id) FROM jobs) AS items_with_job,
                        (SELECT count(DISTINCT p.job_id)
                         FROM processed_jobs p JOIN jobs USING (job_id)) AS executed,
                        (SELECT count(*) - count(DISTINCT p.job_id)
                         FROM processed_jobs p JOIN jobs USING (job_id)) AS duplicated,
                        (SELECT count(*) FROM items WHERE id = ANY(CAST(:ids AS bigint[]))
                         AND search_text IS NOT NULL) AS effects
                    """
                ),
                {"ids": ids, "job": RECOMPUTE_ITEM_SEARCH_FIELDS},
            )
        ).one()
        return {key: int(value) for key, value in row._mapping.items()}


def _count_in(path: Path, needle: str) -> int:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return sum(needle in line for line in handle)
    except OSError:
        return 0
