"""Zero failed requests and zero lost jobs while instances, replica, Redis and broker fail.

Needs a running topology (``make topology-up``); ``make test-faults`` runs it. See
tests/topology/load.py for the load and the faults.
"""

from __future__ import annotations

import os

import pytest

from tests.topology.load import FAULTS, FaultRun
from tests.topology.state import running_topology

pytestmark = pytest.mark.topology


async def test_no_request_fails_and_no_job_is_lost_while_faults_are_injected() -> None:
    if not os.environ.get("TOPOLOGY_REQUIRED"):
        # It restarts servers and loads the machine for ~40 s: never as a side effect of `pytest`.
        pytest.skip("the fault run only runs when asked for: `make test-faults`")
    topology = running_topology()
    report = await FaultRun(topology).run()
    print("\n" + "\n".join(report.lines()))  # noqa: T201 - the run's figures are its output

    assert report.requests > 0
    assert [name for name, _seconds in report.faults] == [fault.name for fault in FAULTS]
    assert report.failed == 0, "\n".join(report.lines())
    assert report.created, "no item was created: the load wrote nothing"
    assert report.items_without_job == 0, "\n".join(report.lines())
    assert report.jobs_enqueued == len(report.created), "\n".join(report.lines())
    assert report.jobs_lost == 0, "\n".join(report.lines())
    assert report.jobs_duplicated == 0, "\n".join(report.lines())
    assert report.effects_missing == 0, "\n".join(report.lines())
