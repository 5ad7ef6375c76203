"""Rate limit for operator logins: password guessing against /admin/ gets 429 after a few tries."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core import ratelimit

LOGIN_PATH = "/admin/login/"


class AdminLoginRateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path == LOGIN_PATH:
            # Counted per client address (behind a proxy, REMOTE_ADDR must be the client's) and
            # per user name tried (hashed: the counter's key is no place for a typed password
            # pasted into the wrong field).
            window = settings.ADMIN_LOGIN_WINDOW_SECONDS
            by_address = ratelimit.hit(
                f"admin-login:{request.META.get('REMOTE_ADDR', '')}",
                limit=settings.ADMIN_LOGIN_ATTEMPTS,
                window_seconds=window,
            )
            username = request.POST.get("username", "").strip().lower()
            by_name = ratelimit.hit(
                f"admin-login-user:{hashlib.sha256(username.encode('utf-8', 'replace')).hexdigest()[:32]}",
                limit=settings.ADMIN_LOGIN_ATTEMPTS_PER_USERNAME,
                window_seconds=window,
            )
            result = by_address if not by_address.allowed else by_name
            if not result.allowed:
                response = HttpResponse(
                    "Too many login attempts. Try again later.", status=429, content_type="text/plain"
                )
                response["Retry-After"] = str(int(result.retry_after))
                return response
        return self.get_response(request)
