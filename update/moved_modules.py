"""Carry a service's own edits of moved app modules to their new paths during `copier update`.

Copier deletes a file that the new template version no longer has, even when the user
edited it, and renders the file's new path from the template alone: edits would be lost
without a word. This script runs after an update that crosses 0.4.0, the version that moved
the modules (a Copier migration keyed to that version, see copier.yml), in the updated
service. For every module in ``MOVES`` that the update deleted and that the
user's last commit holds, it three-way merges, into the new path:

- base: the module as the template last rendered it (``git show <from>:template/<old>``
  in the template's clone),
- the user's version (``git show HEAD:<old>``),
- the new path as the update just wrote it.

An untouched module needs nothing: the update already moved it. An edit the template did
not touch lands cleanly in the new file; an edit of lines the template changed or moved
away leaves git's conflict markers there, with the path marked unmerged in the index, as
Copier marks its own conflicts. Nothing is lost either way: without a base, the user's
file is restored at its old path. It ends by listing the service's other files that still
import an old module path.

Usage (Copier fills in the arguments): moved_modules.py TEMPLATE_CLONE FROM_REF
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

# old path -> (new path, where the parts that did not stay with the module went)
MOVES: dict[str, tuple[str, str]] = {
    "app/ttl_store.py": ("app/stores/memory.py", "TTLStore is now in app/stores/__init__.py"),
    "app/redis_store.py": ("app/stores/redis.py", "create_store is now in app/stores/__init__.py"),
    "app/http_cache.py": (
        "app/http/cache_control.py",
        "public_cache_control is now in app/api/deps.py",
    ),
    "app/logging.py": ("app/observability/logging.py", ""),
    "app/metrics.py": ("app/observability/metrics.py", ""),
    "app/tracing.py": ("app/observability/tracing.py", ""),
    "app/profiling.py": ("app/observability/profiling.py", ""),
    "app/request_context.py": ("app/observability/request_context.py", ""),
    "app/fieldsets.py": ("app/schemas/fieldsets.py", ""),
    "app/static_files.py": ("app/api/static_files.py", ""),
    "app/pagination.py": ("app/db/pagination.py", "page_request is now in app/api/deps.py"),
    "app/state.py": ("app/resources.py", "resources_of is now in app/api/deps.py"),
    "app/auth/dependencies.py": ("app/api/deps.py", ""),
}
LABELS = ("before updating", "last update", "after updating")  # as Copier labels conflicts


def git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", *args], cwd=cwd, input=stdin, check=True, capture_output=True
    ).stdout


def committed(path: str, ref: str, cwd: Path | None = None) -> bytes | None:
    try:
        return git("show", f"{ref}:{path}", cwd=cwd)
    except subprocess.CalledProcessError:
        return None


def merge(base: bytes, ours: bytes, theirs: bytes, target: Path) -> bool:
    """Write the three-way merge into ``target``; True when it has conflicts."""
    with tempfile.TemporaryDirectory() as scratch:
        files = [Path(scratch, side) for side in ("ours", "base", "theirs")]
        for file, content in zip(files, (ours, base, theirs), strict=True):
            file.write_bytes(content)
        labels = [arg for label in LABELS for arg in ("-L", label)]
        result = subprocess.run(
            ["git", "merge-file", *labels, "-p", *map(str, files)],
            check=False,
            capture_output=True,
        )
    if result.returncode < 0 or result.returncode > 127:
        raise RuntimeError(f"git merge-file failed: {result.stderr.decode()}")
    target.write_bytes(result.stdout)
    return result.returncode > 0


def mark_unmerged(path: str, base: bytes, ours: bytes, theirs: bytes) -> None:
    """Record the three sides in the index, so `git status` shows the path as unmerged."""
    mode = "100644"
    blobs = [
        git("hash-object", "-w", "--stdin", stdin=side).decode().strip()
        for side in (base, ours, theirs)
    ]
    entries = [f"0 {'0' * 40}\t{path}"] + [
        f"{mode} {blob} {stage}\t{path}" for stage, blob in enumerate(blobs, 1)
    ]
    git("update-index", "--index-info", stdin="\n".join(entries).encode() + b"\n")


def carry_edits(template: Path, from_ref: str) -> list[str]:
    """Merge the user's edits of each moved module; return what to tell the user."""
    notes = []
    for old, (new, elsewhere) in MOVES.items():
        ours = committed(old, "HEAD")
        if ours is None or Path(old).exists() or not Path(new).exists():
            continue  # not in this service, or not moved by this update
        base = committed(f"template/{old}", from_ref, cwd=template)
        if base is None:
            Path(old).write_bytes(ours)
            notes.append(f"{old}: restored (your version); move your edits into {new} by hand")
            continue
        if ours == base:
            continue  # untouched: the update moved it
        theirs = Path(new).read_bytes()
        also = f"; {elsewhere}" if elsewhere else ""
        if merge(base, ours, theirs, Path(new)):
            mark_unmerged(new, base, ours, theirs)
            notes.append(f"{old} -> {new}: CONFLICT, resolve the markers{also}")
        else:
            notes.append(f"{old} -> {new}: your edits were merged{also}")
    return notes


def stale_imports() -> list[str]:
    """The service's files that still import a module by its old path."""
    dotted = [old.removesuffix(".py").replace("/", ".") for old in MOVES]
    pattern = re.compile(rf"^\s*(?:from|import)\s+({'|'.join(map(re.escape, dotted))})\b", re.M)
    tracked = git("ls-files", "-z", "--", "*.py").decode().split("\0")
    found = []
    for path in sorted(filter(None, tracked)):
        if Path(path).is_file():
            modules = sorted(set(pattern.findall(Path(path).read_text(errors="replace"))))
            found += [f"{path}: imports {', '.join(modules)}"] if modules else []
    return found


def main() -> None:
    template, from_ref = Path(sys.argv[1]), sys.argv[2]
    notes = carry_edits(template, from_ref)
    stale = stale_imports()
    if not notes and not stale:
        return
    out = sys.stderr
    out.write("\nModules of app/ moved (docs/update.md lists every move):\n")
    out.writelines(f"  {note}\n" for note in notes)
    if stale:
        out.write("Files that still import an old module path (update these imports):\n")
        out.writelines(f"  {line}\n" for line in stale)


if __name__ == "__main__":
    main()
