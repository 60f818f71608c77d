"""Single sign-on providers, from settings.QUIETSHELF_PATRON_SSO (a JSON list).

Each provider::

    {"name": "campus", "label": "University login", "protocol": "oidc",
     "issuer": "https://login.example.edu", "client_id": "...", "client_secret": "...",
     "scopes": ["openid", "email", "profile"],
     "match_attribute": "employee_number",      # claim holding the institutional id
     "attributes": {"given_name": "given_name", "family_name": "family_name",
                    "email": "email"},          # patron field -> claim; only these are stored
     "create_patrons": false}

    {"name": "feide", "label": "Feide", "protocol": "saml",
     "idp_metadata_file": "/etc/quietshelf/feide-metadata.xml",
     "sp_key_file": "...", "sp_cert_file": "...",
     "match_attribute": "eduPersonPrincipalName",
     "attributes": {"email": "mail", "given_name": "givenName", "family_name": "sn"}}
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MAPPABLE = ("given_name", "family_name", "email", "phone", "preferred_language")


@dataclass(frozen=True)
class Provider:
    name: str
    label: str
    protocol: str  # "oidc" or "saml"
    match_attribute: str
    attributes: dict[str, str]
    create_patrons: bool = False
    options: dict = field(default_factory=dict)

    def option(self, key: str, default=None):
        return self.options.get(key, default)


def _parse(raw: dict) -> Provider:
    name = str(raw.get("name", "")).strip()
    if not name or not name.replace("-", "").replace("_", "").isalnum() or len(name) > 40:
        raise ImproperlyConfigured(f"QUIETSHELF_PATRON_SSO: bad provider name {name!r}")
    protocol = raw.get("protocol")
    if protocol not in {"oidc", "saml"}:
        raise ImproperlyConfigured(f"QUIETSHELF_PATRON_SSO[{name}]: protocol is oidc or saml")
    attributes = dict(raw.get("attributes") or {})
    unknown = set(attributes) - set(MAPPABLE)
    if unknown:
        raise ImproperlyConfigured(
            f"QUIETSHELF_PATRON_SSO[{name}]: cannot map {', '.join(sorted(unknown))} "
            f"(mappable: {', '.join(MAPPABLE)})"
        )
    if protocol == "oidc":
        for key in ("issuer", "client_id"):
            if not raw.get(key):
                raise ImproperlyConfigured(f"QUIETSHELF_PATRON_SSO[{name}]: {key} is required")
    if protocol == "saml" and not (raw.get("idp_metadata_file") or raw.get("idp_metadata_xml")):
        raise ImproperlyConfigured(f"QUIETSHELF_PATRON_SSO[{name}]: idp_metadata_file is required")
    default_match = "sub" if protocol == "oidc" else "eduPersonPrincipalName"
    known = {"name", "label", "protocol", "match_attribute", "attributes", "create_patrons"}
    return Provider(
        name=name,
        label=str(raw.get("label") or name),
        protocol=protocol,
        match_attribute=str(raw.get("match_attribute") or default_match),
        attributes=attributes,
        create_patrons=bool(raw.get("create_patrons", False)),
        options={k: v for k, v in raw.items() if k not in known},
    )


def providers() -> list[Provider]:
    return [_parse(raw) for raw in getattr(settings, "QUIETSHELF_PATRON_SSO", []) or []]


def provider(name: str) -> Provider | None:
    return next((p for p in providers() if p.name == name), None)
