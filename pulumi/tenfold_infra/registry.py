"""ECR and the service image: `pulumi up` builds ../Dockerfile, pushes it, and the tasks run that tag.

The tag comes from the content (git commit, plus a hash of uncommitted changes), never
`latest`: the repository's tags are immutable, so a tag names one image for good, a rollback
is a redeploy of an older tag, and ECS never pulls something other than what was previewed.
A user who builds elsewhere sets the stack config key `image` and no build happens.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pulumi_aws as aws
import pulumi_docker_build as docker_build

import pulumi

# Never part of the image's content: caches, virtualenvs, the infra's own state.
IGNORED_DIRECTORIES = frozenset(
    {
        ".git",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "infra",
        "build",
    }
)
PLATFORMS = {
    "ARM64": docker_build.Platform.LINUX_ARM64,
    "X86_64": docker_build.Platform.LINUX_AMD64,
}


@dataclass(frozen=True)
class RegistryArgs:
    # The service's (ServiceSettings.cpu_architecture): the image must run on its tasks.
    cpu_architecture: Literal["ARM64", "X86_64"]
    # The service's root (the Dockerfile's build context), relative to infra/ where Pulumi runs.
    context: str = ".."
    dockerfile: str = "../Dockerfile"
    # Images kept per repository; older ones expire (a rollback needs only the last few).
    keep_images: int = 30
    # Days an untagged image (a superseded build layer) is kept.
    untagged_days: int = 1
    # dev stacks are torn down often: let `pulumi destroy` delete a repository that holds images.
    force_delete: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


class Registry(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]
    image: pulumi.Output[str]
    tag: str

    def __init__(
        self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:registry:Registry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        repository = image_repository(
            name,
            keep_images=args.keep_images,
            untagged_days=args.untagged_days,
            force_delete=args.force_delete,
            tags=args.tags,
            opts=child,
        )
        self.tag = content_tag(Path(args.context))
        self.repository_url = repository.repository_url
        reference = pulumi.Output.concat(repository.repository_url, ":", self.tag)
        token = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id)
        image = docker_build.Image(
            f"{name}-image",
            context=docker_build.BuildContextArgs(location=args.context),
            dockerfile=docker_build.DockerfileArgs(location=args.dockerfile),
            platforms=[PLATFORMS[args.cpu_architecture]],
            tags=[reference],
            push=True,
            # `pulumi preview` stays fast and needs no Docker; `pulumi up` builds and pushes.
            build_on_preview=False,
            registries=[
                docker_build.RegistryArgs(
                    address=repository.repository_url,
                    username=token.user_name,
                    password=token.password,
                )
            ],
            opts=child,
        )
        # Read through the image's own output: the task definitions then wait for the push.
        self.image = image.tags.apply(lambda pushed: (pushed or [""])[0])
        self.register_outputs({"repository_url": self.repository_url, "image": self.image})


def image_repository(
    name: str,
    *,
    keep_images: int,
    untagged_days: int,
    force_delete: bool,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.ecr.Repository:
    """An ECR repository with immutable tags, scan on push and the lifecycle below: the one the
    stack builds into, and the bootstrap's release repository that CI pushes to."""
    repository = aws.ecr.Repository(
        f"{name}-images",
        name=name.lower(),
        image_tag_mutability="IMMUTABLE",
        image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
            scan_on_push=True
        ),
        encryption_configurations=[
            aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="AES256")
        ],
        force_delete=force_delete,
        tags=dict(tags),
        opts=opts,
    )
    aws.ecr.LifecyclePolicy(
        f"{name}-images",
        repository=repository.name,
        policy=json.dumps(lifecycle_policy(keep_images, untagged_days)),
        opts=opts,
    )
    return repository


def lifecycle_policy(keep_images: int, untagged_days: int) -> dict[str, object]:
    """Untagged layers go after a day; of the tagged images, the newest `keep_images` stay."""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": "Untagged images are leftovers of superseded builds",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": untagged_days,
                },
                "action": {"type": "expire"},
            },
            {
                # tagStatus any must have the lowest priority (the highest number).
                "rulePriority": 2,
                "description": f"Keep the last {keep_images} images: enough to roll back",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": keep_images,
                },
                "action": {"type": "expire"},
            },
        ]
    }


def content_tag(context: Path) -> str:
    """`<commit>` for a clean checkout, `<commit>-<hash of the changes>` for a dirty one.

    Without git (a fresh render), a hash of the build context's files. The same content
    always gives the same tag, so an unchanged service is never rebuilt or re-pushed (an
    immutable repository refuses a second push of a tag).
    """
    git = _git(context, "rev-parse", "--short=12", "HEAD")
    if git is not None:
        # infra/ is not in the image: editing a stack file must not rebuild it.
        outside_infra = ("--", ".", ":(exclude)infra")
        changes = _git(context, "status", "--porcelain", "--untracked-files=all", *outside_infra)
        if not changes:
            return git
        diff = _git(context, "diff", "HEAD", *outside_infra) or ""
        return f"{git}-{hashlib.sha256((changes + diff).encode()).hexdigest()[:8]}"
    digest = hashlib.sha256()
    for path in sorted(_files(context)):
        digest.update(str(path.relative_to(context)).encode())
        digest.update(path.read_bytes())
    return f"src-{digest.hexdigest()[:12]}"


def _files(directory: Path) -> list[Path]:
    found = []
    for path in directory.iterdir():
        if path.is_dir() and not path.is_symlink():
            if path.name not in IGNORED_DIRECTORIES:
                found += _files(path)
        elif path.is_file():
            found.append(path)
    return found


def _git(directory: Path, *command: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(directory), *command],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
