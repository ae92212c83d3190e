"""`python -m tenfold_infra capacity`: print a plan, its config diff and cost; --apply writes it."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from .capacity import (
    Impossible,
    apply_to_yaml,
    changes,
    explain,
    explain_throughput,
    load_bench,
    plan,
    plan_cost,
    write_atomically,
)
from .config import ConfigError, parse_config
from .preview import read_stack_config


def run(args: argparse.Namespace) -> int:
    try:
        project, values = read_stack_config(args.dir, args.stack)
        raw = {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith(f"{project}:")}
        config = parse_config(project, args.stack, raw, values.get("aws:region"))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    stack_file = args.dir / f"Pulumi.{args.stack}.yaml"
    try:
        bench = load_bench(args.bench) if args.bench else load_bench()
        result = plan(
            args.rps,
            args.read_share,
            args.p99_ms,
            az_count=config.network.zone_count,
            broker=config.broker,
            bench=bench,
        )
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Impossible as limit:
        if limit.plan is not None:
            print("\n".join(explain_throughput(limit.plan)))
        print(f"cannot be met: {limit}", file=sys.stderr)
        return 3
    print("\n".join(explain(result)))
    current = stack_file.read_text()
    planned = apply_to_yaml(current, project, changes(result.config, config, raw))
    diff = list(
        difflib.unified_diff(
            current.splitlines(), planned.splitlines(), str(stack_file), "planned", lineterm=""
        )
    )
    print("", f"Config diff against {stack_file.name}:", *(diff or ["  (no change)"]), sep="\n")
    if not args.no_cost:
        print("", *plan_cost(Path(args.dir), args.stack, planned, args.rps), sep="\n")
    if args.apply and diff:
        write_atomically(stack_file, planned)
        print(f"\nwrote {stack_file}")
    return 0
