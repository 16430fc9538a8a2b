"""The scim2-server peer of bench/peers: its ASGI application over its
asynchronous in-memory storage, for uvicorn, with one bearer token.

    PEER_TOKEN=secret uvicorn --app-dir bench/peers scim2_server_app:app

The resources live in the process's memory, so it runs as one uvicorn worker.
The SCIM endpoints are under /v2 (e.g. /v2/Users).
"""

import os

from scim2_models import UnauthorizedException
from scim2_server.applications.asgi import ASGIApplication
from scim2_server.memory import AsyncInMemoryStorage
from scim2_server.utils import load_default_provider

TOKEN = os.environ.get("PEER_TOKEN", "")
if not TOKEN:
    raise SystemExit("scim2_server_app: set PEER_TOKEN")


class BearerApplication(ASGIApplication):
    """Refuses every request that does not carry the bearer token."""

    def check_auth(self, request):
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token != TOKEN:
            raise UnauthorizedException


app = BearerApplication(AsyncInMemoryStorage(), load_default_provider())
