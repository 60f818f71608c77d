"""Single sign-on for patrons (INT-2): OpenID Connect and SAML 2.0.

- config.py: providers from settings.QUIETSHELF_PATRON_SSO (JSON), checked;
- oidc.py: an OpenID Connect relying party (authorisation code + PKCE,
  ID token checked with joserfc against the provider's JWKS);
- saml.py: a SAML 2.0 service provider through pysaml2 (signed assertions,
  xmlsec1);
- linking.py: which patron a verified identity is, and the mapped
  attributes stored (nothing else).

oidc.py and saml.py return verified claims and know nothing of patrons, so
staff sign-in can use them with its own linking.
"""
