"""The API request log's cost, per request and per written line (mysmsapio/requestlog.py).

The send path pays for recording a line (encoding it, a deque append); a thread pays for
writing it. This measures both in CPU time on a throwaway SQLite database, without the noise
of a whole HTTP stack (bench/api_send.py measures that, with REQUEST_LOG_ENABLED=true/false).

    python bench/request_log.py [--lines 20000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="bench-requestlog-")
    os.environ.update(
        {
            "MYSMSAPIO_VAR_DIR": workdir,
            "DJANGO_SETTINGS_MODULE": "mysmsapio.settings",
            "REQUEST_LOG_FLUSH_SECONDS": "0",
            "REQUEST_LOG_BUFFER_MAX": str(args.lines),
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.http import HttpResponse
    from django.test import RequestFactory

    from accounts.services import api_key_generate
    from adminpanel.models import ApiRequest
    from mysmsapio.requestlog import RequestLogMiddleware, request_log_flush

    call_command("migrate", verbosity=0)
    key = api_key_generate(name="bench", permissions=["send_sms"]).api_key
    request = RequestFactory().post("/api/v1/sms/send", REMOTE_ADDR="127.0.0.1")
    request.user = key

    middleware = RequestLogMiddleware(lambda r: HttpResponse(status=202))
    started = time.process_time()
    for _ in range(args.lines):
        middleware(request)
    record = (time.process_time() - started) / args.lines

    started = time.process_time()
    written = request_log_flush()
    write = (time.process_time() - started) / max(written, 1)
    assert written == args.lines == ApiRequest.objects.count()
    print(
        f"{args.lines} lines: recording {record * 1e6:.1f} µs CPU per request (send path), "
        f"writing {write * 1e6:.1f} µs CPU per line (flush thread, SQLite)"
    )


if __name__ == "__main__":
    main()
