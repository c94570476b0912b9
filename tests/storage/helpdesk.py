"""A fake helpdesk on 127.0.0.1 that keeps one ticket per idempotency key, as the contract asks a
real one to do, and records every request it received (duplicates included)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional


class FakeHelpdesk:
    def __init__(self) -> None:
        self.requests: list[dict] = []  # every POST: key (header), body, time
        self.tickets: dict[str, dict] = {}  # what the helpdesk keeps: one per key
        self.fail_next = 0  # answer 503 to this many requests
        self.delay = 0.0  # seconds before answering
        self.hang = threading.Event()  # while set: record the request, then never answer
        self.received = threading.Condition()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tickets"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler(self) -> type:
        desk = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers.get("Idempotency-Key")
                with desk._lock:
                    desk.requests.append({"key": key, "body": body, "at": time.monotonic()})
                    failing = desk.fail_next > 0
                    if failing:
                        desk.fail_next -= 1
                with desk.received:
                    desk.received.notify_all()
                if desk.hang.is_set():
                    while desk.hang.is_set():  # the worker is killed while waiting here
                        time.sleep(0.05)
                    self.close_connection = True
                    return
                if desk.delay:
                    time.sleep(desk.delay)
                if failing:
                    self.send_response(503)
                else:
                    with desk._lock:
                        created = key not in desk.tickets
                        desk.tickets.setdefault(key, body)
                    self.send_response(201 if created else 200)  # a replay gets the first outcome
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def wait_for_requests(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.received:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.received.wait(left)
        return True

    def requests_for(self, key: str) -> list[dict]:
        return [r for r in self.requests if r["key"] == key]

    def __enter__(self) -> "FakeHelpdesk":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> Optional[bool]:
        self.hang.clear()
        self.server.shutdown()
        self.server.server_close()
        return None
