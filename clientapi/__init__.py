"""The client API (``/api/v1``): its HTTP side. Each view authenticates, counts, parses and
checks the request, picks the phone where a message needs one (it alone knows both
``messaging`` and ``gateways``), calls one service with plain values and writes the answer.
The hottest routes are also served by the lean edge (mysmsapio/edge.py) through the same
answer functions."""
