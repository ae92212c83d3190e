"""The command line: ``python3 -m topology VERB`` (``scripts/topology`` and ``scripts/pg-pair``).

Production-like topology (settings: TOPOLOGY_* variables, see topology/config.py):

    up                   start everything (tears down again if a step fails)
    down                 stop what `up` started (by recorded PID), delete its data
    status               each process and each HAProxy backend
    env                  the state file: ports, URLs, directories
    restart-instance N   SIGTERM instance N, wait for its drain, start it again
    stop-replica | start-replica     stop/start the PostgreSQL replica
    restart-redis        stop redis-server, start it again on the same data
    stop-broker | start-broker       stop/start the RabbitMQ node (data kept)

PostgreSQL primary + streaming replica alone, for the integration tests (settings:
PG_PAIR_DIR=/tmp/tenfold-pg-pair, PG_PAIR_PRIMARY_PORT=55432, PG_PAIR_REPLICA_PORT=55433,
PG_PAIR_DATABASE=app):

    pg-pair up           create (if needed) and start both; prints the TEST_* URLs
    pg-pair down         stop both and delete their data
    pg-pair stop-replica | start-replica   (start waits until it streams again)
    pg-pair status       both servers' state
    pg-pair env          the TEST_* variables the integration tests read

The machine's own servers, for CI:

    system-servers       start PostgreSQL :5432, Redis :6379, RabbitMQ :5672 where none listens
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from topology import TopologyError, machine
from topology.config import TopologyConfig, read_state
from topology.lifecycle import Topology
from topology.postgres import PgPair
from topology.processes import Account

FAULT_VERBS: dict[str, Callable[[Topology], None]] = {
    "stop-replica": lambda topology: topology.config.pg_pair().stop_replica(),
    "start-replica": lambda topology: topology.config.pg_pair().start_replica(),
    "restart-redis": Topology.restart_redis,
    "stop-broker": Topology.stop_broker,
    "start-broker": Topology.start_broker,
}
PG_PAIR_VERBS = ("up", "down", "stop-replica", "start-replica", "status", "env")


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python3 -m topology",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = cli.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in ("up", "down", "status", "env", *FAULT_VERBS, "system-servers"):
        verbs.add_parser(verb)
    restart = verbs.add_parser("restart-instance")
    restart.add_argument("n", type=int, metavar="N", help="the instance, from 1")
    pg_pair = verbs.add_parser("pg-pair")
    pg_pair.add_argument("pg_pair_verb", choices=PG_PAIR_VERBS, metavar="|".join(PG_PAIR_VERBS))
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    environ = dict(os.environ)
    try:
        if args.verb == "pg-pair":
            return pg_pair(args.pg_pair_verb, PgPair.from_environment(environ))
        if args.verb == "system-servers":
            machine.start_missing()
            return 0
        return topology(args, environ)
    except TopologyError as error:
        prefix = "pg-pair" if args.verb == "pg-pair" else "topology"
        print(f"{prefix}: {error}", file=sys.stderr)  # noqa: T201
        return 1


def topology(args: argparse.Namespace, environ: dict[str, str]) -> int:
    if args.verb == "up":
        config = TopologyConfig.from_environment(environ)
        Topology(config, Account.service(config.user)).up()
    elif args.verb == "down":
        config = TopologyConfig.from_environment(environ)
        state = read_state(config.state_file) if config.state_file.is_file() else {}
        config = TopologyConfig.from_environment(environ | state)
        if state:
            account = Account(state["TOPOLOGY_USER"])
        else:  # `up` failed before writing its state: look for its user's processes
            account = Account(config.user) if os.geteuid() == 0 else Account.current()
        Topology(config, account).down()
    elif args.verb == "status":
        config = TopologyConfig.from_environment(environ)
        if not config.state_file.is_file():
            print(f"no topology in {config.directory}")  # noqa: T201
            return 1
        print("\n".join(Topology.running(environ).status()))  # noqa: T201
    elif args.verb == "env":
        print(Topology.running(environ).config.state_file.read_text(), end="")  # noqa: T201
    elif args.verb == "restart-instance":
        Topology.running(environ).restart_instance(args.n)
    else:
        FAULT_VERBS[args.verb](Topology.running(environ))
    return 0


def pg_pair(verb: str, pair: PgPair) -> int:
    if verb == "up":
        pair.up()
    elif verb == "down":
        pair.down()
    elif verb == "stop-replica":
        pair.stop_replica()
    elif verb == "start-replica":
        pair.start_replica()
    elif verb == "status":
        for node, running in pair.status().items():
            print(f"{node}: {'running' if running else 'stopped'}")  # noqa: T201
    if verb in {"up", "env"}:
        print("\n".join(f"{key}={value}" for key, value in pair.urls().items()))  # noqa: T201
    return 0
