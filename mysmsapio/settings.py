"""MySMSAPio settings.

One code base, two modes, chosen by the environment alone:

- Embedded (nothing set): SQLite, in-memory channel layer, local-memory cache, background work
  in-process. Secrets are generated once into ``var/secrets.json`` so keys survive restarts.
- Production (``DATABASE_URL`` / ``REDIS_URL`` set): PostgreSQL, Redis (channel layer, cache,
  Celery broker, rate limits). ``SECRET_KEY`` and ``HASH_SECRET`` are then required.

Every variable is listed in ``.env.example`` and in the README.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from core.clientaddr import parse_networks

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")
# Production mode is any deployment that talks to a real database or Redis: there, secrets
# must come from the environment, never from a generated file on one node's disk.
PRODUCTION = bool(DATABASE_URL or REDIS_URL)
VAR_DIR = Path(env.str("MYSMSAPIO_VAR_DIR", default=str(BASE_DIR / "var")))


def _embedded_secrets() -> dict[str, str]:
    """Secrets for embedded mode, generated on first use and kept out of the database."""
    path = VAR_DIR / "secrets.json"
    if path.is_file():
        return json.loads(path.read_text())
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    values = {"SECRET_KEY": secrets.token_urlsafe(50), "HASH_SECRET": secrets.token_urlsafe(50)}
    path.touch(mode=0o600)
    path.write_text(json.dumps(values))
    return values


def _secret(name: str) -> str:
    value = env.str(name, default="")
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set in production mode")
    return _embedded_secrets()[name]


# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
SECRET_KEY = _secret("SECRET_KEY")
# Key of the HMACs that store API keys, gateway tokens and OTP codes. Never in the database.
HASH_SECRET = _secret("HASH_SECRET")

DEBUG = env.bool("DEBUG", default=False)
# The Host names the server answers to, on every path (the API's included). Embedded mode
# allows any host: phones and client apps reach it by a LAN address we cannot know. Production
# defaults to this machine's loopback names and refuses "*" unless ALLOW_ANY_HOST=true: a
# server that answers any Host can be reached through any DNS name pointed at it.
ALLOWED_HOSTS = [h for h in env.list("ALLOWED_HOSTS", default=[]) if h] or (
    ["localhost", "127.0.0.1", "[::1]"] if PRODUCTION else ["*"]
)
ALLOW_ANY_HOST = env.bool("ALLOW_ANY_HOST", default=not PRODUCTION)
if "*" in ALLOWED_HOSTS and not ALLOW_ANY_HOST:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS=* in production mode: list the names clients and phones use "
        "(ALLOWED_HOSTS=sms.example.com,192.168.1.20), or set ALLOW_ANY_HOST=true to mean it"
    )
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS ----------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-ssl-redirect and the HSTS settings.
# HTTPS=true when the server is reached over TLS (usually a proxy in front): secure cookies,
# HSTS, and plain-HTTP requests redirected, except the health checks a load balancer makes.
HTTPS = env.bool("HTTPS", default=False)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
TRUST_X_FORWARDED_PROTO = env.bool("TRUST_X_FORWARDED_PROTO", default=False)
if TRUST_X_FORWARDED_PROTO:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Our own proxies (Caddy in docker-compose): from these networks, and only from them,
# X-Forwarded-For names the client (core/clientaddr.py), for the admin's login limiter, the
# logs and METRICS_ALLOWED_IPS; and only they may say X-Forwarded-Proto once this is set.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
TRUSTED_PROXY_NETWORKS = parse_networks(TRUSTED_PROXIES)
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^up$", r"^ready$", r"^metrics$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "daphne",
    # Before the admin, so that its templates (admin/base_site.html) take precedence.
    "adminpanel",
    "adminpanel.apps.MySmsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",  # generates the client API's OpenAPI document
    "drf_spectacular_sidecar",  # Swagger UI's static files for /api/docs/
    "channels",
    "core",
    "mysmsapio",
    "accounts",
    "messaging",
    "webhooks",
    "otp",
    "gateways",
    "smsgate",  # SMS Gate's client API: no models of its own, a periodic task (its pings)
]

MIDDLEWARE = [
    "mysmsapio.requestlog.RequestLogMiddleware",
    "mysmsapio.middleware.ApiMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "adminpanel.middleware.AdminLoginRateLimitMiddleware",
]

# The public API (/api/, /up) runs this chain instead, under mysmsapio.handlers: async-native
# middleware only.
API_MIDDLEWARE = [
    "mysmsapio.requestlog.RequestLogMiddleware",
    "mysmsapio.middleware.ApiMiddleware",
]

ROOT_URLCONF = "mysmsapio.urls"
ASGI_APPLICATION = "mysmsapio.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# https://docs.djangoproject.com/en/5.2/ref/settings/#databases
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    # "pool" (ASGI processes, Celery) or "persistent" (set by mysmsapio/wsgi.py).
    DB_CONNECTIONS = env.str("DB_CONNECTIONS", default="pool")
    if DATABASES["default"]["ENGINE"].endswith("postgresql") and DB_CONNECTIONS == "persistent":
        # A WSGI worker keeps a fixed set of threads: one connection each, kept open, costs
        # nothing per request, where a pool charges a checkout and a return to every request.
        # https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
        DATABASES["default"]["CONN_MAX_AGE"] = None
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # Bound on the server, so that psycopg prepares a statement after its fifth run on a
        # connection: the hot paths' fixed statements (core/db.py) skip PostgreSQL's planner.
        # https://docs.djangoproject.com/en/5.2/ref/databases/#server-side-parameters-binding
        DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
    if DATABASES["default"]["ENGINE"].endswith("postgresql") and DB_CONNECTIONS != "persistent":
        # Under ASGI every request runs in its own thread context, so persistent per-thread
        # connections pile up (and each new one costs a PostgreSQL backend start): use
        # psycopg's pool instead. https://docs.djangoproject.com/en/5.2/ref/databases/#connection-pool
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
            "timeout": env.int("DB_POOL_TIMEOUT", default=10),
        }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(VAR_DIR / "mysmsapio.sqlite3")),
            "OPTIONS": {
                # IMMEDIATE takes SQLite's write lock when a transaction starts, so the
                # check-then-write sections (OTP quota, one-time verify) are serialised
                # exactly as SELECT ... FOR UPDATE serialises them on PostgreSQL.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {"NAME": env.str("SQLITE_TEST_PATH", default=str(VAR_DIR / "test.sqlite3"))},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Threads a phone server runs its database calls on (gateways/db.py), so that its phones'
# commits overlap; 1 is Channels' one shared thread, and SQLite (one writer at a time) keeps it.
# Each call takes one connection of the pool for its length: keep it under DB_POOL_MAX_SIZE.
PHONE_DB_THREADS = (
    env.int("PHONE_DB_THREADS", default=4) if DATABASES["default"]["ENGINE"].endswith("postgresql") else 1
)
_pool = DATABASES["default"].get("OPTIONS", {}).get("pool")
if PHONE_DB_THREADS < 1 or (_pool and _pool["max_size"] <= PHONE_DB_THREADS):
    raise ImproperlyConfigured("PHONE_DB_THREADS must be at least 1 and below DB_POOL_MAX_SIZE")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
    CACHES["heartbeat"] = CACHES["default"]
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: signals are fire-and-forget (the database holds every message; periodic
            # tasks repair a lost wake-up), and its subscriptions, groups included, live in each
            # process and are re-made by redis-py when Redis comes back. The list-based core
            # layer keeps groups in Redis: a Redis restart silently emptied them, and its shared
            # receive lock could leave a whole node deaf afterwards (tests/topology).
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 5}]},
        }
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        # The worker heartbeat must be visible to other processes (manage.py check_worker) on
        # this machine: a file, since embedded mode is one machine.
        "heartbeat": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "heartbeat"),
        },
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Rate limits are atomic counters: Redis (Lua) when there is one, else a database upsert.
RATELIMIT_BACKEND = env.str("RATELIMIT_BACKEND", default="redis" if REDIS_URL else "database")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' static folders when collectstatic has not run, so that
# `make run` shows a complete admin without a build step.
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.ApiJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_SCHEMA_CLASS": "mysmsapio.openapi.ApiAutoSchema",
}
# The client API's OpenAPI document, generated from the views' declarations (mysmsapio/openapi.py).
SPECTACULAR_SETTINGS = {
    "TITLE": "MySMSAPio",
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "DESCRIPTION": "Send SMS and OTPs through your own Android phones. The integration guide's endpoints exactly, "
    "and what is marked 'beyond the guide'. Authenticate with `Authorization: Bearer api_live_...`; a test-mode key "
    "(`api_test_...`) works on every endpoint, and its messages never reach a phone (docs/test-mode.md). "
    "Under `/api/3rdparty/v1`: SMS Gate's client API, for its official libraries (docs/smsgate-clients.md).",
    "PREPROCESSING_HOOKS": ["mysmsapio.openapi.only_the_client_apis"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mysmsapio.openapi.add_plain_operations",
    ],
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api(/3rdparty)?/v1",
    "DISABLE_ERRORS_AND_WARNINGS": False,
}

# Browsers on these origins may call the API (CORS); empty (the default): no CORS headers at
# all. "*" allows any origin. An API key in a browser is readable by its user: prefer calling
# the API from your server.
API_CORS_ALLOWED_ORIGINS = env.list("API_CORS_ALLOWED_ORIGINS", default=[])

# Request bodies above this size get 413 on the API; a 1600-character SMS is far below it.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=16 * 1024)
# ... except POST /api/v1/sms/bulk (up to 1,000 messages), within Django's own 2.5 MB cap.
API_BULK_MAX_BODY_BYTES = env.int("API_BULK_MAX_BODY_BYTES", default=2 * 1024 * 1024)

# Operator logins: at most this many attempts per client address per window.
ADMIN_LOGIN_ATTEMPTS = env.int("ADMIN_LOGIN_ATTEMPTS", default=10)
# The same, per user name tried (whatever the address): guessing one operator's password from
# many addresses is limited too.
ADMIN_LOGIN_ATTEMPTS_PER_USERNAME = env.int("ADMIN_LOGIN_ATTEMPTS_PER_USERNAME", default=10)
ADMIN_LOGIN_WINDOW_SECONDS = env.int("ADMIN_LOGIN_WINDOW_SECONDS", default=300)
# SMS Gate's client API (smsgate/): failed Basic logins allowed per client address and per
# login, per ADMIN_LOGIN_WINDOW_SECONDS; then 429 until the window ends.
SMSGATE_LOGIN_FAILURES = env.int("SMSGATE_LOGIN_FAILURES", default=10)
# Its bearer tokens (POST /auth/token): an access token lives at most this long (a client's
# "ttl" shortens it), its refresh token this long, and is exchanged once.
SMSGATE_TOKEN_TTL_SECONDS = env.int("SMSGATE_TOKEN_TTL_SECONDS", default=15 * 60)
SMSGATE_REFRESH_TTL_SECONDS = env.int("SMSGATE_REFRESH_TTL_SECONDS", default=30 * 24 * 3600)
# Past either limit the key is locked for a window, doubling at each lock-out, up to this.
ADMIN_LOGIN_MAX_LOCK_SECONDS = env.int("ADMIN_LOGIN_MAX_LOCK_SECONDS", default=3600)

# API keys and the phones that can take a message are kept in each process's memory, exact
# by invalidation over Redis (core/invalidation.py); off: read from the database always.
MEMO_CACHES = env.bool("MEMO_CACHES", default=True)
# ...and, should an invalidation be lost, forgotten after this long anyway (a backstop).
MEMO_MAX_AGE_SECONDS = env.float("MEMO_MAX_AGE_SECONDS", default=60.0)

# The address clients and phones reach this server at (http://192.168.1.20:3005, or
# https://sms.example.com): the pairing page's default, since the admin may be open on
# localhost, which no phone can reach. Empty: the address the admin was opened on.
PUBLIC_URL = env.str("PUBLIC_URL", default="").rstrip("/")
SPECTACULAR_SETTINGS["SERVERS"] = [{"url": PUBLIC_URL or "/"}]
# Where phones connect when that is not PUBLIC_URL (make prod-local gives each node's phone
# server its own port); empty: PUBLIC_URL's rule.
PHONE_SERVER_URL = env.str("PHONE_SERVER_URL", default="").rstrip("/")

# --- Product settings -------------------------------------------------------------------
SMS_RATE_LIMIT_PER_MINUTE = env.int("SMS_RATE_LIMIT_PER_MINUTE", default=100)
SMS_MAX_LENGTH = 1600
# How long a message may wait for a gateway before it ends failed ("Expired: ...").
MESSAGE_VALIDITY_SECONDS = env.int("MESSAGE_VALIDITY_SECONDS", default=24 * 3600)
# Test-mode messages (api_test_ keys, docs/test-mode.md) stay this long in each state
# (queued, sent) before the next: about 2 s from send to delivered.
TEST_MESSAGE_STEP_SECONDS = env.float("TEST_MESSAGE_STEP_SECONDS", default=1.0)

OTP_TTL_SECONDS = env.int("OTP_TTL_SECONDS", default=300)
OTP_MAX_SENDS_PER_HOUR = env.int("OTP_MAX_SENDS_PER_HOUR", default=3)
# So that one client cannot pump codes to thousands of numbers: per API key and per account,
# per clock hour, on top of the per-number limit.
OTP_MAX_SENDS_PER_KEY_PER_HOUR = env.int("OTP_MAX_SENDS_PER_KEY_PER_HOUR", default=200)
OTP_MAX_SENDS_PER_ACCOUNT_PER_HOUR = env.int("OTP_MAX_SENDS_PER_ACCOUNT_PER_HOUR", default=1000)
OTP_MAX_ATTEMPTS = env.int("OTP_MAX_ATTEMPTS", default=3)
OTP_MAX_CONSECUTIVE_FAILURES = env.int("OTP_MAX_CONSECUTIVE_FAILURES", default=10)
OTP_LOCKOUT_SECONDS = env.int("OTP_LOCKOUT_SECONDS", default=3600)
OTP_MESSAGE_TEMPLATE = env.str(
    "OTP_MESSAGE_TEMPLATE",
    default="Your verification code is {code}. It expires in {minutes} minutes.",
)
# OTP rows older than this are deleted by the periodic clean-up.
OTP_RETENTION_SECONDS = env.int("OTP_RETENTION_SECONDS", default=7 * 24 * 3600)

# A gateway counts as online while its socket is open and it was heard from this recently.
GATEWAY_ONLINE_WINDOW_SECONDS = env.int("GATEWAY_ONLINE_WINDOW_SECONDS", default=90)
GATEWAY_HEARTBEAT_SECONDS = env.int("GATEWAY_HEARTBEAT_SECONDS", default=30)
# An app phone's event stream: a keepalive this often, which also re-checks its token (a roll
# made on another node, or by a command, closes the stream within this time).
GATEWAY_APP_KEEPALIVE_SECONDS = env.float("GATEWAY_APP_KEEPALIVE_SECONDS", default=15.0)
# A job its phone has not accepted within this goes to another phone.
GATEWAY_ACK_TIMEOUT_SECONDS = env.int("GATEWAY_ACK_TIMEOUT_SECONDS", default=30)
# Pacing: a phone gets at most its rate_per_minute SMS parts per window (60 s; tests shrink it).
GATEWAY_RATE_WINDOW_SECONDS = env.float("GATEWAY_RATE_WINDOW_SECONDS", default=60.0)
# Finished messages, their events, inbound SMS and gateway events older than this are deleted.
MESSAGE_RETENTION_SECONDS = env.int("MESSAGE_RETENTION_SECONDS", default=90 * 24 * 3600)

# The API request log shown at /admin/logs (mysmsapio/requestlog.py): written in batches by a
# thread every REQUEST_LOG_FLUSH_SECONDS, kept REQUEST_LOG_RETENTION_SECONDS.
REQUEST_LOG_ENABLED = env.bool("REQUEST_LOG_ENABLED", default=True)
REQUEST_LOG_FLUSH_SECONDS = env.float("REQUEST_LOG_FLUSH_SECONDS", default=1.0)
REQUEST_LOG_BUFFER_MAX = env.int("REQUEST_LOG_BUFFER_MAX", default=20000)
REQUEST_LOG_RETENTION_SECONDS = env.int("REQUEST_LOG_RETENTION_SECONDS", default=14 * 24 * 3600)
# Rolling an API key in the admin: how long the old key keeps working.
API_KEY_ROLL_GRACE_SECONDS = env.int("API_KEY_ROLL_GRACE_SECONDS", default=24 * 3600)

# --- Background work --------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Workers log through LOGGING (JSON lines in production), like the web nodes.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Embedded mode has no broker: `.delay()` runs the task in-process.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
# /metrics (Prometheus): open to these client networks, or to `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1/32", "::1/128"])
METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network(net, strict=False) for net in METRICS_ALLOWED_IPS]

# /ready wants a worker heartbeat (a beat task) no older than READY_WORKER_MAX_AGE_SECONDS.
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=15.0)
READY_WORKER_MAX_AGE_SECONDS = env.float("READY_WORKER_MAX_AGE_SECONDS", default=60.0)
CELERY_BEAT_SCHEDULE = {
    "dispatch-pending": {"task": "gateways.tasks.dispatch_pending", "schedule": 10.0},
    "release-ack-timeouts": {"task": "gateways.tasks.release_ack_timeouts", "schedule": 10.0},
    "mark-silent-gateways-offline": {"task": "gateways.tasks.mark_silent_gateways_offline", "schedule": 30.0},
    # Embedded mode's only way to end the connections of a phone revoked by manage.py; in
    # production a backstop for a lost publish (the close goes through Redis).
    "close-ended-connections": {
        "task": "gateways.tasks.close_ended_connections",
        "schedule": 10.0 if REDIS_URL else 2.0,
    },
    "expire-messages": {"task": "messaging.tasks.expire_messages", "schedule": 30.0},
    "otp-expire-stale": {"task": "otp.tasks.otp_expire_stale", "schedule": 60.0},
    "prune-old-rows": {"task": "messaging.tasks.prune_old_rows", "schedule": 3600.0},
    "prune-logs": {"task": "adminpanel.tasks.prune_logs", "schedule": 3600.0},
    "prune-rate-limit-counters": {"task": "core.tasks.prune_rate_limit_counters", "schedule": 3600.0},
    "worker-heartbeat": {"task": "core.tasks.worker_heartbeat", "schedule": WORKER_HEARTBEAT_SECONDS},
}
# Webhooks (webhooks/services.py): a try waits this long for a 2xx; failures are retried with
# backoff for WEBHOOK_RETRY_SECONDS (3 days), then given up, and an endpoint failing that long
# is disabled. Private, loopback and link-local addresses are refused unless allowed.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_RETRY_SECONDS = env.int("WEBHOOK_RETRY_SECONDS", default=3 * 24 * 3600)
WEBHOOK_SECRET_ROTATION_GRACE_SECONDS = env.int("WEBHOOK_SECRET_ROTATION_GRACE_SECONDS", default=24 * 3600)
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=False)
CELERY_BEAT_SCHEDULE["deliver-webhooks"] = {"task": "webhooks.tasks.deliver_due_webhooks", "schedule": 2.0}
CELERY_BEAT_SCHEDULE["prune-webhook-events"] = {"task": "webhooks.tasks.prune_webhook_events", "schedule": 3600.0}
# system:ping for SMS Gate-style webhooks, at each account's ping.interval_seconds (to 10 s).
CELERY_BEAT_SCHEDULE["smsgate-pings"] = {"task": "smsgate.tasks.smsgate_send_pings", "schedule": 10.0}
# Deliveries wait on receivers anyone can point us at: their own queue (and worker), never
# between dispatch and the phones (webhooks/tasks.py).
CELERY_TASK_ROUTES = {"webhooks.tasks.deliver_webhook": {"queue": "webhooks"}}
# Embedded mode: how many deliveries run at once, on threads of their own.
WEBHOOK_EMBEDDED_THREADS = env.int("WEBHOOK_EMBEDDED_THREADS", default=4)
CELERY_BEAT_SCHEDULE["simulate-test-messages"] = {"task": "messaging.tasks.simulate_test_messages", "schedule": 1.0}
# Embedded mode runs CELERY_BEAT_SCHEDULE on a thread inside the web process.
EMBEDDED_SCHEDULER = env.bool("EMBEDDED_SCHEDULER", default=not REDIS_URL)

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# JSON lines in production (one object per line, with the request id), plain text embedded.
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "plain")
# One access-log line per HTTP request (method, path, status, latency, request id).
ACCESS_LOG = env.bool("ACCESS_LOG", default=LOG_FORMAT == "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "core.logs.RequestIdFilter"},
        "redact": {"()": "core.logs.RedactSecretsFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "core.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Embedded mode runs the periodic tasks in the web process every few seconds: a line per
        # run would drown the server's log. Workers in production keep them (one per task run).
        **({} if PRODUCTION else {"celery.app.trace": {"level": "WARNING"}}),
        # With the access log on, Django's own "Bad Request: /api/..." warning repeats what the
        # access line already says (status, path, request id) for every 4xx: keep its errors.
        **({"django.request": {"level": "ERROR"}} if ACCESS_LOG else {}),
    },
}
