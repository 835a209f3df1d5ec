"""Generated docs must match the code they describe."""

from pathlib import Path

from visage.config import reference_markdown


def test_configuration_reference_is_current() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    assert doc.read_text() == reference_markdown(), "run: visage config > docs/configuration.md"
