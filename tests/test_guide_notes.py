"""The notes beside the integration guide's text (docs/INTEGRATION_GUIDE.md) say what this
server does: each is followed here as an operator would."""

from __future__ import annotations

import io
import re
import shlex

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from accounts.selectors import api_key_get_by_raw
from tests.conftest import GUIDE_NUMBER
from tests.live.helpers import GUIDE, GUIDE_NOTE

pytestmark = pytest.mark.django_db(transaction=True)
NOTES = [note.replace("\n> ", " ") for note in GUIDE_NOTE.findall(GUIDE.read_text())]


@pytest.fixture
def operator(client):
    client.force_login(User.objects.create_superuser("operator", "op@example.test", "a-long-test-password"))
    return client


def note_about(word: str) -> str:
    (note,) = [n for n in NOTES if word in n]
    return note


def test_the_admin_note_names_the_page_and_button_the_admin_shows(operator):
    assert "*Add API key*" in note_about("Add API")
    page = operator.get("/admin/api_keys", follow=True)
    assert page.redirect_chain[-1][0] == "/admin/accounts/apikey/"
    assert "Add API key" in page.content.decode()


def test_the_permission_note_is_true_for_otp(make_api_key, client_for, online_gateway):
    assert "answer `403`" in note_about("verify_otp` as well")
    sms_only = client_for(make_api_key(permissions=["send_sms", "receive_sms"]).raw_key)
    for path, body in [
        ("/api/v1/otp/send", {"phone_number": GUIDE_NUMBER}),
        ("/api/v1/otp/verify", {"phone_number": GUIDE_NUMBER, "code": "123456"}),
    ]:
        assert sms_only.post(path, body, format="json").status_code == 403


def test_the_command_line_note_creates_the_key_it_says():
    command = re.search(r"`(\.venv/bin/python manage\.py create_api_key [^`]*)`", note_about("Django app")).group(1)
    program, manage, name, *arguments = shlex.split(command)
    assert (program, manage, name) == (".venv/bin/python", "manage.py", "create_api_key")
    out = io.StringIO()
    call_command(name, *arguments, stdout=out)  # in this process: the test database
    raw_key = out.getvalue().strip().splitlines()[-1]
    key = api_key_get_by_raw(raw_key=raw_key)
    assert key is not None and key.name == "My SaaS App"
    assert sorted(key.permissions) == ["receive_sms", "send_otp", "send_sms", "verify_otp"]


def test_the_documentation_the_guide_points_at_exists():
    assert "(API_DOCUMENTATION.md)" in note_about("API_DOCUMENTATION")
    reference = (GUIDE.parent / "API_DOCUMENTATION.md").read_text()
    for endpoint in ["sms/send", "sms/status", "otp/send", "otp/verify", "sms/inbox"]:
        assert f"/api/v1/{endpoint}" in reference


def test_the_python_note_is_true_the_examples_fail_as_pasted_and_the_indented_copy_compiles():
    from tests.live.helpers import BASE_DIR, guide_blocks

    note = note_about("IndentationError")
    blocks = guide_blocks("python")
    assert len(blocks) == 3 and "three Python examples" in note
    for block in blocks:
        with pytest.raises(IndentationError):
            compile(block, "guide", "exec")
    copy = BASE_DIR / "docs" / re.search(r"\]\((\.\./tests/[^)]+)\)", note).group(1)
    compile(copy.read_text(), str(copy), "exec")
