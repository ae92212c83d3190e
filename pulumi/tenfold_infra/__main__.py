"""`python -m tenfold_infra preview --stack prod [--json] [--out DIR]`: the offline preview from infra/.

`python -m tenfold_infra keys`: the table of stack keys and their tier defaults (Markdown).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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
    args = parser.parse_args(argv)
    if args.command == "keys":
        from .config import keys_table

        print(keys_table(), end="")
        return 0
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
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
