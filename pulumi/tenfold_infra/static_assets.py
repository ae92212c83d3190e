"""Static assets: the service's app/static files in the CDN's bucket, under the keys STATIC_URL expects.

The app (app/static_files.py) names every asset `<stem>.<12 hex of sha256>.<suffix>` and
links to `<STATIC_URL>/<hashed name>`; CloudFront sends `/static/*` to the bucket with the
path as the key. Each file is therefore uploaded twice: its hashed key, cached for a year
and immutable (a new content gets a new name), and its plain key, revalidated on every use.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pulumi_aws as aws

import pulumi

# Relative to the infra project (where `pulumi up` runs): the generated service's assets.
STATIC_DIRECTORY = "../app/static"
KEY_PREFIX = "static"
# The same digest length and cache headers as app/static_files.py.
HASH_LENGTH = 12
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=0, must-revalidate"
# Types the standard library may not know on a bare machine.
CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
}


@dataclass(frozen=True)
class Asset:
    key: str
    path: Path
    content_type: str
    cache_control: str


def hashed_name(logical: str, content: bytes) -> str:
    """`app.css` -> `app.<digest>.css`, exactly as app/static_files.py names it."""
    digest = hashlib.sha256(content).hexdigest()[:HASH_LENGTH]
    stem, dot, suffix = logical.rpartition(".")
    return f"{stem}.{digest}.{suffix}" if dot else f"{logical}.{digest}"


def content_type(path: Path) -> str:
    known = CONTENT_TYPES.get(path.suffix.lower())
    return known or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def assets(directory: Path) -> Iterator[Asset]:
    for path in sorted(directory.rglob("*")):
        if not path.is_file():
            continue
        logical = path.relative_to(directory).as_posix()
        kind = content_type(path)
        yield Asset(
            f"{KEY_PREFIX}/{hashed_name(logical, path.read_bytes())}", path, kind, IMMUTABLE
        )
        yield Asset(f"{KEY_PREFIX}/{logical}", path, kind, REVALIDATE)


@dataclass(frozen=True)
class StaticAssetsArgs:
    bucket_id: pulumi.Input[str]
    directory: str = STATIC_DIRECTORY


class StaticAssets(pulumi.ComponentResource):
    keys: list[str]

    def __init__(
        self, name: str, args: StaticAssetsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:static_assets:StaticAssets", name, None, opts)
        directory = Path(args.directory)
        self.keys = []
        if not directory.is_dir():
            # The policy cdn-static-assets-uploaded then fails the preview with the fix.
            pulumi.log.warn(
                f"static directory {directory.resolve()} does not exist, the CDN bucket stays "
                "empty (/static/* answers 403): run pulumi from the service's infra/ directory",
                self,
            )
        for asset in assets(directory) if directory.is_dir() else ():
            aws.s3.BucketObjectv2(
                f"{name}-{asset.key}",
                bucket=args.bucket_id,
                key=asset.key,
                source=pulumi.FileAsset(str(asset.path)),
                content_type=asset.content_type,
                cache_control=asset.cache_control,
                # The content hash makes Pulumi upload a changed file again.
                source_hash=hashlib.sha256(asset.path.read_bytes()).hexdigest(),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.keys.append(asset.key)
        self.register_outputs({"keys": self.keys})
