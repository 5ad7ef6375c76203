"""The gateway agent: the phone side of the WebSocket protocol (docs/gateway-protocol.md), a
program of its own. ``agent.py`` uses the standard library and ``websockets`` only, imports
nothing of the server's, and is what phones download from ``/gateway/agent.py``."""
