"""Django admin for operators, one module per app, plus the gateway pairing page. Secrets (API
keys, gateway tokens, webhook secrets) are shown once, on a page rendered for that response
only: never stored, never put in a session or message."""

from . import accounts, gateways, messaging, otp, webhooks  # noqa: F401  (each registers its admins)
