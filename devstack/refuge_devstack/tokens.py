"""Access tokens for tests of services other than intake: intake's own issuer, with its
JWKS served on a local port, so the service under test verifies real tokens over HTTP."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from refuge_common.auth.principal import Principal
from refuge_devstack.ports import free_port


class LocalIssuer:
    def __init__(self, key_file: Path) -> None:
        from refuge_intake.adapters.token_issuer import TokenIssuer, generate_signing_key

        generate_signing_key(key_file)
        self._issuer = TokenIssuer(key_file, ttl_seconds=600)
        jwks = json.dumps(self._issuer.jwks()).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(jwks)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.jwks_url = f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"

    def token(self, principal: Principal) -> str:
        return self._issuer.issue(principal)

    def close(self) -> None:
        self._server.shutdown()
