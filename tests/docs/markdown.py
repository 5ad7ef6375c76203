"""The docs as the tests read them: README.md and docs/*.md (the integration guide aside: the
guide's own tests run its examples), their fenced examples found by Sybil's Markdown lexer,
and the marks that say, visibly to the reader, which examples cannot run here."""

from __future__ import annotations

import re
from pathlib import Path

from sybil import Document, Example
from sybil.parsers.markdown import CodeBlockParser

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "INTEGRATION_GUIDE.md"
DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p != GUIDE)]
# The examples a reader pastes: shell commands, HTTP requests and Python.
SHELLS = ("bash", "sh", "shell", "console")
LANGUAGES = (*SHELLS, "http", "python")
# Written just above an example that cannot run here (a real phone, Docker, a public name),
# in italics so that the reader sees it too.
NOT_RUN = re.compile(r"\*Not run by the docs tests: ([^*]+)\*\)?\s*$")


def examples(path: Path) -> list[Example]:
    """The document's examples, in order, each a Sybil example whose ``parsed`` is its text."""
    document = Document.parse(str(path), *(CodeBlockParser(language) for language in LANGUAGES))
    return list(document.examples())


def language(example: Example) -> str:
    return example.region.lexemes["arguments"]


def not_run_reason(example: Example) -> str | None:
    """The reason given above the example for not running it, or None."""
    before = example.document.text[: example.region.start].rstrip("\n")
    last_paragraph_line = before.rsplit("\n", 1)[-1]
    match = NOT_RUN.search(last_paragraph_line)
    return match.group(1).strip() if match else None


def code_text(path: Path) -> list[str]:
    """Every fenced block and inline code span of a document: where it names commands,
    variables and targets."""
    text = path.read_text()
    blocks = re.findall(r"```.*?```", text, flags=re.S)
    spans = re.findall(r"`[^`\n]+`", re.sub(r"```.*?```", "", text, flags=re.S))
    return blocks + spans
