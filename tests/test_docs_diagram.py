"""The architecture diagram in the docs is the one the Pulumi programs draw today."""

import subprocess
import sys

from tests.conftest import TEMPLATE_ROOT

SCRIPT = TEMPLATE_ROOT / "scripts" / "docs-diagram"
COMMITTED = TEMPLATE_ROOT / "docs" / "architecture" / "diagram.md"


def test_the_committed_diagram_matches_the_offline_preview(tmp_path) -> None:
    fresh = tmp_path / "diagram.md"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--output", str(fresh)],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "flowchart LR" in fresh.read_text()
    assert fresh.read_text() == COMMITTED.read_text(), (
        "docs/architecture/diagram.md is stale: the Pulumi programs changed; "
        "run scripts/docs-diagram and commit the result"
    )
