"""A real SAML 2.0 identity provider on loopback, built with pysaml2, for the SSO tests.

It serves its metadata and a single sign-on endpoint (HTTP-Redirect binding
in, HTTP-POST binding out: an auto-submitting form, as a browser would get).
It signs in `name_id` with `attributes` at once, signing the assertion with
its key (xmlsec1). `forge=True` makes it sign with a key the site does not
trust.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

_PEMS: dict[str, tuple[bytes, bytes]] = {}


def make_key_pair(directory: Path, name: str) -> tuple[str, str]:
    """A self-signed certificate and its key, as PEM files (made once per run; tests only)."""
    if name not in _PEMS:
        _PEMS[name] = _new_pems(name)
    key_pem, cert_pem = _PEMS[name]
    key_path = directory / f"{name}.key"
    cert_path = directory / f"{name}.crt"
    key_path.write_bytes(key_pem)
    cert_path.write_bytes(cert_pem)
    return str(key_path), str(cert_path)


def _new_pems(name: str) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


class TinySamlIdP:
    def __init__(self, directory: Path):
        self.directory = directory
        self.key_file, self.cert_file = make_key_pair(directory, "idp")
        self.forge_key, self.forge_cert = make_key_pair(directory, "forger")
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.entity_id = f"{self.base}/idp/metadata"
        self.name_id = ""
        self.attributes: dict[str, list[str]] = {}
        self.forge = False
        self.server = None
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def _config(self, *, sp_metadata: str | None, forged: bool = False) -> dict:
        from saml2 import BINDING_HTTP_REDIRECT
        from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT

        conf = {
            "entityid": self.entity_id,
            "xmlsec_binary": shutil.which("xmlsec1"),
            "key_file": self.forge_key if forged else self.key_file,
            "cert_file": self.forge_cert if forged else self.cert_file,
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [(f"{self.base}/idp/sso", BINDING_HTTP_REDIRECT)]
                    },
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    "policy": {
                        "default": {
                            "lifetime": {"minutes": 15},
                            "attribute_restrictions": None,
                            "name_form": NAME_FORMAT_URI,
                        }
                    },
                    "want_authn_requests_signed": False,
                }
            },
        }
        if sp_metadata:
            conf["metadata"] = {"inline": [sp_metadata]}
        return conf

    def metadata_xml(self) -> str:
        from saml2.config import IdPConfig
        from saml2.metadata import create_metadata_string

        config = IdPConfig()
        config.load(self._config(sp_metadata=None))
        return create_metadata_string(None, config=config, valid=24).decode()

    def trust_sp(self, sp_metadata: str) -> None:
        from saml2.config import IdPConfig
        from saml2.server import Server

        self.server = Server(config=IdPConfig().load(self._config(sp_metadata=sp_metadata)))
        self.forged_server = Server(
            config=IdPConfig().load(self._config(sp_metadata=sp_metadata, forged=True))
        )

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.http.shutdown()
        self.http.server_close()

    def sso(self, query: dict) -> str:
        """Answer an AuthnRequest with an HTML form posting a signed response to the SP."""
        from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
        from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID

        server = self.forged_server if self.forge else self.server
        parsed = server.parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
        authn_request = parsed.message
        destination = authn_request.assertion_consumer_service_url
        response = server.create_authn_response(
            identity=self.attributes,
            in_response_to=authn_request.id,
            destination=destination,
            sp_entity_id=authn_request.issuer.text,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=self.name_id),
            authn={
                "class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
                "authn_auth": self.entity_id,
            },
            sign_assertion=True,
            sign_response=False,
        )
        args = server.apply_binding(
            BINDING_HTTP_POST,
            str(response),
            destination,
            query.get("RelayState", ""),
            response=True,
        )
        return args["data"]

    def _handler(self):
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: str, ctype: str):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/idp/metadata":
                    self._send(200, idp.metadata_xml(), "text/xml")
                elif url.path == "/idp/sso":
                    query = dict(urllib.parse.parse_qsl(url.query))
                    try:
                        self._send(200, idp.sso(query), "text/html")
                    except Exception as exc:  # noqa: BLE001 - shown to the test as a 400
                        self._send(400, f"{type(exc).__name__}: {exc}", "text/plain")
                else:
                    self._send(404, "", "text/plain")

        return Handler
