"""The live service (a face: no rules of its own): ticks and events in, alerts and queries
out, over HTTP, WebSocket and Server-Sent Events, with a dashboard. See docs/service.md.

:class:`Service` (the engine, its risk book, the alert state) needs only the core
dependencies; the HTTP application (:mod:`marginengine.service.app`) needs the ``serve``
extra (fastapi, uvicorn, psycopg) and is imported only where it is used.
"""

from marginengine.service.core import DEFAULT_THRESHOLDS, Service, Settings, TickReport
from marginengine.service.requests import RequestError

__all__ = ["DEFAULT_THRESHOLDS", "RequestError", "Service", "Settings", "TickReport"]
