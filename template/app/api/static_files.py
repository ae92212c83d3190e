"""Static assets with content-hashed names, so browsers and the CDN may keep them forever.

At startup every file under app/static/ gets a name with a hash of its content
(``app.css`` -> ``app.3f2a9c1b0d4e.css``); ``StaticAssets.url`` gives the public URL
under STATIC_URL (the app's /static, or the CDN). A changed file gets a new name, so
``Cache-Control: public, max-age=31536000, immutable`` is safe. Unhashed names still
work but must be revalidated. ``python -m app.api.static_files DIR`` writes the hashed files
into DIR, for uploading to the CDN's bucket.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import FileResponse

from app.api.deps import resources_of

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=0, must-revalidate"
HASH_LENGTH = 12

router = APIRouter(tags=["static"])


class StaticAssets:
    def __init__(self, directory: Path = STATIC_DIR, *, url_prefix: str = "/static") -> None:
        self.url_prefix = url_prefix.rstrip("/")
        self.manifest: dict[str, str] = {}  # logical name -> hashed name
        self.files: dict[str, Path] = {}  # hashed or logical name -> file
        for path in sorted(directory.rglob("*")):
            if not path.is_file():
                continue
            logical = path.relative_to(directory).as_posix()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:HASH_LENGTH]
            stem, dot, suffix = logical.rpartition(".")
            hashed = f"{stem}.{digest}.{suffix}" if dot else f"{logical}.{digest}"
            self.manifest[logical] = hashed
            self.files[hashed] = self.files[logical] = path

    def url(self, logical_name: str) -> str:
        """The public URL of an asset; KeyError for an unknown name."""
        return f"{self.url_prefix}/{self.manifest[logical_name]}"

    def is_hashed(self, name: str) -> bool:
        return name in self.files and name not in self.manifest

    def export(self, target: Path) -> None:
        for logical, hashed in self.manifest.items():
            destination = target / hashed
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.files[logical], destination)


@router.get("/static/{name:path}", include_in_schema=False)
async def static_file(name: str, request: Request) -> FileResponse:
    assets = resources_of(request).static_assets
    path = assets.files.get(name)
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such static file")
    cache_control = IMMUTABLE if assets.is_hashed(name) else REVALIDATE
    return FileResponse(path, headers={"Cache-Control": cache_control})


if __name__ == "__main__":
    StaticAssets().export(Path(sys.argv[1]))
