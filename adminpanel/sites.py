from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, re_path

from . import views

USE_API_TESTER = "adminpanel.use_api_tester"
VIEW_LOGS = "adminpanel.view_logs"


def requires(permission: str, view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``view`` for staff users who hold ``permission`` (superusers hold every one); 403 for
    the others."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


class MySmsAdminSite(admin.AdminSite):
    """Django's admin site with the operators' pages: the dashboard on the index, the API
    tester and the logs at the URLs the integration guide gives (no trailing slash needed)."""

    site_header = "MySMSAPio"
    site_title = "MySMSAPio admin"
    index_title = "Dashboard"
    index_template = "adminpanel/dashboard.html"
    site_url = None  # no public site: hide "View site"
    enable_nav_sidebar = False  # the top bar (admin/base_site.html) leads to every page

    def get_urls(self) -> list[URLPattern]:
        return [
            re_path(r"^api_tester/?$", self.admin_view(requires(USE_API_TESTER, views.api_tester)), name="api_tester"),
            re_path(r"^logs/?$", self.admin_view(requires(VIEW_LOGS, views.logs)), name="logs"),
            *super().get_urls(),
        ]

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        return super().index(request, {**views.dashboard_context(), **(extra_context or {})})

    def each_context(self, request: HttpRequest) -> dict:
        # The top bar links only to the pages the user may open.
        return {
            **super().each_context(request),
            "can_use_api_tester": request.user.has_perm(USE_API_TESTER),
            "can_view_logs": request.user.has_perm(VIEW_LOGS),
        }
