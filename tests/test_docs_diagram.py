"""The documentation's generated parts are what the Pulumi programs and the policies say today."""

import subprocess
import sys

from tests.conftest import TEMPLATE_ROOT

SCRIPT = TEMPLATE_ROOT / "scripts" / "docs-diagram"
DOCS = TEMPLATE_ROOT / "docs"
sys.path.insert(0, str(TEMPLATE_ROOT / "pulumi"))  # tenfold_infra.policies: standard library only


def test_the_committed_diagram_pictures_and_policy_table_match_the_offline_preview() -> None:
    # PNG bytes change with Graphviz's version: --check compares the picture's content as
    # text (in diagram.md), the resource counts and the policy table, and that the PNGs exist.
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (
        "the generated docs are stale: run scripts/docs-diagram and commit the result\n"
        + result.stdout
        + result.stderr
    )


def test_the_policy_table_lists_every_policy_in_order() -> None:
    from tenfold_infra.policies import CROSS_STACK, POLICIES

    table = (DOCS / "assets" / "policies-table.md").read_text()
    rows = [line.split("`")[1] for line in table.splitlines() if line.startswith("| `")]
    assert rows == [p.name for p in (*POLICIES, *CROSS_STACK)], (
        "run scripts/docs-diagram and commit the result"
    )


def test_the_check_fails_on_a_stale_file(tmp_path) -> None:
    (tmp_path / "architecture").mkdir()
    (tmp_path / "assets").mkdir()
    (tmp_path / "architecture" / "diagram.md").write_text("an old picture\n")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--docs", str(tmp_path)],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1
    assert "diagram.md" in result.stderr
    assert "run scripts/docs-diagram" in result.stderr
