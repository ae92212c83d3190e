"""`python -m tenfold_infra preview --stack prod [--json] [--out DIR]`: the offline preview from infra/.

`python -m tenfold_infra keys`: the table of stack keys and their tier defaults (Markdown).

`python -m tenfold_infra capacity --rps N`: size the stack for a request rate (capacity.py).

`python -m tenfold_infra cost-refresh [--from-feeds DIR]`: rebuild the price snapshot.

`python -m tenfold_infra cost-diff --base DIR --head DIR`: the monthly cost change between two
checkouts (the pull request's cost comment).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .config import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tenfold_infra", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    preview = commands.add_parser(
        "preview", help="show the resources, policy findings, outputs and diagram of a stack"
    )
    preview.add_argument(
        "--stack", required=True, help="stack name, reads Pulumi.<stack>.yaml (dev, prod...)"
    )
    preview.add_argument(
        "--json", action="store_true", help="print one JSON object instead of text"
    )
    preview.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="directory with Pulumi.yaml (default: . for the service, bootstrap for the bootstrap)",
    )
    preview.add_argument(
        "--project",
        choices=("service", "bootstrap"),
        default="service",
        help="the service's stacks, or the one-time account bootstrap in bootstrap/",
    )
    preview.add_argument(
        "--out",
        type=Path,
        help="also write plan.txt, preview.json, architecture.{mmd,txt,png,svg} into this folder",
    )
    commands.add_parser("keys", help="print every stack key with its dev and prod default")
    _cost_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "keys":
        from .config import keys_table

        print(keys_table(), end="")
        return 0
    if args.command == "capacity":
        from .capacity_cli import run as capacity

        return capacity(args)
    if args.command == "cost-refresh":
        return _cost_refresh(args)
    if args.command == "cost-diff":
        from .cost.diff import main as cost_diff

        return cost_diff(args)
    if args.project == "bootstrap":
        from .bootstrap_preview import main as preview_bootstrap

        return preview_bootstrap(args.dir or Path("bootstrap"), args.stack, args.json)
    args.dir = args.dir or Path(".")

    from .preview import render_text, run_preview, write_out

    try:
        result = run_preview(args.dir, args.stack)
    except ConfigError as error:
        print(f"error: invalid stack config: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_json(), indent=2) if args.json else render_text(result))
    if args.out:
        for line in write_out(result, args.out):
            print(
                line if line.startswith("architecture picture skipped") else f"wrote {line}",
                file=sys.stderr,
            )
    if not result.passed:
        failed = ", ".join(f.name for f in result.findings if not f.passed)
        print(f"error: policy check failed: {failed}", file=sys.stderr)
    # A required key left unset fails as an invalid config does, after the plan was shown.
    for message in result.missing_config:
        print(f"error: invalid stack config: {message}", file=sys.stderr)
    if result.missing_config:
        return 2
    return 0 if result.passed else 1


def _cost_commands(commands: Any) -> None:
    capacity = commands.add_parser(
        "capacity", help="size the stack for a request rate from the CPU time a request costs"
    )
    capacity.add_argument("--rps", type=float, required=True, help="peak requests per second")
    capacity.add_argument("--read-share", type=float, default=0.9, help="share of reads (0.9)")
    capacity.add_argument("--p99-ms", type=float, default=100.0, help="p99 latency target (100)")
    capacity.add_argument("--stack", default="prod", help="Pulumi.<stack>.yaml to diff (prod)")
    capacity.add_argument("--dir", type=Path, default=Path("."), help="infra/ directory (.)")
    capacity.add_argument(
        "--bench",
        type=Path,
        default=None,
        help="a `make bench` results.json (default: the published results, bench_published.json)",
    )
    capacity.add_argument("--apply", action="store_true", help="write the plan into the stack file")
    capacity.add_argument("--no-cost", action="store_true", help="skip the plan's cost estimate")
    refresh = commands.add_parser(
        "cost-refresh",
        help="rebuild the price snapshot from the AWS Price List bulk offer files (online), "
        "or from a folder of AWS's pricing-page feeds (--from-feeds)",
    )
    refresh.add_argument(
        "--region",
        action="append",
        help="region to refresh (repeatable; default: every supported one)",
    )
    refresh.add_argument(
        "--from-feeds",
        type=Path,
        metavar="DIR",
        help="read AWS's pricing-page feeds (meteredUnitMaps JSON) from DIR instead of the "
        "Price List; figures from the offer files stay",
    )
    refresh.add_argument(
        "--instance-type",
        action="append",
        default=[],
        help="also carry this RDS, ElastiCache or Amazon MQ type (repeatable; kept by later "
        "refreshes)",
    )
    diff = commands.add_parser(
        "cost-diff",
        help="monthly cost of each stack before (--base) and after (--head), itemised where "
        "it differs",
    )
    diff.add_argument("--base", type=Path, required=True, help="the base checkout's infra/")
    diff.add_argument("--head", type=Path, default=Path("."), help="this checkout's infra/ (.)")
    diff.add_argument(
        "--stack",
        action="append",
        help="stack to compare (repeatable; default: every Pulumi.<stack>.yaml in either)",
    )
    diff.add_argument(
        "--format", choices=("text", "markdown", "json"), default="text", help="output format"
    )


def _cost_refresh(args: Any) -> int:
    from .cost.keys import REGIONS, sold_anywhere

    unknown = sorted(set(args.region or ()) - set(REGIONS))
    if unknown:
        print(
            f"error: {', '.join(unknown)} is not a region the template supports: "
            f"choose from {', '.join(REGIONS)}",
            file=sys.stderr,
        )
        return 2
    unsold = [t for t in args.instance_type if not sold_anywhere(t)]
    if unsold:
        print(
            f"error: {', '.join(unsold)} is not an RDS for PostgreSQL, ElastiCache or Amazon MQ "
            "instance type AWS sells (policies/instance_types.json, from cfn-lint): check the "
            "spelling, such as db.m7g.large or cache.m7g.large",
            file=sys.stderr,
        )
        return 2
    if args.from_feeds is None:
        from .cost.refresh import main as refresh

        return refresh(args.region, args.instance_type)
    from .cost.feeds import main as from_feeds

    return from_feeds(args.from_feeds, args.region, args.instance_type)


if __name__ == "__main__":
    sys.exit(main())
