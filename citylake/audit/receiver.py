"""The receiver of Trino's query events: a small HTTP server on loopback that Trino's HTTP event
listener posts each event to, and that answers 200 only once the event is fsynced in the spool.

`citylake trino start` starts it (before Trino, so Trino's first query is heard) and `citylake
trino stop` stops it after Trino; `citylake audit receive` runs it in the foreground. Its state
(pid, port) is kept in `<var>/audit/receiver.json`, so a restarted receiver listens on the port
Trino was configured with.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from citylake.audit.settings import audit_dir, audit_settings, spool_dir
from citylake.audit.spool import Spool, SpoolError
from citylake.settings import Profile

log = logging.getLogger(__name__)

EVENTS_PATH = "/events"
HEALTH_PATH = "/health"
ADDRESS_IN_USE = 98  # the child's exit code when its port is taken


class ReceiverError(RuntimeError):
    """The receiver could not be started or stopped; the message carries its log's tail."""


# --------------------------------------------------------------------------- the server


class EventHandler(BaseHTTPRequestHandler):
    """POST /events: spool one query event, then answer; GET /health: answer while serving."""

    protocol_version = "HTTP/1.1"  # keep-alive: Trino's HTTP client reuses its connections
    server: "EventServer"

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        if self.path.split("?")[0] != EVENTS_PATH:
            self._answer(HTTPStatus.NOT_FOUND, f"post events to {EVENTS_PATH}")
            return
        try:
            body = self._body()
        except ValueError as exc:
            self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE if "larger" in str(exc) else HTTPStatus.BAD_REQUEST,
                         str(exc))
            self.close_connection = True
            return
        try:
            event = json.loads(body)
            kind = self.server.spool.append(event)
        except (ValueError, SpoolError) as exc:
            # 4xx: Trino does not retry it, and the same body would never be taken.
            self._answer(HTTPStatus.BAD_REQUEST, f"not a Trino query event: {exc}")
            return
        except OSError as exc:
            # 5xx: Trino retries, the disk may have room again by then.
            log.error("could not spool an event: %s", exc)
            self._answer(HTTPStatus.SERVICE_UNAVAILABLE, "spool not writable")
            return
        log.debug("spooled %s event of %s", kind, event["metadata"]["queryId"])
        self._answer(HTTPStatus.OK, kind)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.split("?")[0] == HEALTH_PATH:
            self._answer(HTTPStatus.OK, "receiving")
        else:
            self._answer(HTTPStatus.NOT_FOUND, f"post events to {EVENTS_PATH}")

    def _body(self) -> bytes:
        limit = self.server.max_event_bytes
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._chunked_body(limit)
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            raise ValueError(f"event larger than {limit} bytes")
        return self.rfile.read(length)

    def _chunked_body(self, limit: int) -> bytes:
        parts, size = [], 0
        while True:
            chunk_size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if chunk_size == 0:
                while self.rfile.readline().strip():  # trailers
                    pass
                return b"".join(parts)
            size += chunk_size
            if size > limit:
                raise ValueError(f"event larger than {limit} bytes")
            parts.append(self.rfile.read(chunk_size))
            self.rfile.readline()

    def _answer(self, status: HTTPStatus, text: str) -> None:
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
        log.debug("%s %s", self.address_string(), format % args)


class EventServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], spool: Spool, max_event_bytes: int) -> None:
        super().__init__(address, EventHandler)
        self.spool = spool
        self.max_event_bytes = max_event_bytes


# --------------------------------------------------------------------------- its process


@dataclass(frozen=True)
class ReceiverState:
    pid: int | None
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def state_file(profile: Profile) -> Path:
    return audit_dir(profile) / "receiver.json"


def log_file(profile: Profile) -> Path:
    return audit_dir(profile) / "receiver.log"


def read_state(profile: Profile) -> ReceiverState | None:
    """The receiver's last recorded pid and address, if it ever ran for this profile."""
    try:
        data = json.loads(state_file(profile).read_text())
        return ReceiverState(data.get("pid"), data["host"], int(data["port"]))
    except (FileNotFoundError, ValueError, KeyError):
        return None


def _write_state(path: Path, state: ReceiverState) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"pid": state.pid, "host": state.host, "port": state.port}))
    partial.replace(path)


def ingest_uri(profile: Profile) -> str:
    """Where Trino posts its events: the running (or last) receiver's address."""
    state = read_state(profile)
    if state is None:
        raise ReceiverError(f"the audit receiver has not run for this lake ({state_file(profile)} missing): "
                            "start it first (citylake trino start does)")
    return state.url + EVENTS_PATH


def is_receiving(state: ReceiverState | None, timeout: float = 1.0) -> bool:
    """Whether this receiver's process is alive and answers."""
    if state is None or state.pid is None or not _is_receiver_process(state.pid):
        return False
    try:
        with urllib.request.urlopen(state.url + HEALTH_PATH, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _is_receiver_process(pid: int) -> bool:
    # A recorded pid may have been reused by another program since: check what it runs.
    try:
        return b"citylake.audit.receiver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def ensure_running(profile: Profile, timeout: float = 15.0) -> ReceiverState:
    """The receiver of this profile's lake, started if it is not running (on its recorded port,
    where Trino posts, else on the configured one)."""
    state = read_state(profile)
    if is_receiving(state):
        return state
    settings = audit_settings().receiver
    host = state.host if state else settings.host
    ports = [state.port] if state else []
    if settings.port not in ports:
        ports.append(settings.port)
    for port in ports:
        started = _spawn(profile, host, port, timeout)
        if started is not None:
            if state and started.port != state.port:
                log.warning("the audit receiver moved from port %d (taken) to %d: restart Trino so it posts there",
                            state.port, started.port)
            return started
    raise ReceiverError(f"no port for the audit receiver: {ports} taken\n{log_tail(profile)}")


def _spawn(profile: Profile, host: str, port: int, timeout: float) -> ReceiverState | None:
    """Start the receiver process on host:port and wait until it answers; None if the port is taken."""
    folder = audit_dir(profile)
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "citylake.audit.receiver", "--host", host, "--port", str(port),
               "--spool", str(spool_dir(profile)), "--state", str(state_file(profile)),
               "--max-event-bytes", str(audit_settings().receiver.max_event_bytes)]
    with open(log_file(profile), "a") as output:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                 start_new_session=True)  # outlives the command that started it
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = child.poll()
        if code == ADDRESS_IN_USE:
            return None
        if code is not None:
            raise ReceiverError(f"the audit receiver exited ({code}) while starting\n{log_tail(profile)}")
        state = read_state(profile)
        if state and state.pid == child.pid and is_receiving(state):
            return state
        time.sleep(0.05)
    child.terminate()
    raise ReceiverError(f"the audit receiver did not answer within {timeout:.0f} s\n{log_tail(profile)}")


def stop(profile: Profile, timeout: float = 10.0) -> bool:
    """Stop this profile's receiver (its port stays recorded); False if it was not running."""
    state = read_state(profile)
    if state is None or state.pid is None or not _is_receiver_process(state.pid):
        return False
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _is_receiver_process(state.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _is_receiver_process(state.pid):
        os.kill(state.pid, signal.SIGKILL)
    _write_state(state_file(profile), ReceiverState(None, state.host, state.port))
    return True


def log_tail(profile: Profile, lines: int = 20) -> str:
    path = log_file(profile)
    if not path.exists():
        return f"(no receiver log yet at {path})"
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"--- {path} (last {len(text)} lines) ---\n" + "\n".join(text)


def serve(host: str, port: int, spool: Path, state: Path | None, max_event_bytes: int) -> None:
    """Receive events on host:port into the spool until SIGTERM or SIGINT."""
    try:
        server = EventServer((host, port), Spool(spool), max_event_bytes)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", host, port, exc)
        sys.exit(ADDRESS_IN_USE if exc.errno == ADDRESS_IN_USE else 1)
    bound_host, bound_port = server.server_address[:2]
    if state is not None:
        _write_state(state, ReceiverState(os.getpid(), str(bound_host), int(bound_port)))

    def shut_down(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    if state is not None:
        threading.Thread(target=_exit_when_replaced, args=(server, state), daemon=True).start()
    log.info("receiving Trino query events at http://%s:%d%s into %s", bound_host, bound_port, EVENTS_PATH, spool)
    server.serve_forever()
    server.server_close()
    log.info("stopped")


def _exit_when_replaced(server: EventServer, state: Path, every_s: float = 5.0) -> None:
    # A receiver whose state file is gone (its lake's folder deleted, as a test run's is) or names
    # another process (started again while this one hung) has no one to receive for: it stops.
    while True:
        time.sleep(every_s)
        try:
            owner = json.loads(state.read_text()).get("pid")
        except (OSError, ValueError):
            owner = None
        if owner != os.getpid():
            log.info("%s no longer names this receiver: stopping", state)
            server.shutdown()
            return


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="receive Trino's query events into the audit spool")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--spool", type=Path, required=True)
    parser.add_argument("--state", type=Path)
    parser.add_argument("--max-event-bytes", type=int, default=16 * 1024 * 1024)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    serve(args.host, args.port, args.spool, args.state, args.max_event_bytes)


if __name__ == "__main__":
    main()
