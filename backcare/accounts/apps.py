from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "backcare.accounts"
    label = "accounts"
    verbose_name = "Accounts"
