"""The worker's heartbeat and health check, and the queue-depth metric it logs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.engine import create_engine
from app.db.session import create_session_factory
from app.jobs.brokers.memory import MemoryBroker
from app.jobs.depth import METRIC_NAME, DepthReporter, emf_line
from app.jobs.health import check
from app.jobs.heartbeat import Heartbeat
from app.jobs.message import JobMessage
from app.jobs.outbox import enqueue
from app.jobs.registry import JobRegistry
from app.jobs.runtime import JobRuntime
from app.jobs.worker import Worker
from app.settings import Settings
from tests.conftest import SERVICE_ROOT

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(settings: Settings) -> AsyncIterator[Sessions]:
    engine = create_engine(settings.primary_database_url, settings)
    yield create_session_factory(engine)
    await engine.dispose()


def run_health(path: Path, max_age_seconds: float) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "WORKER_HEARTBEAT_PATH": str(path),
        "WORKER_HEARTBEAT_MAX_AGE_SECONDS": str(max_age_seconds),
    }
    return subprocess.run(
        [sys.executable, "-m", "app.jobs.health"],
        cwd=SERVICE_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_health_passes_on_a_fresh_heartbeat_and_fails_on_a_stale_or_missing_one(
    tmp_path: Path,
) -> None:
    heartbeat = tmp_path / "heartbeat"
    missing = run_health(heartbeat, 60)
    assert missing.returncode == 1
    assert "no worker heartbeat" in missing.stderr

    heartbeat.touch()
    assert run_health(heartbeat, 60).returncode == 0

    old = time.time() - 120
    os.utime(heartbeat, (old, old))
    stale = run_health(heartbeat, 60)
    assert stale.returncode == 1
    assert re.search(r"is 12\ds old \(limit 60s\)", stale.stderr), stale.stderr


def test_check_measures_the_age_against_the_limit(tmp_path: Path) -> None:
    heartbeat = tmp_path / "heartbeat"
    heartbeat.touch()
    touched = heartbeat.stat().st_mtime
    assert check(heartbeat, 60, now=touched + 59) is None
    assert check(heartbeat, 60, now=touched + 61) is not None


class DownBroker(MemoryBroker):
    async def get(self, timeout_seconds: float) -> None:
        raise ConnectionError("broker unreachable")


@pytest.mark.parametrize(
    ("broker", "beats"),
    [
        pytest.param(MemoryBroker(), True, id="consuming"),
        pytest.param(DownBroker(), False, id="down"),
    ],
)
async def test_the_worker_beats_only_while_it_can_consume(
    sessions: Sessions, tmp_path: Path, broker: MemoryBroker, beats: bool
) -> None:
    worker = Worker(broker, sessions, JobRegistry(), poll_timeout_seconds=0.05)
    path = tmp_path / "heartbeat"
    heartbeat = Heartbeat(path, alive=lambda: worker.consuming, interval_seconds=0.05)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop)), asyncio.create_task(heartbeat.run(stop))]
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*tasks)
    assert path.exists() is beats
    assert (check(path, 60) is None) is beats


def test_the_worker_command_runs_heartbeat_and_depth_report(settings: Settings) -> None:
    runtime = JobRuntime.from_settings(
        settings.model_copy(update={"worker_heartbeat_path": "/x/hb"}), run_worker=True
    )
    assert runtime.heartbeat is not None
    assert runtime.heartbeat.path == Path("/x/hb")
    assert runtime.depth_reporter is not None
    off = JobRuntime.from_settings(
        settings.model_copy(update={"jobs_depth_report_seconds": 0}), run_worker=True
    )
    assert off.depth_reporter is None
    asyncio.run(runtime.close())
    asyncio.run(off.close())


def assert_valid_emf(line: str, *, namespace: str, service: str) -> int:
    """Checks ``line`` against the EMF specification; returns the metric's value.

    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
    """
    assert "\n" not in line
    document = json.loads(line)
    metadata = document["_aws"]
    assert isinstance(metadata["Timestamp"], int)
    assert abs(metadata["Timestamp"] - time.time() * 1000) < 60_000  # epoch milliseconds
    [directive] = metadata["CloudWatchMetrics"]
    assert directive["Namespace"] == namespace
    assert 1 <= len(directive["Namespace"]) <= 1024
    assert directive["Dimensions"] == [["Service"]]
    assert directive["Metrics"] == [{"Name": METRIC_NAME, "Unit": "Count"}]
    # Every referenced dimension and metric is a root member: a string and a number.
    assert document["Service"] == service
    value = document[METRIC_NAME]
    assert isinstance(value, int)
    assert value >= 0
    return value


def test_the_emf_line_follows_the_specification() -> None:
    line = emf_line(7, namespace="shop-prod", service="shop-prod")
    assert assert_valid_emf(line, namespace="shop-prod", service="shop-prod") == 7


async def test_depth_counts_the_in_process_queue_and_due_unsent_outbox_rows(
    sessions: Sessions,
) -> None:
    broker = MemoryBroker()
    lines: list[str] = []
    reporter = DepthReporter(broker, sessions, namespace="ns", service="svc", write=lines.append)
    assert await reporter.report() == 0

    for n in range(3):
        await broker.publish(JobMessage(id=f"job-{n}", job="noop", payload={"n": n}))
    async with sessions() as session, session.begin():
        enqueue(session, "noop", {"n": "due"})
        enqueue(session, "noop", {"n": "later"}, delay_seconds=3600)
    assert await reporter.report() == 3 + 1  # the row due in an hour is not backlog yet

    delivery = await broker.get(0.1)
    assert delivery is not None
    assert await reporter.depth() == 2 + 1  # a message in a worker's hands is not waiting
    assert [assert_valid_emf(line, namespace="ns", service="svc") for line in lines] == [0, 4]
