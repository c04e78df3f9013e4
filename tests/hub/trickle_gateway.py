"""A real HTTP server on loopback that takes a request at once and then answers one byte at a
time: each read well inside httpx's timeout, the whole answer far beyond any sane deadline
(a trickling proxy). It records when each request came and how many were in progress at once."""

import socket
import threading
import time


class TrickleGateway:
    """Answers ``200`` with ``length`` bytes, one every ``every`` seconds."""

    def __init__(self, *, length: int = 100, every: float = 0.1) -> None:
        self.length = length
        self.every = every
        self.requests: list[float] = []
        self.active = 0
        self.sent = 0
        """Bytes of answers sent so far (an answer is ``length`` bytes)."""
        self.most_at_once = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/page"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            while len(body) < length:
                body += conn.recv(65536)
            with self._lock:
                self.requests.append(time.monotonic())
                self.active += 1
                self.most_at_once = max(self.most_at_once, self.active)
            try:
                conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {self.length}\r\n\r\n".encode())
                for _ in range(self.length):
                    if self._closed.wait(self.every):
                        return
                    conn.sendall(b".")
                    with self._lock:
                        self.sent += 1
            except OSError:
                return  # the client gave up on it
            finally:
                with self._lock:
                    self.active -= 1

    def close(self) -> None:
        """Stop serving and free the port."""
        self._closed.set()
        self._sock.close()
