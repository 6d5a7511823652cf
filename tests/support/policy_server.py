"""A greylisting policy server speaking Postfix's policy delegation protocol (SMTPD_POLICY_README).

Postfix's smtpd asks it at RCPT through ``check_policy_service inet:127.0.0.1:PORT``: a
request is ``name=value`` lines ended by an empty line; the answer is ``action=...`` and an
empty line. Like postgrey, it defers the first attempt of each (client address, sender,
recipient) triplet with ``DEFER_IF_PERMIT`` and lets every later one through (``DUNNO``);
only recipients in ``greylist`` are greylisted, so the rest of the workload is not delayed.
It runs in the test process (threads), stdlib only, and is stopped by :meth:`stop`.
"""

from __future__ import annotations

import socketserver
import threading

#: Postfix tells the client ``450 4.7.1 <rcpt>: Recipient address rejected: `` and this.
REASON = "Greylisted, try again in a second"


class GreylistPolicy:
    """Greylists the recipients in ``greylist`` once per triplet; see the module docstring."""

    def __init__(self, greylist: set[str]) -> None:
        self.greylist = {r.lower() for r in greylist}
        self.seen: set[tuple[str, str, str]] = set()
        self.requests: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server: socketserver.ThreadingTCPServer | None = None
        self.port = 0

    def decide(self, request: dict[str, str]) -> str:
        """The action for one request (a policy server answers every request it gets)."""
        rcpt = request.get("recipient", "").lower()
        triplet = (request.get("client_address", ""), request.get("sender", "").lower(), rcpt)
        with self._lock:
            self.requests.append(request)
            if rcpt not in self.greylist or triplet in self.seen:
                return "DUNNO"
            self.seen.add(triplet)
        return f"DEFER_IF_PERMIT {REASON}"

    def start(self) -> GreylistPolicy:
        policy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                # One connection carries many requests: smtpd keeps it open between them.
                request: dict[str, str] = {}
                for raw in self.rfile:
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    if line:
                        name, _, value = line.partition("=")
                        request[name] = value
                        continue
                    self.wfile.write(f"action={policy.decide(request)}\n\n".encode())
                    self.wfile.flush()
                    request = {}

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
