from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AdminpanelConfig(AppConfig):
    default = True
    name = "adminpanel"
    verbose_name = "Admin panel"


class MySmsAdminConfig(admin_apps.AdminConfig):
    """Django's admin with our site: the dashboard, the API tester and the logs live on it.
    Listed by its dotted path in INSTALLED_APPS, so not this module's default."""

    default = False
    default_site = "adminpanel.sites.MySmsAdminSite"
