from django.apps import AppConfig


class Sip2Config(AppConfig):
    name = "quietshelf.sip2"
    label = "sip2"
    verbose_name = "SIP2 self-check"

    def ready(self) -> None:
        from quietshelf.sip2 import retention

        retention.install()  # failed logins and PINs expire (PRV-RET-1)
