"""The kernel every app builds on: crypto, database helpers, errors, rate limits, in-process
caches, logs, metrics, health checks, storable text, the phone-wake signal. It imports none of
our apps and nothing of the project's config (``mysmsapio``)."""
