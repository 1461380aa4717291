"""What notify's tests send to: a real SMTP server (aiosmtpd) and an HTTP test double of the SMS
provider, each in a process of its own (outside the tests' eventlet hub), writing every message
it receives as a file into a folder the test reads. Run as a script:
``python -m tests.notify_doubles smtp|sms PORT FOLDER``."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from email import message_from_bytes, policy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(kind: str, port: int, folder: Path) -> subprocess.Popen:
    """Start the double `kind` (smtp, sms) on `port`; returns once it accepts connections."""
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "tests.notify_doubles", kind, str(port), str(folder)], cwd=ROOT)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"the {kind} double exited with {proc.returncode}") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the {kind} double did not listen on {port}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def mails(folder: Path) -> list:
    """The e-mails the SMTP server received (email.message.EmailMessage), oldest first."""
    return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(folder.glob("*.eml"))]


def texts(folder: Path) -> list[dict]:
    """The SMS posts the provider double received (their JSON bodies), oldest first."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def _name(suffix: str) -> str:
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}{suffix}"


def _serve_smtp(port: int, folder: Path) -> None:
    from aiosmtpd.controller import Controller

    class Keep:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's hook name)
            (folder / _name(".eml")).write_bytes(envelope.original_content or envelope.content)
            return "250 OK"

    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def _serve_sms(port: int, folder: Path) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Provider(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802  (http.server's hook name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                sms = json.loads(body)
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            (folder / _name(".json")).write_text(json.dumps(sms, ensure_ascii=False), encoding="utf-8")
            answer = json.dumps({"status": "queued"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Provider).serve_forever()


if __name__ == "__main__":
    kind, port_text, where = sys.argv[1:4]
    serve = {"smtp": _serve_smtp, "sms": _serve_sms}[kind]
    serve(int(port_text), Path(where))
