"""Release tenfold from CHANGELOG.md (the workflow .github/workflows/release.yml runs this).

    python -m release check                  # CHANGELOG.md and this checkout's version strings
    python -m release notes 0.5.0            # that version's section: the GitHub release's body
    python -m release plan --ref main        # the tags to create, "vX.Y.Z <commit>" a line
    python -m release plan --ref main --version 0.5.0

Exits 1 with what is wrong and how to fix it; nothing is tagged by this module itself.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from release import versions
from release.changelog import CHANGELOG, ChangelogError, read
from release.plan import Repository, plan

ROOT = CHANGELOG.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m release", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="check CHANGELOG.md and the version strings")
    notes = commands.add_parser("notes", help="print a version's section of CHANGELOG.md")
    notes.add_argument("version", help="X.Y.Z, as headed in CHANGELOG.md")
    tags = commands.add_parser("plan", help="print the tags a release creates")
    tags.add_argument("--ref", default="HEAD", help="the commit being released (default HEAD)")
    tags.add_argument("--version", help="release only this version (default: every one due)")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            changelog = read()
            versions.check(changelog.latest.version, lambda path: (ROOT / path).read_text())
            print(f"CHANGELOG.md and the version strings agree on {changelog.latest.version}")
        elif args.command == "notes":
            print(read().release(args.version).notes)
        else:
            for tag in plan(Repository(Path.cwd()), args.ref, args.version or None):
                print(tag)
    except ChangelogError as error:
        prefix = "::error::" if os.environ.get("GITHUB_ACTIONS") == "true" else "release: "
        print(f"{prefix}{error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
