"""SMS Gate's client API (``/api/3rdparty/v1``, and ``/3rdparty/v1``), so that the official
client libraries of the SMS Gateway for Android ecosystem (PyPI and npm ``android-sms-gateway``)
work against our server unchanged, on the same domain services as our own ``/api/v1``
(docs/smsgate-clients.md; the contract: ``smsgate-3rdparty-api.md``)."""
