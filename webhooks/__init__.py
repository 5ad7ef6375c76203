"""Webhooks: an account's endpoints told of its messages, inbound SMS, phones and OTPs, through
a transactional outbox, signed per Standard Webhooks, delivered by their own HTTP client. It
knows no other app: each app emits its own events (``webhook_emit``)."""
