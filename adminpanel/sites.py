from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, re_path

from . import views


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
            re_path(r"^api_tester/?$", self.admin_view(views.api_tester), name="api_tester"),
            re_path(r"^logs/?$", self.admin_view(views.logs), name="logs"),
            *super().get_urls(),
        ]

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        return super().index(request, {**views.dashboard_context(), **(extra_context or {})})
