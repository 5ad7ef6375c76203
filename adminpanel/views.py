"""Operator pages beyond Django's model admin: dashboard, API tester, logs. Staff only: the
admin site wraps each in ``admin_view``."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from accounts.models import Account
from gateways.models import Gateway

from . import charts
from .selectors import api_request_list, dashboard_get, gateway_event_list, log_event_names

# What the API tester offers: the guide's endpoints with the guide's example bodies.
API_TESTER_ENDPOINTS = [
    {"name": "up", "method": "GET", "path": "/up", "body": None},
    {
        "name": "sms/send",
        "method": "POST",
        "path": "/api/v1/sms/send",
        "body": {"to": "+959123456789", "message": "Hello from the MySMSAPio API tester"},
    },
    {"name": "sms/status", "method": "GET", "path": "/api/v1/sms/status/{message_id}", "body": None},
    {"name": "otp/send", "method": "POST", "path": "/api/v1/otp/send", "body": {"phone_number": "+959123456789"}},
    {
        "name": "otp/verify",
        "method": "POST",
        "path": "/api/v1/otp/verify",
        "body": {"phone_number": "+959123456789", "code": "123456"},
    },
    {"name": "sms/inbox", "method": "GET", "path": "/api/v1/sms/inbox?limit=20", "body": None},
]
LOG_REFRESH_SECONDS = 5


def dashboard_context() -> dict:
    dashboard = dashboard_get()
    hourly = [{**bucket, "label": bucket["hour"].strftime("%H:00")} for bucket in dashboard.hourly]
    return {
        "dashboard": dashboard,
        "hourly_chart": charts.stacked_bars(
            hourly,
            series=["delivered", "sent", "queued", "pending", "failed"],
            label_key="label",
            title="Messages per hour by status, last 24 hours (UTC)",
        ),
        "delivery_chart": charts.rate_bars(
            [
                (p.name, p.rate, f"{p.rate:.0%} ({p.delivered}/{p.handed}, {p.failed} failed)")
                for p in dashboard.delivery
            ],
            title="Delivery rate per phone, last 24 hours",
        ),
    }


def api_tester(request: HttpRequest) -> HttpResponse:
    # The key typed on this page goes from the browser straight to the API; the server never
    # sees it here, and the page never stores it.
    context = {**admin.site.each_context(request), "title": "API tester", "endpoints": API_TESTER_ENDPOINTS}
    response = TemplateResponse(request, "adminpanel/api_tester.html", context)
    response["Cache-Control"] = "no-store"
    return response


def logs(request: HttpRequest) -> HttpResponse:
    params = request.GET
    filters = {name: params.get(name, "").strip() for name in ("status", "account", "path", "key", "gateway", "event")}
    context = {
        **admin.site.each_context(request),
        "title": "Logs",
        "filters": filters,
        "requests": api_request_list(
            status_class=filters["status"], account_id=filters["account"], path=filters["path"], key=filters["key"]
        ),
        "events": gateway_event_list(gateway_id=filters["gateway"], event=filters["event"]),
        "accounts": Account.objects.order_by("name"),
        "gateways": Gateway.objects.order_by("name"),
        "event_names": log_event_names(),
        "refresh_seconds": LOG_REFRESH_SECONDS,
    }
    # The page refreshes its tables by fetching this fragment.
    template = "adminpanel/logs_tables.html" if params.get("partial") else "adminpanel/logs.html"
    return TemplateResponse(request, template, context)
