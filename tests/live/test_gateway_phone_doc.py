"""docs/gateway-phone.md followed as printed on a stand-in phone: the agent fetched from the
server, paired once, then started by the Termux:Boot script alone (no server, no token on its
command line), against the real servers. Termux is faked: ``python`` is this interpreter,
``termux-*`` programs record what they are asked."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.conf import settings

from accounts.services import api_key_generate
from gateways.models import Gateway
from gateways.services import gateway_create, gateway_pairing_uri

from .helpers import wait_for, wait_for_phones_offline

pytestmark = pytest.mark.live
DOC = Path(settings.BASE_DIR) / "docs" / "gateway-phone.md"


def doc_block(containing: str) -> str:
    """The doc's bash block that contains ``containing``, dedented as a user would paste it."""
    for block in re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.S):
        if containing in block:
            lines = block.splitlines()
            indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
            return "\n".join(line[indent:] for line in lines) + "\n"
    raise AssertionError(f"no bash block with {containing!r} in {DOC.name}")


def fake_termux(home: Path) -> tuple[Path, Path]:
    """A bin directory with ``python`` and the Termux:API programs; returns it and the file
    where termux-sms-send records each call."""
    bin_dir = home.parent / "termux-bin"
    bin_dir.mkdir()
    sends = home.parent / "sends.jsonl"
    programs = {
        "python": f'#!/bin/sh\nexec {sys.executable} "$@"\n',
        "termux-wake-lock": "#!/bin/sh\nexit 0\n",
        "termux-sms-list": "#!/bin/sh\necho '[]'\n",
        "termux-sms-send": (
            f"#!{sys.executable}\nimport json, sys\n"
            f"open({str(sends)!r}, 'a').write(json.dumps({{'argv': sys.argv[1:]}}) + '\\n')\n"
        ),
    }
    for name, text in programs.items():
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return bin_dir, sends


def run_shell(script: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        ["sh", "-c", script],
        env=env,
        cwd=env["HOME"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def online(name: str) -> bool:
    return Gateway.objects.filter(name=name, is_connected=True).exists()


def test_a_phone_paired_once_comes_back_after_a_reboot_from_the_boot_script(web_server, tmp_path):
    phone = gateway_create(name="rebooting-phone")
    home = tmp_path / "home"
    home.mkdir()
    bin_dir, sends = fake_termux(home)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HOME": str(home), "TZ": "UTC"}
    log = tmp_path / "phone.log"

    # Step 3 as printed: fetch the agent from the server, connect with the QR code's text.
    fetch = doc_block("curl -o agent.py").splitlines()[0].replace("http://YOUR-SERVER:3005", web_server.url)
    subprocess.run(["sh", "-c", fetch], env=env, cwd=home, check=True, capture_output=True)
    assert (home / "agent.py").read_text().startswith("#!/usr/bin/env python3")
    pair = doc_block("--pair").strip()
    uri = gateway_pairing_uri(server=web_server.ws_url, token=phone.raw_token)
    pair = re.sub(r"--pair '[^']*'", f"--pair '{uri}'", pair)
    first_start = run_shell(pair, env, log)
    try:
        wait_for(lambda: online("rebooting-phone"), timeout=30, what="the phone online after pairing")
    finally:
        stop(first_start)
    wait_for(lambda: not online("rebooting-phone"), timeout=30, what="the phone offline after it stopped")
    saved = home / "var" / "agent" / "agent.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text())["token"] == phone.raw_token

    # Termux:Boot's set-up as printed, then what Android runs at boot: the script, no arguments.
    subprocess.run(["sh", "-c", doc_block("~/.termux/boot")], env=env, cwd=home, check=True)
    boot_script = home / ".termux" / "boot" / "start-mysmsapio"
    assert os.access(boot_script, os.X_OK)
    assert "gw_live_" not in boot_script.read_text()
    after_boot = subprocess.Popen(["sh", str(boot_script)], env=env, cwd="/", start_new_session=True)
    try:
        wait_for(lambda: online("rebooting-phone"), timeout=30, what="the phone online after the boot script")
        key = api_key_generate(name="boot test", permissions=["send_sms"]).raw_key
        response = requests.post(
            f"{web_server.url}/api/v1/sms/send",
            json={"to": "+959123456789", "message": "back"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert response.status_code == 202
        wait_for(lambda: sends.exists() and "+959123456789" in sends.read_text(), timeout=30, what="the phone to send")
    finally:
        stop(after_boot)
        wait_for_phones_offline()
    assert "connected to" in (home / "var" / "agent" / "agent.log").read_text()
