"""Write pulumi/tenfold_infra/policies/instance_types.json from cfn-lint's region data.

cfn-lint ships, per region, the instance types CloudFormation accepts for RDS (per engine),
ElastiCache and Amazon MQ, kept current from AWS's own pricing and service data. The
policies read a compact copy (the policy pack must import nothing outside the standard
library); tests/infra/test_instance_types.py fails when the copy and cfn-lint disagree.

    .venv/bin/python scripts/instance_types.py     # after upgrading cfn-lint
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

OUTPUT = (
    Path(__file__).resolve().parents[1]
    / "pulumi"
    / "tenfold_infra"
    / "policies"
    / "instance_types.json"
)
RDS_ENGINE = "postgres"
# Partitions a tenfold stack cannot target (copier offers commercial regions only).
OTHER_PARTITIONS = ("cn-", "us-gov-", "us-iso")


def _schema(extension: str, name: str) -> dict[str, Any]:
    root = resources.files("cfnlint") / "data" / "schemas" / "extensions" / extension / name
    return json.loads(root.read_text())  # type: ignore[no-any-return]


def _rds(engine: str) -> dict[str, set[str]]:
    """DB instance classes per region for `engine` (any license model)."""
    by_region: dict[str, set[str]] = {}
    for region, schema in _schema("aws_rds_dbinstance", "dbinstanceclass_enum.json").items():
        if not isinstance(schema, dict):
            continue
        classes: set[str] = set()
        for rule in schema.get("allOf", []):
            if (rule["if"]["properties"].get("Engine") or {}).get("const") == engine:
                classes |= set(rule["then"]["properties"]["DBInstanceClass"]["enum"])
        by_region[region] = classes
    return by_region


def _enum(extension: str, name: str) -> dict[str, set[str]]:
    return {
        region: set(s["enum"])
        for region, s in _schema(extension, name).items()
        if isinstance(s, dict) and "enum" in s  # skips the file's "description"
    }


def _compact(by_region: dict[str, set[str]]) -> dict[str, Any]:
    """Each type once, with whichever list is shorter: the regions that sell it (`only`),
    or the regions that do not (`except`, empty when sold everywhere)."""
    regions = sorted(r for r in by_region if not r.startswith(OTHER_PARTITIONS))
    only: dict[str, list[str]] = {}
    except_: dict[str, list[str]] = {}
    for t in sorted(set().union(*(by_region[r] for r in regions))):
        selling = [r for r in regions if t in by_region[r]]
        if len(selling) * 2 < len(regions):
            only[t] = selling
        else:
            except_[t] = [r for r in regions if r not in selling]
    return {"regions": regions, "only": only, "except": except_}


def build() -> dict[str, Any]:
    from cfnlint.version import __version__

    return {
        "source": f"cfn-lint {__version__} (cfnlint/data/schemas/extensions)",
        "rds": {RDS_ENGINE: _compact(_rds(RDS_ENGINE))},
        "elasticache": _compact(_enum("aws_elasticache_cachecluster", "cachenodetype_enum.json")),
        "mq": _compact(_enum("aws_amazonmq_broker", "instancetype_enum.json")),
    }


def render(data: dict[str, Any]) -> str:
    """One type a line, its regions folded onto it: a cfn-lint upgrade reads as a small diff."""
    text = json.dumps(data, indent=1, sort_keys=True)
    return (
        re.sub(r"\[([^\[\]{}]*)\]", lambda m: "[" + re.sub(r"\s*\n\s*", "", m[1]) + "]", text)
        + "\n"
    )


if __name__ == "__main__":
    OUTPUT.write_text(render(build()))
    print(f"wrote {OUTPUT}")
