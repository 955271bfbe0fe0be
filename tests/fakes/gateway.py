"""A local stand-in for SMS / WeChat gateways and webhooks: records each JSON POST, and can
be told to fail the first N requests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeGateway:
    def __init__(self, fail_first: int = 0, status: int = 503) -> None:
        self.received: list[dict] = []
        self.fail_first = fail_first
        self.status = status
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if gateway.fail_first > 0:
                    gateway.fail_first -= 1
                    self.send_response(gateway.status)
                    self.end_headers()
                    return
                gateway.received.append({"body": body, "idempotency_key": self.headers.get("Idempotency-Key")})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeSmtp:
    """Just enough SMTP (EHLO/HELO, MAIL, RCPT, DATA, QUIT) to receive messages in a test."""

    def __init__(self) -> None:
        import socketserver

        self.messages: list[dict] = []
        smtp = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                def reply(line: str) -> None:
                    self.wfile.write((line + "\r\n").encode())

                reply("220 fake ESMTP")
                rcpt: list[str] = []
                while True:
                    line = self.rfile.readline().decode(errors="replace").rstrip("\r\n")
                    verb = line[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        reply("250 fake")
                    elif verb == "MAIL":
                        rcpt = []
                        reply("250 ok")
                    elif verb == "RCPT":
                        rcpt.append(line.split(":", 1)[1].strip(" <>"))
                        reply("250 ok")
                    elif verb == "DATA":
                        reply("354 go ahead")
                        data = []
                        while (chunk := self.rfile.readline().decode(errors="replace")) not in (".\r\n", ""):
                            data.append(chunk)
                        smtp.messages.append({"to": rcpt, "data": "".join(data)})
                        reply("250 queued")
                    elif verb == "QUIT" or not line:
                        reply("221 bye")
                        return
                    else:
                        reply("250 ok")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeSmtp:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
