"""A SAML 2.0 service provider through pysaml2 (signature checks by Debian's xmlsec1).

`begin()` builds an AuthnRequest for the HTTP-Redirect binding; its id goes
into a signed, ten-minute RelayState, because the answer arrives as a
cross-site POST that carries no (SameSite=Lax) session cookie. `complete()`
checks the response with pysaml2: the IdP's signature on the assertion
(from the configured IdP metadata), audience, validity window, destination
and InResponseTo against that request id (unsolicited responses are
refused). It returns the subject (NameID, or a configured attribute) and the
attributes. Nothing here knows about patrons.

Provider options (settings.QUIETSHELF_PATRON_SSO): idp_metadata_file (or
idp_metadata_xml), idp_entity_id (when the metadata lists several),
sp_entity_id (default: this site's metadata URL), sp_key_file and
sp_cert_file (to sign requests and receive encrypted assertions),
subject_attribute (default: the NameID), xmlsec_binary.
"""

from __future__ import annotations

import logging
import shutil

from django.core import signing
from django.core.cache import cache
from django.urls import reverse

from quietshelf.core.errors import DomainError

log = logging.getLogger("quietshelf.portal.sso")
# pysaml2 logs NameIDs, attributes and whole messages; none of that may reach a log (PRV-LOG-1).
logging.getLogger("saml2").setLevel(logging.CRITICAL + 1)
RELAY_SALT = "quietshelf.portal.sso.saml-relay"


class SamlError(DomainError):
    code = "sso_failed"
    status_hint = 400


def _urls(provider, request) -> tuple[str, str]:
    acs = request.build_absolute_uri(reverse("account:sso_acs", args=[provider.name]))
    meta = request.build_absolute_uri(reverse("account:sso_metadata", args=[provider.name]))
    return acs, meta


def sp_config(provider, *, request):
    from saml2 import BINDING_HTTP_POST
    from saml2.config import SPConfig
    from saml2.saml import NAMEID_FORMAT_PERSISTENT

    acs, meta_url = _urls(provider, request)
    if provider.option("idp_metadata_xml"):
        metadata = {"inline": [provider.option("idp_metadata_xml")]}
    else:
        metadata = {"local": [provider.option("idp_metadata_file")]}
    conf = {
        "entityid": provider.option("sp_entity_id") or meta_url,
        "xmlsec_binary": provider.option("xmlsec_binary") or shutil.which("xmlsec1"),
        "metadata": metadata,
        "allow_unknown_attributes": True,
        "service": {
            "sp": {
                "endpoints": {"assertion_consumer_service": [(acs, BINDING_HTTP_POST)]},
                "want_assertions_signed": True,
                "want_response_signed": False,
                "allow_unsolicited": False,
                "authn_requests_signed": bool(provider.option("sp_key_file")),
                "name_id_format": provider.option("name_id_format") or NAMEID_FORMAT_PERSISTENT,
            }
        },
    }
    if provider.option("sp_key_file") and provider.option("sp_cert_file"):
        conf["key_file"] = provider.option("sp_key_file")
        conf["cert_file"] = provider.option("sp_cert_file")
        conf["encryption_keypairs"] = [
            {"key_file": conf["key_file"], "cert_file": conf["cert_file"]}
        ]
    if not conf["xmlsec_binary"]:
        raise SamlError("SAML needs xmlsec1 (Debian package xmlsec1), which is not installed.")
    config = SPConfig()
    try:
        config.load(conf)
    except Exception as exc:  # noqa: BLE001 - pysaml2 raises many kinds on bad metadata
        log.error("SAML provider %s misconfigured: %s", provider.name, type(exc).__name__)
        raise SamlError("The sign-in service is misconfigured.") from None
    return config


def _client(provider, *, request):
    from saml2.client import Saml2Client

    return Saml2Client(config=sp_config(provider, request=request))


def _idp_entity_id(provider, client) -> str:
    wanted = provider.option("idp_entity_id")
    if wanted:
        return wanted
    idps = list(client.metadata.identity_providers())
    if len(idps) != 1:
        raise SamlError("The sign-in service is misconfigured (set idp_entity_id).")
    return idps[0]


def begin(provider, *, request) -> tuple[str, str]:
    """(request id, URL to send the browser to)."""
    from saml2 import BINDING_HTTP_REDIRECT
    from saml2.s_utils import sid

    client = _client(provider, request=request)
    message_id = sid()
    relay = signing.dumps({"provider": provider.name, "id": message_id}, salt=RELAY_SALT)
    try:
        request_id, info = client.prepare_for_authenticate(
            entityid=_idp_entity_id(provider, client),
            relay_state=relay,
            binding=BINDING_HTTP_REDIRECT,
            message_id=message_id,
        )
    except SamlError:
        raise
    except Exception as exc:  # noqa: BLE001
        log.error("SAML request for %s failed: %s", provider.name, type(exc).__name__)
        raise SamlError("The sign-in request could not be made.") from None
    location = dict(info["headers"]).get("Location")
    if not location:
        raise SamlError("The sign-in request could not be made.")
    return request_id, location


def complete(provider, *, request, saml_response: str, request_id: str) -> tuple[str, dict]:
    """Verify the IdP's response; (subject, attributes as {name: [values]})."""
    from saml2 import BINDING_HTTP_POST

    if not saml_response or len(saml_response) > 500_000 or not request_id:
        raise SamlError("The sign-in service sent no usable answer.")
    client = _client(provider, request=request)
    # one answer per request: a replayed response is refused (shared cache in production)
    if not cache.add(f"qs-saml-used:{provider.name}:{request_id}", 1, timeout=900):
        raise SamlError("This sign-in answer was used already; please sign in again.")
    try:
        response = client.parse_authn_request_response(
            saml_response, BINDING_HTTP_POST, outstanding={request_id: "/account/"}
        )
    except Exception as exc:  # noqa: BLE001 - signature, status, time and audience errors alike
        log.warning("SAML response for %s refused: %s", provider.name, type(exc).__name__)
        raise SamlError("The sign-in service's answer could not be verified.") from None
    if response is None or not getattr(response, "assertion", None):
        raise SamlError("The sign-in service's answer could not be verified.")
    attributes = dict(response.get_identity() or {})
    subject_attribute = provider.option("subject_attribute")
    if subject_attribute:
        values = attributes.get(subject_attribute) or []
        subject = str(values[0]) if values else ""
    else:
        name_id = response.get_subject()
        subject = str(getattr(name_id, "text", "") or "")
    if not subject:
        raise SamlError("The sign-in service did not say who you are.")
    return subject, attributes


def sp_metadata(provider, *, request) -> str:
    from saml2.metadata import create_metadata_string

    config = sp_config(provider, request=request)
    return create_metadata_string(None, config=config, valid=24 * 7).decode()
