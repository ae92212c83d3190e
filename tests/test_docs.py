"""The documentation site builds with --strict, warning-free, and shows what it promises."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEMPLATE_ROOT

DOCS = TEMPLATE_ROOT / "docs"
sys.path.insert(0, str(TEMPLATE_ROOT / "pulumi"))  # tenfold_infra.policies: standard library only


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site_dir = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=TEMPLATE_ROOT,
        # mkdocs-material's end-of-life banner (May 2027) is not a build warning.
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    warnings = [line for line in output.splitlines() if "WARNING" in line]
    assert not warnings, "mkdocs printed warnings:\n" + "\n".join(warnings)
    return site_dir


def test_every_page_in_the_nav_is_built(site: Path) -> None:
    pages = [p.relative_to(DOCS) for p in DOCS.rglob("*.md")]
    fragments = {
        Path("architecture/diagram.md"),
        Path("assets/benchmarks-table.md"),
        Path("assets/policies-table.md"),
        Path("assets/stack-keys-table.md"),
    }
    # use_directory_urls: practices/caching.md -> practices/caching/index.html,
    # practices/index.md -> practices/index.html.
    built = {
        page: site / (page.parent if page.stem == "index" else page.with_suffix("")) / "index.html"
        for page in pages
        if page not in fragments
    }
    missing = [str(page) for page, html in built.items() if not html.is_file()]
    assert not missing, f"pages not built: {missing}"


def test_the_architecture_page_shows_the_pictures_without_javascript(site: Path) -> None:
    html = (site / "architecture" / "index.html").read_text()
    for stack in ("prod", "dev"):
        assert f'src="../assets/architecture-{stack}.png"' in html
        assert (site / "assets" / f"architecture-{stack}.png").read_bytes()[:4] == b"\x89PNG"
    # The picture's text alternative, and no diagram that needs a script from a CDN to show.
    assert "RDS PostgreSQL" in html
    assert 'class="mermaid"' not in html


def test_the_deploy_page_lists_every_policy(site: Path) -> None:
    from tenfold_infra.policies import CROSS_STACK, POLICIES

    html = (site / "deploy" / "index.html").read_text()
    missing = [p.name for p in (*POLICIES, *CROSS_STACK) if f"<code>{p.name}</code>" not in html]
    assert not missing, f"policies missing from docs/deploy.md: {missing}; run scripts/docs-diagram"


def test_practice_pages_embed_the_code_they_describe(site: Path) -> None:
    html = (site / "practices" / "caching" / "index.html").read_text()
    # An excerpt of template/app/cache.py, pulled in by pymdownx.snippets at build time.
    assert "get_or_load" in html
    assert "CACHE_TTL_SECONDS" in html


def test_the_benchmark_page_shows_the_chart_and_the_table(site: Path) -> None:
    html = (site / "benchmarks" / "index.html").read_text()
    assert "assets/benchmarks.png" in html
    assert (site / "assets" / "benchmarks.png").is_file()
    assert "<table>" in html


def test_no_page_is_left_unfinished() -> None:
    unfinished = [
        f"{page.relative_to(DOCS)}:{number}"
        for page in DOCS.rglob("*.md")
        for number, line in enumerate(page.read_text().splitlines(), 1)
        if "TODO" in line or "TBD" in line or "lorem ipsum" in line.lower()
    ]
    assert not unfinished, f"unfinished text at {unfinished}"


def test_the_readme_links_the_documentation() -> None:
    readme = (TEMPLATE_ROOT / "README.md").read_text()
    assert "make docs" in readme
    assert "docs/" in readme


def test_each_practice_page_says_what_why_settings_how_to_verify_and_where() -> None:
    pages = sorted((DOCS / "practices").glob("*.md"))
    practices = [page for page in pages if page.name != "index.md"]
    assert len(practices) == 10
    sections = ("## What", "## Why", "## Settings", "## Verify", "## Code")
    incomplete = {
        page.name: [s for s in sections if f"\n{s}\n" not in page.read_text()] for page in practices
    }
    assert not {name: gaps for name, gaps in incomplete.items() if gaps}
