"""A small, real OpenID Connect provider on loopback, for the SSO tests.

It speaks the authorisation code flow with PKCE over HTTP: discovery, an
authorisation endpoint that signs in `user` at once (no login form), a token
endpoint with client_secret_basic, and a JWKS. ID tokens are signed RS256 by
joserfc. Switches let a test make it misbehave (foreign key, wrong nonce,
wrong audience, expired token).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

_KEYS: list = []


def _keys():
    """Two RSA keys with the same key id (the second one forges), made once per run."""
    if not _KEYS:
        for _ in range(2):
            _KEYS.append(RSAKey.generate_key(2048, parameters={"kid": "op-key-1", "use": "sig"}))
    return _KEYS[0], _KEYS[1]


class TinyOpenIDProvider:
    def __init__(self, *, client_id: str, client_secret: str):
        self.client_id = client_id
        self.client_secret = client_secret
        self.key, self.other_key = _keys()
        self.user: dict = {}
        self.codes: dict[str, dict] = {}
        self.misbehave: set[str] = set()
        self.token_requests = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # --- the endpoints ---

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    def jwks(self) -> dict:
        return KeySet([self.key]).as_dict(private=False)

    def authorize(self, query: dict) -> tuple[int, dict]:
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, {}
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, {}
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "redirect_uri": query["redirect_uri"],
            "nonce": query.get("nonce"),
            "challenge": query["code_challenge"],
            "user": dict(self.user),
        }
        target = (
            query["redirect_uri"]
            + "?"
            + urllib.parse.urlencode({"code": code, "state": query.get("state", "")})
        )
        return 302, {"Location": target}

    def token(self, headers, form: dict) -> tuple[int, dict]:
        self.token_requests += 1
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if headers.get("Authorization") != f"Basic {expected}":
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)  # single use
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if challenge != grant["challenge"]:
            return 400, {"error": "invalid_grant"}
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": "someone-else" if "audience" in self.misbehave else self.client_id,
            "iat": now,
            "exp": now - 600 if "expired" in self.misbehave else now + 300,
            "nonce": "not-the-nonce" if "nonce" in self.misbehave else grant["nonce"],
            **grant["user"],
        }
        key = self.other_key if "foreign_key" in self.misbehave else self.key
        id_token = jwt.encode({"alg": "RS256", "kid": "op-key-1"}, claims, key)
        return 200, {
            "access_token": secrets.token_urlsafe(16),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }

    def _handler(self):
        op = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _send(self, status: int, body: dict | None = None, headers: dict | None = None):
                data = json.dumps(body or {}).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/.well-known/openid-configuration":
                    self._send(200, op.discovery())
                elif url.path == "/jwks":
                    self._send(200, op.jwks())
                elif url.path == "/authorize":
                    status, headers = op.authorize(query)
                    self._send(status, {}, headers)
                else:
                    self._send(404)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if self.path == "/token":
                    status, body = op.token(self.headers, form)
                    self._send(status, body)
                else:
                    self._send(404)

        return Handler
