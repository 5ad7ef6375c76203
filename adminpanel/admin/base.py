"""What every model admin of ours shares: the show-once page, read-only admins, actions that
answer 403 without their permission."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse

from accounts.models import Account


def show_secret_once(
    request: HttpRequest,
    *,
    title: str,
    intro: str,
    secret: str,
    back_url: str,
    commands: str = "",
    qr_svg: str = "",
    pairing: dict | None = None,
) -> TemplateResponse:
    context = {
        **admin.site.each_context(request),
        "title": title,
        "intro": intro,
        "secret": secret,
        "back_url": back_url,
        "commands": commands,
        "qr_svg": qr_svg,
        "pairing": pairing,
    }
    response = TemplateResponse(request, "adminpanel/secret_once.html", context)
    response["Cache-Control"] = "no-store"
    return response


class ActionsNeedPermissionAdmin(admin.ModelAdmin):
    """Django hides an action from a user without its permissions (``permissions=[...]``) but
    answers a posted one with "No action selected"; refuse it with 403 instead."""

    def changelist_view(self, request, extra_context=None):
        action = request.POST.get("action") if request.method == "POST" else None
        declared = {a if isinstance(a, str) else a.__name__ for a in self.actions or []}
        if action in declared and action not in self.get_actions(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    def one_selected(self, request, queryset, refusal: str):
        """The one row an action on exactly one row acts on, or None (the operator is told
        ``refusal``)."""
        if queryset.count() != 1:
            self.message_user(request, refusal, messages.ERROR)
            return None
        return queryset.get()


class AddThroughServiceAdmin(ActionsNeedPermissionAdmin):
    """Rows created by a service that returns a secret to show once (API keys, gateways): the
    add page has a form and fields of its own, and ``save_model`` calls the service."""

    add_form: type[forms.ModelForm]
    add_fields: list[str]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else super().get_readonly_fields(request, obj)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class DefaultAccountAdmin(admin.ModelAdmin):
    """Most installations have one tenant: an add form's Account starts on it."""

    def get_changeform_initial_data(self, request) -> dict:
        default = Account.objects.filter(name=Account.DEFAULT_NAME).first()
        return {**super().get_changeform_initial_data(request), **({"account": default.pk} if default else {})}
