"""Generated credentials kept in Secrets Manager, so tasks read them at start and nobody types them.

pulumi_random generates the value once and keeps it in the (encrypted) stack state, so it is
stable across `pulumi up` runs; `aws.secretsmanager.get_random_password` would change on every run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi_aws as aws
import pulumi_random as random

import pulumi


@dataclass(frozen=True)
class GeneratedSecretArgs:
    description: str
    length: int = 48
    # Letters and digits only: auth tokens and AMQP passwords forbid many symbols (@ : , = / ").
    special: bool = False
    # Days a deleted secret can be restored; 0 deletes at once (dev stacks are torn down often).
    recovery_window_days: int = 7
    tags: Mapping[str, str] = field(default_factory=dict)


class GeneratedSecret(pulumi.ComponentResource):
    arn: pulumi.Output[str]
    value: pulumi.Output[str]

    def __init__(
        self, name: str, args: GeneratedSecretArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:secret:GeneratedSecret", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        password = random.RandomPassword(name, length=args.length, special=args.special, opts=child)
        secret = aws.secretsmanager.Secret(
            name,
            description=args.description,
            recovery_window_in_days=args.recovery_window_days,
            tags=dict(args.tags),
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            name, secret_id=secret.id, secret_string=password.result, opts=child
        )
        self.arn = secret.arn
        self.value = pulumi.Output.secret(password.result)
        self.register_outputs({"arn": self.arn})
