from django.apps import AppConfig


class MysmsapioConfig(AppConfig):
    name = "mysmsapio"
    verbose_name = "MySMSAPio"
