"""Quietshelf settings, all from the environment (QUIETSHELF_*, DATABASE_URL).

Production mode (QUIETSHELF_ENV=production) refuses to start unless the
operator has given a real secret key, allowed hosts, secure cookies and HSTS.
"""

from __future__ import annotations

import json
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from quietshelf.config.env import (
    env_bool,
    env_days,
    env_int,
    env_list,
    env_str,
    instance_dir,
    private_file_secret,
)

PACKAGE_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = PACKAGE_DIR.parent.parent
INSTANCE_DIR = instance_dir()

QUIETSHELF_ENV = env_str("QUIETSHELF_ENV", "development")
if QUIETSHELF_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured(
        f"QUIETSHELF_ENV must be development, production or test, not {QUIETSHELF_ENV!r}"
    )
PRODUCTION = QUIETSHELF_ENV == "production"
DEBUG = env_bool("QUIETSHELF_DEBUG", False)

# --- secrets and hosts ---------------------------------------------------
SECRET_KEY = env_str("QUIETSHELF_SECRET_KEY")
ALLOWED_HOSTS = env_list("QUIETSHELF_ALLOWED_HOSTS")
SESSION_COOKIE_SECURE = env_bool("QUIETSHELF_SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("QUIETSHELF_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_SSL_REDIRECT = env_bool("QUIETSHELF_SSL_REDIRECT", PRODUCTION)

if PRODUCTION:
    missing = []
    if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure") or len(set(SECRET_KEY)) < 5:
        missing.append("QUIETSHELF_SECRET_KEY (at least 50 random characters)")
    if not ALLOWED_HOSTS:
        missing.append("QUIETSHELF_ALLOWED_HOSTS (comma-separated host names)")
    if not SESSION_COOKIE_SECURE:
        missing.append("QUIETSHELF_SECURE_COOKIES=true (cookies only over TLS)")
    if SECURE_HSTS_SECONDS < 86400:
        missing.append("QUIETSHELF_HSTS_SECONDS (at least 86400)")
    if DEBUG:
        # Debug pages show stack traces and settings to whoever asks (SEC-ERR-1).
        missing.append("QUIETSHELF_DEBUG must be false")
    if missing:
        raise ImproperlyConfigured(
            "Production mode refuses to start; missing or unsafe: " + "; ".join(missing)
        )
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
else:
    if not SECRET_KEY:
        SECRET_KEY = private_file_secret(INSTANCE_DIR / "secret_key")
    if not ALLOWED_HOSTS:
        ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

# --- applications --------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "quietshelf.core",
    "quietshelf.privacy",
    "quietshelf.accounts",
    "quietshelf.patrons",
    "quietshelf.portal",
    "quietshelf.catalog",
    "quietshelf.circulation",
    "quietshelf.notices",
    "quietshelf.jobs",
    "quietshelf.sip2",
    "quietshelf.interop",
    "quietshelf.reports",
    "quietshelf.privacyoffice",
    "quietshelf.opac",
    "quietshelf.staff",
    "quietshelf.api",
    # The top layer: the demo and serve commands, which assemble every app (#14).
    "quietshelf.config",
    "axes",
    # Only for its static copy of htmx, which the staff desk loads from our own origin.
    "django_htmx",
    # Only for its static files: /api/v1/docs then serves Swagger UI from here,
    # not from a CDN (PRV-PUB-1).
    "ninja",
]

MIDDLEWARE = [
    "quietshelf.core.middleware.RequestIdMiddleware",
    "quietshelf.core.middleware.RetryAfterMiddleware",
    "quietshelf.core.after_response.AfterResponseMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "quietshelf.accounts.middleware.StaffSessionMiddleware",
    "quietshelf.patrons.auth.PatronMiddleware",
    "quietshelf.privacy.middleware.PrivacyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "quietshelf.core.middleware.PrivateCacheMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "quietshelf.config.urls"
WSGI_APPLICATION = "quietshelf.config.wsgi.application"
AUTH_USER_MODEL = "accounts.StaffUser"
# The staff username is encrypted; StaffBackend finds it through its blind index,
# whose column is the unique one (hence auth.W004 is silenced).
AUTHENTICATION_BACKENDS = [
    "quietshelf.accounts.backends.ThrottledBackend",  # django-axes
    "quietshelf.accounts.backends.StaffBackend",
]
# auth.W004: the username is unique through its blind index, not the column.
# models.W047: SQLite cannot enforce the loan-rule matrix's one-rule-per-cell
# constraint with NULL wildcards; circulation.services.rule_save keeps cells
# unique (one writer at a time on SQLite), and PostgreSQL enforces it too.
SILENCED_SYSTEM_CHECKS = ["auth.W004", "models.W047"]
LOGIN_URL = "staff:login"
LOGIN_REDIRECT_URL = "staff:home"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "quietshelf.accounts.context_processors.staff_menu",
                "csp.context_processors.nonce",
            ],
        },
    }
]

# --- database --------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    _scheme = DATABASE_URL.split("://", 1)[0].lower() if "://" in DATABASE_URL else ""
    if _scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ImproperlyConfigured(
            "DATABASE_URL must be postgres://user@host:port/name (or sqlite:///path), "
            f"not a {_scheme or 'schemeless'} URL"
        )
    try:
        default_db = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL cannot be read: {exc}") from None
else:
    default_db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(INSTANCE_DIR / "quietshelf.sqlite3"),
        "OPTIONS": {
            # WAL lets readers run beside one writer; IMMEDIATE takes the write
            # lock at BEGIN so two writers queue instead of failing half-way.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=20000;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        "TEST": {"NAME": str(INSTANCE_DIR / "test-quietshelf.sqlite3")},
    }
DATABASES = {"default": default_db}

# --- privacy kernel: key store, master key, retention (docs/privacy-model.md) ---
# Wrapped data keys live in a database of their own, apart from the main
# tables: its own SQLite file, or on PostgreSQL its own database on the same
# server (QUIETSHELF_KEYSTORE_URL to put it elsewhere).
QUIETSHELF_KEYSTORE_URL = env_str("QUIETSHELF_KEYSTORE_URL")
if QUIETSHELF_KEYSTORE_URL:
    keystore_db = dj_database_url.parse(QUIETSHELF_KEYSTORE_URL, conn_max_age=60)
elif DATABASE_URL:
    keystore_db = dict(default_db)
    keystore_db["NAME"] = f"{default_db['NAME']}_keystore"
    keystore_db["TEST"] = {"NAME": f"test_{default_db['NAME']}_keystore"}
else:
    keystore_db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(INSTANCE_DIR / "keystore.sqlite3"),
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=20000;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        "TEST": {"NAME": str(INSTANCE_DIR / "test-keystore.sqlite3")},
    }
DATABASES["keystore"] = keystore_db
DATABASE_ROUTERS = ["quietshelf.privacy.routers.KeyStoreRouter"]
# "2:base64key,1:base64key": the highest version wraps new keys, all unwrap.
QUIETSHELF_MASTER_KEY = env_str("QUIETSHELF_MASTER_KEY")
QUIETSHELF_MASTER_KEY_FILE = INSTANCE_DIR / "master.key"
if PRODUCTION and not QUIETSHELF_MASTER_KEY and not QUIETSHELF_MASTER_KEY_FILE.exists():
    raise ImproperlyConfigured(
        "Production mode refuses to start: no master key. Set QUIETSHELF_MASTER_KEY or put "
        f"a 0600 key file at {QUIETSHELF_MASTER_KEY_FILE} (see docs/privacy-model.md)"
    )
QUIETSHELF_KEY_CACHE_SIZE = env_int("QUIETSHELF_KEY_CACHE_SIZE", 4096)
QUIETSHELF_KEY_CACHE_SECONDS = env_int("QUIETSHELF_KEY_CACHE_SECONDS", 300)
QUIETSHELF_AUDIT_CHECKPOINT_EVERY = env_int("QUIETSHELF_AUDIT_CHECKPOINT_EVERY", 1000)
# Retention rules named by the privacy inventory: days after the event (None: while needed).
QUIETSHELF_RETENTION = {
    "staff_account": {
        "days": env_days("QUIETSHELF_RETENTION_STAFF_ACCOUNT_DAYS", 90),
        "after": "the staff account is closed",
    },
    "session": {
        "days": env_days("QUIETSHELF_RETENTION_SESSION_DAYS", 1),
        "after": "you sign out or the session expires",
    },
    "audit_log": {
        "days": env_days("QUIETSHELF_RETENTION_AUDIT_LOG_DAYS", 730),
        "after": "the entry is written",
    },
    "consent": {
        "days": env_days("QUIETSHELF_RETENTION_CONSENT_DAYS", 1095),
        "after": "consent is withdrawn",
    },
    "bibliographic": {"days": None, "after": "while the record is in the catalogue"},
    "api_token": {
        "days": env_days("QUIETSHELF_RETENTION_API_TOKEN_DAYS", 30),
        "after": "the token is revoked or its owner's account is closed",
    },
    "password_link": {
        "days": env_days("QUIETSHELF_RETENTION_PASSWORD_LINK_DAYS", 7),
        "after": "the link was sent",
    },
    "sign_in_failure": {
        "days": env_days("QUIETSHELF_RETENTION_SIGN_IN_FAILURE_DAYS", 1),
        "after": "the failed sign-in",
    },
    "patron_sso": {"days": 0, "after": "the patron account is erased or the link removed"},
    "patron_account": {
        # PRV-RET-1: 30 days after expiry (plus the library's inactivity limit), or at
        # once on the patron's date for erasure
        "days": env_days("QUIETSHELF_RETENTION_PATRON_ACCOUNT_DAYS", 30),
        "after": "the patron account expires (beyond the library's inactivity limit)",
    },
    # circulation (PRV-HIST-1/2): the patron link of a loan or hold goes when it closes
    "loan": {
        "days": env_days("QUIETSHELF_LOAN_DEIDENTIFY_DAYS", 0),
        "after": "the item is returned and any fee on it is resolved",
    },
    "hold": {"days": 0, "after": "the hold is filled, cancelled or expires"},
    "fee": {
        # financial records (PRV-RET-1: 7 years); bookkeeping law sets the floor
        "days": env_days("QUIETSHELF_RETENTION_FEE_DAYS", 2555, minimum=1825),
        "after": "the fee is resolved (you, the item and the title go the night after)",
    },
    "reading_history": {"days": None, "after": "until you delete it or withdraw consent"},
    # notices (PRV-NOT-1): the content goes once delivery is confirmed, only counts stay
    "notice": {"days": 0, "after": "the notice is delivered (failed ones: after 30 days)"},
    "notice_history": {
        "days": env_days("QUIETSHELF_RETENTION_NOTICE_HISTORY_DAYS", 30),
        "after": "the notice is sent, if you asked to keep notification history",
    },
    # the privacy office: requests from data subjects, disclosures, breach incidents
    "privacy_case": {
        "days": env_days("QUIETSHELF_RETENTION_PRIVACY_CASE_DAYS", 1095),
        "after": "the request is closed (what it was about goes with an erased account)",
    },
    # PRV-LOG-1 / PRV-RET-1 / PRV-RET-3 (enforced by `quietshelf retention`)
    "security_log": {
        "days": env_days("QUIETSHELF_RETENTION_SECURITY_LOG_DAYS", 90),
        "after": "the failed sign-in attempt",
    },
    "request_log": {
        "days": env_days("QUIETSHELF_RETENTION_REQUEST_LOG_DAYS", 14),
        "after": "the request",
    },
    "backup": {
        "days": env_days("QUIETSHELF_RETENTION_BACKUP_DAYS", 365),
        "after": "the backup is made",
    },
    "legal_hold": {"days": None, "after": "while the legal hold stands"},
}
# Timestamps of a row that loses its patron are truncated to this unit (PRV-HIST-5):
# day (the default), hour or week.
QUIETSHELF_RETENTION_COARSEN = env_str("QUIETSHELF_RETENTION_COARSEN", "day")
if QUIETSHELF_RETENTION_COARSEN not in {"hour", "day", "week"}:
    raise ImproperlyConfigured("QUIETSHELF_RETENTION_COARSEN must be hour, day or week")
# An expired account is purged this many days after expiry plus the patron_account rule.
QUIETSHELF_PATRON_INACTIVITY_DAYS = env_days("QUIETSHELF_PATRON_INACTIVITY_DAYS", 0)
# Keep a keyed digest of an erased patron's e-mail and phone so they are never written
# to again (PRV-DSR-4); off unless the library needs it.
QUIETSHELF_DO_NOT_CONTACT = env_bool("QUIETSHELF_DO_NOT_CONTACT", False)
QUIETSHELF_RETENTION_BATCH = env_days("QUIETSHELF_RETENTION_BATCH", 5000, minimum=1)
# Steps that only update rows in place (closed loans losing their patron) take larger
# batches: fewer transactions and fewer scans past the rows already done (PERF-RET-1).
QUIETSHELF_RETENTION_UPDATE_BATCH = env_days("QUIETSHELF_RETENTION_UPDATE_BATCH", 50000, minimum=1)
QUIETSHELF_BACKUP_DIR = Path(env_str("QUIETSHELF_BACKUP_DIR", str(INSTANCE_DIR / "backups")))
# --- patrons (PRV-MNR-1) --------------------------------------------------------
QUIETSHELF_MINOR_AGE = env_int("QUIETSHELF_MINOR_AGE", 18)
# "none": a guardian sees nothing of a minor's account; "by_law": what local law grants.
QUIETSHELF_GUARDIAN_ACCESS = env_str("QUIETSHELF_GUARDIAN_ACCESS", "none")
# Under this age (0: off) a new registration waits for a guardian's consent (PRV-MNR-1).
QUIETSHELF_MINOR_CONSENT_AGE = env_int("QUIETSHELF_MINOR_CONSENT_AGE", 0)
# The controller and the processor / sub-processor register (PRV-3P-1), as JSON.
QUIETSHELF_CONTROLLER = {
    "name": env_str("QUIETSHELF_CONTROLLER_NAME", "The library running this Quietshelf instance"),
    "contact": env_str("QUIETSHELF_PRIVACY_CONTACT", ""),
}
QUIETSHELF_PROCESSORS = json.loads(env_str("QUIETSHELF_PROCESSORS", "[]") or "[]")
# --- the privacy office (docs/privacy-office.md) ----------------------------------
# Requests from data subjects: the legal deadline and when to remind (PRV-DSR-6).
QUIETSHELF_REQUEST_DEADLINE_DAYS = env_int("QUIETSHELF_REQUEST_DEADLINE_DAYS", 30)
QUIETSHELF_REQUEST_REMIND_DAYS = env_int("QUIETSHELF_REQUEST_REMIND_DAYS", 7)
# Erasure with unresolved fees (PRV-DSR-4): "wait" (erasure waits until they are settled)
# or "keep" (the fees stay as financial records without the rest of the account).
QUIETSHELF_ERASURE_UNRESOLVED_FEES = env_str("QUIETSHELF_ERASURE_UNRESOLVED_FEES", "wait")
if QUIETSHELF_ERASURE_UNRESOLVED_FEES not in {"wait", "keep"}:
    raise ImproperlyConfigured("QUIETSHELF_ERASURE_UNRESOLVED_FEES must be wait or keep")
# Extra erasure exceptions (a do-not-contact record...; legal holds are built in): callables
# `f(patron) -> list[privacyoffice.policy.ErasureException]`.
QUIETSHELF_ERASURE_EXCEPTION_PROVIDERS = env_list("QUIETSHELF_ERASURE_EXCEPTION_PROVIDERS")
QUIETSHELF_SUPERVISORY_AUTHORITY = env_str(
    "QUIETSHELF_SUPERVISORY_AUTHORITY", "the national data protection authority"
)
QUIETSHELF_SUPERVISORY_AUTHORITY_URL = env_str("QUIETSHELF_SUPERVISORY_AUTHORITY_URL", "")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- passwords -----------------------------------------------------------------
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- patron portal (docs/patron-portal.md) -----------------------------------------
# off | pending (staff approve) | immediate
QUIETSHELF_SELF_REGISTRATION = env_str("QUIETSHELF_SELF_REGISTRATION", "off")
if QUIETSHELF_SELF_REGISTRATION not in {"off", "pending", "immediate"}:
    raise ImproperlyConfigured("QUIETSHELF_SELF_REGISTRATION must be off, pending or immediate")
QUIETSHELF_SITE_URL = env_str("QUIETSHELF_SITE_URL", "http://localhost:8000").rstrip("/")
QUIETSHELF_PATRON_IDLE_SECONDS = env_int("QUIETSHELF_PATRON_IDLE_SECONDS", 30 * 60)
QUIETSHELF_PATRON_SESSION_MAX_SECONDS = env_int("QUIETSHELF_PATRON_SESSION_MAX_SECONDS", 8 * 3600)
QUIETSHELF_PATRON_LOCKOUT_FAILURES = env_int("QUIETSHELF_PATRON_LOCKOUT_FAILURES", 20)
QUIETSHELF_PATRON_LOCKOUT_IP_FAILURES = env_int("QUIETSHELF_PATRON_LOCKOUT_IP_FAILURES", 200)
QUIETSHELF_PATRON_LOCKOUT_MINUTES = env_int("QUIETSHELF_PATRON_LOCKOUT_MINUTES", 15)
QUIETSHELF_PASSWORD_LINK_MINUTES = env_int("QUIETSHELF_PASSWORD_LINK_MINUTES", 60)
QUIETSHELF_REGISTRATIONS_PER_HOUR = env_int("QUIETSHELF_REGISTRATIONS_PER_HOUR", 10)
# Single sign-on providers for patrons (JSON list; docs/patron-portal.md, "Single sign-on").
try:
    QUIETSHELF_PATRON_SSO = json.loads(env_str("QUIETSHELF_PATRON_SSO", "[]") or "[]")
except ValueError:
    raise ImproperlyConfigured("QUIETSHELF_PATRON_SSO must be a JSON list of providers") from None
if not isinstance(QUIETSHELF_PATRON_SSO, list):
    raise ImproperlyConfigured("QUIETSHELF_PATRON_SSO must be a JSON list of providers")

# --- e-mail: SMTP when QUIETSHELF_SMTP_HOST is set, else printed to the console ----
# (outside production; in production, refused until a mail server is set)
if env_str("QUIETSHELF_SMTP_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("QUIETSHELF_SMTP_HOST")
    EMAIL_PORT = env_int("QUIETSHELF_SMTP_PORT", 587)
    EMAIL_HOST_USER = env_str("QUIETSHELF_SMTP_USER")
    EMAIL_HOST_PASSWORD = env_str("QUIETSHELF_SMTP_PASSWORD")
    EMAIL_USE_TLS = env_bool("QUIETSHELF_SMTP_STARTTLS", EMAIL_PORT == 587)
    EMAIL_USE_SSL = env_bool("QUIETSHELF_SMTP_SSL", EMAIL_PORT == 465)
    EMAIL_TIMEOUT = env_int("QUIETSHELF_SMTP_TIMEOUT", 20)
elif PRODUCTION:
    # Never print patrons' mail into the service's journal (core/mail.py).
    EMAIL_BACKEND = "quietshelf.core.mail.NoMailServerBackend"
else:
    # One 0600 file per message in <instance>/outgoing/, never the console or a log
    # (core/outgoing.py, PRV-LOG-1); the outgoing-purge job deletes them after a day.
    EMAIL_BACKEND = "quietshelf.core.outgoing.FolderEmailBackend"
QUIETSHELF_OUTGOING_DIR = INSTANCE_DIR / "outgoing"
QUIETSHELF_OUTGOING_HOURS = env_int("QUIETSHELF_OUTGOING_HOURS", 24)
DEFAULT_FROM_EMAIL = env_str("QUIETSHELF_MAIL_FROM", "library@localhost")

# --- sessions and cookies (SEC-SES-1) ----------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("QUIETSHELF_SESSION_MAX_SECONDS", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Staff: signed out after this long without a request (accounts/middleware.py),
# and asked again for password and second factor before changing them if the
# last check is older than QUIETSHELF_REAUTH_SECONDS (SEC-AUTH-1).
QUIETSHELF_SESSION_IDLE_SECONDS = env_int("QUIETSHELF_SESSION_IDLE_SECONDS", 30 * 60)
QUIETSHELF_REAUTH_SECONDS = env_int("QUIETSHELF_REAUTH_SECONDS", 10 * 60)
OTP_TOTP_ISSUER = env_str("QUIETSHELF_TOTP_ISSUER", "Quietshelf")
# Second factor (SEC-AUTH-1): wrong codes are counted per account in the database; after
# this many the second factor locks, first for QUIETSHELF_MFA_LOCK_SECONDS, each further lock
# in a row twice as long, at most QUIETSHELF_MFA_LOCK_MAX_SECONDS (accounts/policy.py).
QUIETSHELF_MFA_MAX_FAILURES = env_int("QUIETSHELF_MFA_MAX_FAILURES", 10)
QUIETSHELF_MFA_LOCK_SECONDS = env_int("QUIETSHELF_MFA_LOCK_SECONDS", 15 * 60)
QUIETSHELF_MFA_LOCK_MAX_SECONDS = env_int("QUIETSHELF_MFA_LOCK_MAX_SECONDS", 24 * 60 * 60)

# --- sign-in throttling (django-axes): lockout by address and account together.
# The tried name reaches axes only as a keyed digest (accounts/axes_support.py);
# form values are masked; successful sign-ins are not logged.
AXES_FAILURE_LIMIT = env_int("QUIETSHELF_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = env_int("QUIETSHELF_LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_USERNAME_CALLABLE = "quietshelf.accounts.axes_support.username_digest"
AXES_CLIENT_STR_CALLABLE = "quietshelf.accounts.axes_support.client_str"
AXES_SENSITIVE_PARAMETERS = [
    "username",
    "identifier",
    "email",
    "barcode",
    "login",
    "otp_token",
    "code",
    "ip_address",
]
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_VERBOSE = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_LOCKOUT_CALLABLE = "quietshelf.accounts.axes_support.lockout_response"  # + Retry-After
# The public catalogue sets no cookie before sign-in (PRV-PUB-1): the language
# is chosen from the URL parameter or the browser, never from a cookie.
LANGUAGE_COOKIE_NAME = "qs_lang"

# --- security headers ------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# --- i18n --------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("nb", "Norsk bokmål")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
FORMAT_MODULE_PATH = ["quietshelf.formats"]  # one date format per language (ISO 8601)
USE_I18N = True
TIME_ZONE = env_str("QUIETSHELF_TIME_ZONE", "Europe/Oslo")
USE_TZ = True

# --- static and media -------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = INSTANCE_DIR / "static"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = not PRODUCTION
MEDIA_ROOT = INSTANCE_DIR / "media"

# --- uploads (SEC-UP-1) -----------------------------------------------------
QUIETSHELF_MAX_UPLOAD_BYTES = env_int("QUIETSHELF_MAX_UPLOAD_BYTES", 200 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None

# --- catalogue ---------------------------------------------------------------
# Where make demo looks for the shared demo catalogue.
QUIETSHELF_SHARED_DATA = Path(
    env_str("QUIETSHELF_SHARED_DATA", str(REPO_ROOT.parent / "shared" / "data"))
)
# How an imported record is matched to one already stored, in order.
QUIETSHELF_IMPORT_MATCH = env_list("QUIETSHELF_IMPORT_MATCH") or ["001+003", "035", "isbn"]
QUIETSHELF_CURRENCY = env_str("QUIETSHELF_CURRENCY", "NOK")
# circulation: de-identify closed loans after N days (0: in the check-in transaction)
QUIETSHELF_LOAN_DEIDENTIFY_DAYS = env_days("QUIETSHELF_LOAN_DEIDENTIFY_DAYS", 0)
QUIETSHELF_HOLD_SHELF_DAYS = env_int("QUIETSHELF_HOLD_SHELF_DAYS", 7)
# how long each process keeps loan rules, calendars and branches (seconds)
QUIETSHELF_CIRC_CONFIG_CACHE_SECONDS = env_int("QUIETSHELF_CIRC_CONFIG_CACHE_SECONDS", 30)
# PRV-HIST-4 last-borrower escrow: 0 = off (the default); 30 when switched on
QUIETSHELF_LAST_BORROWER_ESCROW_DAYS = env_int("QUIETSHELF_LAST_BORROWER_ESCROW_DAYS", 0)
# automatic blocks (PAT-3): 0 switches a limit off
QUIETSHELF_FINE_BLOCK_LIMIT_MINOR = env_int("QUIETSHELF_FINE_BLOCK_LIMIT_MINOR", 20000)
QUIETSHELF_OVERDUE_BLOCK_LIMIT = env_int("QUIETSHELF_OVERDUE_BLOCK_LIMIT", 10)
# reports (PRV-AGG-1, PRV-SEP-1): the default k of small-cell suppression, and how
# long the search texts that found nothing are kept (days)
QUIETSHELF_REPORTS_K = env_int("QUIETSHELF_REPORTS_K", 5)
QUIETSHELF_SEARCH_TERMS_DAYS = env_int("QUIETSHELF_SEARCH_TERMS_DAYS", 90)
# hold slips: the patron's name beside the pickup code (off: the code alone, PRV-NOT-1)
QUIETSHELF_HOLD_SLIP_NAMES = env_bool("QUIETSHELF_HOLD_SLIP_NAMES", False)
# check-in asks before setting a copy aside for a hold (off: it is set aside at once)
QUIETSHELF_TRAP_CONFIRM = env_bool("QUIETSHELF_TRAP_CONFIRM", False)

# --- reverse proxies and the shared cache -----------------------------------
# Addresses (or CIDR networks) of the reverse proxies whose X-Forwarded-For is
# believed; without it, behind a proxy every client shares one rate limit.
QUIETSHELF_TRUSTED_PROXIES = env_list("QUIETSHELF_TRUSTED_PROXIES")
try:
    import ipaddress as _ipaddress

    for _cidr in QUIETSHELF_TRUSTED_PROXIES:
        _ipaddress.ip_network(_cidr, strict=False)
except ValueError as _exc:
    raise ImproperlyConfigured(f"QUIETSHELF_TRUSTED_PROXIES: {_exc}") from None
AXES_CLIENT_IP_CALLABLE = "quietshelf.accounts.axes_support.client_network"

# --- public search limits (SEC-DOS-1) ---------------------------------------
QUIETSHELF_SEARCH_MAX_QUERY_CHARS = env_int("QUIETSHELF_SEARCH_MAX_QUERY_CHARS", 500)
QUIETSHELF_SEARCH_RATE_PER_MINUTE = env_int("QUIETSHELF_SEARCH_RATE_PER_MINUTE", 120)

# --- metadata exchange: OAI-PMH and SRU (INT-3, docs/oai-pmh.md, docs/sru.md) ---
# The repository identifier is the domain-like part of oai:<id>:<record>.
QUIETSHELF_OAI_REPOSITORY_ID = env_str("QUIETSHELF_OAI_REPOSITORY_ID", "quietshelf.local")
QUIETSHELF_OAI_REPOSITORY_NAME = env_str("QUIETSHELF_OAI_REPOSITORY_NAME", "Quietshelf catalogue")
# Empty: DEFAULT_FROM_EMAIL if it has a dotted domain, else library@<repository id>.
QUIETSHELF_OAI_ADMIN_EMAIL = env_str("QUIETSHELF_OAI_ADMIN_EMAIL", "")
QUIETSHELF_OAI_PAGE_SIZE = env_int("QUIETSHELF_OAI_PAGE_SIZE", 100)
QUIETSHELF_OAI_TOKEN_DAYS = env_int("QUIETSHELF_OAI_TOKEN_DAYS", 7)
# Extra sets: [{"spec": "music", "name": "Music", "format": ["music", "score"],
#               "language": [...], "branch": [...]}]
QUIETSHELF_OAI_SETS = json.loads(env_str("QUIETSHELF_OAI_SETS", "[]") or "[]")
QUIETSHELF_SRU_MAX_RECORDS = env_int("QUIETSHELF_SRU_MAX_RECORDS", 50)

# Rate limits, lock-outs and SAML replay checks live in the cache: several
# server processes need a shared one (QUIETSHELF_CACHE_URL=redis://host:6379/1).
QUIETSHELF_CACHE_URL = env_str("QUIETSHELF_CACHE_URL")
if QUIETSHELF_CACHE_URL:
    if not QUIETSHELF_CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured("QUIETSHELF_CACHE_URL must be a redis:// URL")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": QUIETSHELF_CACHE_URL,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "quietshelf",
        }
    }

# --- logging (PRV-LOG-1): ids and truncated addresses only ------------------
LOG_DIR = INSTANCE_DIR / "logs"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        # Django's request logger names the path only (never the query string),
        # so its errors may go out; the per-request line comes from
        # RequestIdMiddleware, scrubbed.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "quietshelf": {"handlers": ["console"], "level": env_str("QUIETSHELF_LOG_LEVEL", "INFO")},
    },
}
# A log file of this process in LOG_DIR as well (e.g. worker.log): rotated at midnight
# UTC, 0600, rotated files kept for the request-log rule and deleted by the retention
# job after it (core/logfiles.py, PRV-LOG-1).
QUIETSHELF_LOG_FILE = env_str("QUIETSHELF_LOG_FILE")
if QUIETSHELF_LOG_FILE:
    if Path(QUIETSHELF_LOG_FILE).name != QUIETSHELF_LOG_FILE:
        raise ImproperlyConfigured("QUIETSHELF_LOG_FILE is a file name in <instance>/logs/")
    LOGGING["handlers"]["file"] = {
        "()": "quietshelf.core.logfiles.handler",
        "path": str(LOG_DIR / QUIETSHELF_LOG_FILE),
        "days": QUIETSHELF_RETENTION["request_log"]["days"] or 14,
        "formatter": "plain",
    }
    for _logger in ("django.request", "quietshelf"):
        LOGGING["loggers"][_logger]["handlers"].append("file")

# --- SIP2 self-check server (quietshelf sip2, docs/sip2.md) -----------------
QUIETSHELF_SIP2_HOST = env_str("QUIETSHELF_SIP2_HOST", "127.0.0.1")
QUIETSHELF_SIP2_PORT = env_int("QUIETSHELF_SIP2_PORT", 6001)
# PRV-ENC-2: TLS with these, or plain TCP only inside a VPN (QUIETSHELF_SIP2_PLAIN_OK).
QUIETSHELF_SIP2_TLS_CERT = env_str("QUIETSHELF_SIP2_TLS_CERT")
QUIETSHELF_SIP2_TLS_KEY = env_str("QUIETSHELF_SIP2_TLS_KEY")
QUIETSHELF_SIP2_PLAIN_OK = env_bool("QUIETSHELF_SIP2_PLAIN_OK", not PRODUCTION)
QUIETSHELF_SIP2_CHARSET = env_str("QUIETSHELF_SIP2_CHARSET", "utf-8")
QUIETSHELF_SIP2_MAX_CONNECTIONS = env_int("QUIETSHELF_SIP2_MAX_CONNECTIONS", 200)
QUIETSHELF_SIP2_IDLE_SECONDS = env_int("QUIETSHELF_SIP2_IDLE_SECONDS", 600)
QUIETSHELF_SIP2_RATE_PER_SECOND = env_int("QUIETSHELF_SIP2_RATE_PER_SECOND", 20)
QUIETSHELF_SIP2_THREADS = env_int("QUIETSHELF_SIP2_THREADS", 8)
QUIETSHELF_SIP2_PIN_FAILURES = env_int("QUIETSHELF_SIP2_PIN_FAILURES", 5)
QUIETSHELF_SIP2_TERMINAL_PIN_FAILURES = env_int("QUIETSHELF_SIP2_TERMINAL_PIN_FAILURES", 50)
QUIETSHELF_SIP2_LOGIN_FAILURES = env_int("QUIETSHELF_SIP2_LOGIN_FAILURES", 5)
QUIETSHELF_SIP2_LOCKOUT_MINUTES = env_int("QUIETSHELF_SIP2_LOCKOUT_MINUTES", 15)
