"""A local SMTP server for tests: enough of RFC 5321 for smtplib, on 127.0.0.1 and a free port,
keeping what it receives (no STARTTLS, no AUTH)."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from email.message import EmailMessage


class SmtpServer:
    """Serves one connection at a time on a thread until :meth:`close`, on ``port`` (a free
    one by default); with ``greet_when`` it greets a client only once that event is set (a slow
    server)."""

    def __init__(self, port: int = 0, greet_when: threading.Event | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self._greet_when = greet_when
        self._socket = socket.create_server(("127.0.0.1", port))
        self.port = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:  # closed
                return
            with connection, connection.makefile("rwb") as stream:
                self._session(stream)

    def _session(self, stream) -> None:
        def reply(text: str) -> None:
            stream.write(text.encode() + b"\r\n")
            stream.flush()

        if self._greet_when is not None:
            self._greet_when.wait()
        reply("220 test SMTP")
        recipients: list[str] = []
        for raw in stream:
            verb = raw.decode().strip().split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                reply("250 test")
            elif verb == "RCPT":
                recipients.append(raw.decode().split(":", 1)[1].strip().strip("<>"))
                reply("250 OK")
            elif verb == "DATA":
                reply("354 end with .")
                lines = []
                for line in stream:
                    if line in (b".\r\n", b".\n"):
                        break
                    lines.append(line[1:] if line.startswith(b"..") else line)
                self.messages.append(
                    email.message_from_bytes(b"".join(lines), policy=email.policy.default)
                )
                self.recipients.append(recipients)
                recipients = []
                reply("250 queued")
            elif verb == "QUIT":
                reply("221 bye")
                return
            else:  # MAIL, RSET, NOOP
                reply("250 OK")

    def close(self) -> None:
        self._socket.shutdown(socket.SHUT_RDWR)  # wakes the accept() the thread waits in
        self._socket.close()
        self._thread.join(timeout=5)
