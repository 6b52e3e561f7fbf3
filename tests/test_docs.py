"""The configuration reference in docs/ is generated from the schema: keep it current."""

from pathlib import Path

from clinitui.config.reference import render_markdown


def test_configuration_reference_is_current():
    doc = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
    assert doc.read_text(encoding="utf-8") == render_markdown(), (
        "docs/configuration.md is stale: run `python -m clinitui.config.reference > docs/configuration.md`"
    )
