"""The guide's JavaScript (Node.js + axios) examples, run against real web nodes.

The guide's function definitions and its MySMSAPI object run as printed (URL and key
substituted); only the calls that drive them are ours, as with the Python examples.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import pytest

from otp.models import Otp
from tests.live.helpers import guide_blocks, missing_tool, substitute
from tests.otp.test_otp import last_code

pytestmark = pytest.mark.live
AXIOS_VERSION = "1.21.1"

DRIVER = """
(async () => {
  const id = await sendSMS('+959123456789', 'Welcome to our service!');
  await sendOTP('+959123456789');
  const code = require('fs').readFileSync(0, 'utf8').trim();
  console.log('VERIFY', await verifyOTP('+959123456789', code));
  console.log('WRONG', await verifyOTP('+959123456789', '12345'));
  const status = await checkMessageStatus(id);
  console.log('STATUS', status.status);
  const sent = await MySMSAPI.sendSMS('+959123456789', 'From the MySMSAPI object');
  console.log('OBJECT', sent.success, (await MySMSAPI.checkStatus(sent.message_id)).message_id === sent.message_id);
})().catch((error) => { console.error(error); process.exit(1); });
"""


@pytest.fixture(scope="session")
def node_modules(tmp_path_factory):
    if shutil.which("node") is None or shutil.which("npm") is None:
        missing_tool("Node.js is not installed")
    folder = tmp_path_factory.mktemp("node")
    result = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", f"axios@{AXIOS_VERSION}"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if result.returncode != 0:
        missing_tool(f"npm could not install axios: {result.stderr[-300:]}")
    return folder / "node_modules"


def guide_javascript() -> str:
    """Every function definition the guide prints, and its MySMSAPI object, as printed."""
    pieces = []
    for block in guide_blocks("javascript"):
        code = re.split(r"\n// Usage", block)[0]
        wanted = r"^(const axios|const MySMSAPI|async function (sendSMS|sendOTP|verifyOTP|checkMessageStatus)\b)"
        if re.search(wanted, code, re.M):
            pieces.append(code)
    assert len(pieces) == 5
    return "\n".join(pieces)


def test_the_guides_javascript_examples(web_server, raw_key, online_gateway, node_modules, tmp_path):
    script = tmp_path / "client.js"
    script.write_text(substitute(guide_javascript(), web_server.url, raw_key) + DRIVER)
    proc = subprocess.Popen(
        ["node", str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NODE_PATH": str(node_modules)},
    )
    deadline = time.monotonic() + 20
    while not Otp.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    out, err = proc.communicate(last_code() + "\n", timeout=30)
    assert proc.returncode == 0, err
    assert "SMS sent!" in out and re.search(r"Message ID: msg_[0-9a-f]{32}", out)
    assert "Status: queued" in out
    assert "OTP sent!" in out and "Expires in: 300 seconds" in out
    assert "OTP verified!" in out and "VERIFY true" in out
    assert "WRONG false" in out and "OTP verification failed:" in err
    assert "STATUS queued" in out
    assert "OBJECT true true" in out
