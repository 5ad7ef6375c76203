"""The guide's PHP and Ruby examples, whole (usage lines included), against real web nodes.

.ci/run installs php-cli, ruby and ruby-httparty from Debian. When an interpreter is missing,
these tests fail with CI set and skip elsewhere.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from messaging.models import Message
from tests.live.helpers import guide_blocks, missing_tool, substitute

pytestmark = pytest.mark.live


def run_example(command: list[str], source: str, tmp_path, suffix: str) -> str:
    path = tmp_path / f"example{suffix}"
    path.write_text(source)
    result = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def assert_one_message_sent(out: str) -> None:
    message_id = re.search(r"SMS sent! Message ID: (msg_[0-9a-f]{32})", out).group(1)
    message = Message.objects.get(pk=message_id)
    assert (message.to, message.body) == ("+959123456789", "Welcome to our service!")


def test_the_guides_php_example(web_server, raw_key, tmp_path):
    if shutil.which("php") is None:
        missing_tool("php is not installed: apt-get install php-cli")
    (block,) = guide_blocks("php")
    out = run_example(["php"], substitute(block, web_server.url, raw_key), tmp_path, ".php")
    assert_one_message_sent(out)


def test_the_guides_ruby_example(web_server, raw_key, tmp_path):
    if shutil.which("ruby") is None:
        missing_tool("ruby is not installed: apt-get install ruby ruby-httparty")
    (block,) = guide_blocks("ruby")[1:]  # the first Ruby block is the Rails console
    out = run_example(["ruby"], substitute(block, web_server.url, raw_key), tmp_path, ".rb")
    assert_one_message_sent(out)
