"""Limits the edge must agree with, read from the service's own settings (app/settings.py).

The app refuses request bodies over MAX_REQUEST_BODY_BYTES with 413; the web ACL in front of
it must let every body up to that size through and may refuse larger ones early. The
number is written once, as the default of HttpSettings.max_request_body_bytes, and read here
from the source (the infra's environment has no pydantic to import the app with).
"""

from __future__ import annotations

import ast
from pathlib import Path

from .config import ConfigError

# app/settings.py, seen from infra/ (where `pulumi up` runs), like the image's build context.
SETTINGS_FILE = Path("..") / "app" / "settings.py"
SETTINGS_CLASS, FIELD = "HttpSettings", "max_request_body_bytes"
ENVIRONMENT_VARIABLE = "MAX_REQUEST_BODY_BYTES"


def request_body_limit(settings_file: Path = SETTINGS_FILE) -> int:
    """The default of HttpSettings.max_request_body_bytes: `Field(<bytes>, ...)` or `= <bytes>`."""
    where = f"{SETTINGS_CLASS}.{FIELD} in {settings_file}"
    try:
        tree = ast.parse(settings_file.read_text(), str(settings_file))
    except (OSError, SyntaxError) as error:
        raise ConfigError(
            f"cannot read {where} ({error}): the web ACL's body limit is the app's; run from "
            "the service's infra/ directory"
        ) from None
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ClassDef) and node.name == SETTINGS_CLASS):
            continue
        for item in node.body:
            if (
                isinstance(item, ast.AnnAssign)
                and isinstance(item.target, ast.Name)
                and item.target.id == FIELD
                and item.value is not None
            ):
                value = item.value
                if isinstance(value, ast.Call):
                    given = [
                        *value.args[:1],
                        *(k.value for k in value.keywords if k.arg == "default"),
                    ]
                    value = given[0] if given else value
                try:
                    limit = ast.literal_eval(value)
                except ValueError:
                    break
                if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
                    return limit
                break
    raise ConfigError(
        f"{where} must have a literal default in bytes, such as Field(1_048_576, ...): the "
        "web ACL refuses larger bodies at the edge and the app is told the same number"
    )
