"""Rate limit for operator logins: password guessing against /admin/ gets 429 after a few tries."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .services import admin_login_throttle

LOGIN_PATH = "/admin/login/"


class AdminLoginRateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path == LOGIN_PATH:
            wait = admin_login_throttle(
                username=request.POST.get("username", ""), address=request.META.get("REMOTE_ADDR", "")
            )
            if wait:
                response = HttpResponse(
                    "Too many login attempts. Try again later.", status=429, content_type="text/plain"
                )
                response["Retry-After"] = str(wait)
                return response
        return self.get_response(request)
