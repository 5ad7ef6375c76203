"""What the docs name exists: every ``manage.py`` command, ``make`` target and environment
variable they mention, every link between them (and its anchor); every variable the code reads
is documented; every example is either run by tests/docs/test_docs_examples.py or marked, for
the reader to see, as not run and why."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import get_commands

from tests.test_settings_documented import variables_read_by_settings

from .markdown import DOCS, LANGUAGES, ROOT, code_text, examples, language, not_run_reason

SOURCE_DIRS = ["accounts", "adminpanel", "agent", "bench", "clientapi", "core", "devtools", "gateways"]
SOURCE_DIRS += ["messaging", "mysmsapio", "otp", "smsgate", "tests", "webhooks"]
# Names in capitals that the docs show in code but that are no environment variables: Android's
# and SMS Gate's constants, the synopses' placeholders, two of Django's settings named as such.
NOT_VARIABLES = {"RESULT_ERROR_NO_SERVICE", "SSE_ONLY", "ID_OR_NAME", "ID_OR_PREFIX"}
NOT_VARIABLES |= {"CELERY_BEAT_SCHEDULE", "DATA_UPLOAD_MAX_MEMORY_SIZE"}


def _doc_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def variables_read_anywhere() -> set[str]:
    """Environment variables our code, the compose file, the Caddyfile and .env.example read."""
    names = variables_read_by_settings()
    pattern = re.compile(r"""os\.(?:environ\.get\(|environ\[|getenv\()\s*["']([A-Z][A-Z0-9_]+)["']""")
    for folder in SOURCE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(pattern.findall(path.read_text()))
    names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", (ROOT / "docker-compose.yml").read_text()))
    names |= set(re.findall(r"\{\$([A-Z][A-Z0-9_]+)", (ROOT / "Caddyfile").read_text()))
    names |= set(re.findall(r"(?m)^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text()))
    return names


@pytest.mark.parametrize("path", DOCS, ids=_doc_id)
def test_every_manage_py_command_the_docs_name_exists(path):
    commands = set(get_commands())
    named = {name for text in code_text(path) for name in re.findall(r"manage\.py ([a-z_]+)", text)}
    assert named <= commands, f"no such command: {sorted(named - commands)}"


@pytest.mark.parametrize("path", DOCS, ids=_doc_id)
def test_every_make_target_the_docs_name_exists(path):
    targets = set(re.findall(r"(?m)^([a-z][a-z-]*):", (ROOT / "Makefile").read_text()))
    named = {name for text in code_text(path) for name in re.findall(r"(?:^|[\s`])make ([a-z][a-z-]*)", text)}
    assert named <= targets, f"no such make target: {sorted(named - targets)}"


@pytest.mark.parametrize("path", DOCS, ids=_doc_id)
def test_every_environment_variable_the_docs_name_is_read_by_something(path):
    known = variables_read_anywhere()
    named = set()
    for text in code_text(path):
        text = re.sub(r"\b[A-Z_]+\.md\b", "", text)  # file names (API_DOCUMENTATION.md)
        named |= set(re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", text))
    unknown = named - known - NOT_VARIABLES
    assert not unknown, f"named in {path.name} but read by nothing: {sorted(unknown)}"


def test_the_check_catches_a_variable_that_nothing_reads():
    """The known set is not everything: a misspelt variable is caught (issue 24's first
    finding: METRICS_ALLOWED_NETWORKS where the setting is METRICS_ALLOWED_IPS)."""
    known = variables_read_anywhere()
    assert "METRICS_ALLOWED_IPS" in known and "MYSMSAPIO_GATEWAY_TOKEN" in known and "SITE_ADDRESS" in known
    assert "METRICS_ALLOWED_NETWORKS" not in known | NOT_VARIABLES


def test_every_variable_the_code_reads_outside_settings_is_documented():
    """The agent's and the WSGI entry point's own variables: in the README or a doc."""
    text = "".join(path.read_text() for path in DOCS)
    pattern = re.compile(r"""os\.(?:environ\.get\(|environ\[|getenv\()\s*["']([A-Z][A-Z0-9_]+)["']""")
    for folder in ["agent", "mysmsapio", "core", "gateways", "messaging", "accounts", "webhooks", "smsgate"]:
        for source in (ROOT / folder).rglob("*.py"):
            for name in pattern.findall(source.read_text()):
                if name in ("DJANGO_SETTINGS_MODULE",):  # Django's own
                    continue
                assert f"`{name}" in text, f"{source.relative_to(ROOT)} reads {name}, which no doc names"


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings."""
    anchors = set()
    for heading in re.findall(r"(?m)^#{1,6} +(.+?) *$", path.read_text()):
        slug = re.sub(r"[^\w\- ]", "", heading.lower().replace("`", "")).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("path", [*DOCS, ROOT / "docs" / "INTEGRATION_GUIDE.md"], ids=_doc_id)
def test_links_between_the_docs_resolve(path):
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s) and mailto: not ours to check here
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        assert linked.exists(), f"{path.name} links to {target}: no such file"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{path.name} links to {target}: no such heading"


def test_every_example_runs_or_says_why_not():
    """A count per document, so that an example added to the docs is run (or marked) on
    purpose; the executed ones are run by test_docs_examples.py."""
    counts = {}
    for path in DOCS:
        found = examples(path)
        assert all(language(example) in LANGUAGES for example in found)
        marked = [example for example in found if not_run_reason(example)]
        counts[path.name] = (len(found) - len(marked), len(marked))
    assert counts == {
        "README.md": (6, 3),
        "API_DOCUMENTATION.md": (0, 0),
        "gateway-phone.md": (3, 5),
        "gateway-protocol.md": (0, 0),
        "security.md": (0, 0),
        "smsgate-clients.md": (0, 1),
        "test-mode.md": (1, 0),
        "webhooks.md": (0, 3),
    }
