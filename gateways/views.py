from __future__ import annotations

from pathlib import Path

from django.http import FileResponse, HttpRequest

from core.errors import require_safe_json

AGENT_PATH = Path(__file__).resolve().parent.parent / "agent" / "agent.py"


@require_safe_json
def agent_download(request: HttpRequest) -> FileResponse:
    """The agent a phone runs (no secret in it: the token is given on its command line)."""
    return FileResponse(AGENT_PATH.open("rb"), content_type="text/x-python", filename="agent.py")
