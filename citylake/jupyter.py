"""`citylake lab`: JupyterLab on loopback over the notebooks folder, its kernel the project's Python.

The kernel spec is written under the profile's var/ and put first on the server's Jupyter path,
so a `python3` kernel spec elsewhere on the machine (a user's, another venv's) cannot shadow it.
The server runs in its own session, its log in var/log/lab.log; the command prints its address
with the token, and stops it on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from citylake.notebooks import NOTEBOOKS
from citylake.settings import Profile, profile as active_profile

HOST = "127.0.0.1"
DEFAULT_PORT = 8888
KERNEL = "python3"   # the name papermill and the notebooks' metadata use
START_TIMEOUT_S = 120


@dataclass
class LabServer:
    process: subprocess.Popen
    url: str
    token: str
    log: Path


def install_kernel(profile: Profile) -> Path:
    """Write the project's kernel spec (this Python) under var/; returns the Jupyter data folder holding it."""
    from ipykernel.kernelspec import write_kernel_spec

    data = profile.path("var") / "jupyter"
    spec = data / "kernels" / KERNEL
    shutil.rmtree(spec, ignore_errors=True)
    spec.parent.mkdir(parents=True, exist_ok=True)
    write_kernel_spec(spec, overrides={
        "display_name": f"citylake (Python {sys.version_info.major}.{sys.version_info.minor})"})
    return data


def lab_command(port: int, token: str, browser: bool) -> list[str]:
    """The JupyterLab command line: loopback only, the notebooks folder, nothing fetched from the network."""
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.ip={HOST}", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--ServerApp.root_dir={NOTEBOOKS}",
               f"--IdentityProvider.token={token}", f"--ServerApp.open_browser={browser}",
               f"--MappingKernelManager.default_kernel_name={KERNEL}",
               "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
               "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        command.append("--allow-root")  # a container's or CI's root user
    return command


def start_lab(port: int = DEFAULT_PORT, browser: bool = True, profile: Profile | None = None) -> LabServer:
    """Start JupyterLab and return once it answers; a RuntimeError with its log's end if it does not."""
    profile = profile or active_profile()
    data = install_kernel(profile)
    log = profile.path("var") / "log" / "lab.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(24)
    env = {**os.environ, "JUPYTER_PATH": os.pathsep.join(filter(None, [str(data), os.environ.get("JUPYTER_PATH")]))}
    with open(log, "ab") as output:
        process = subprocess.Popen(lab_command(port, token, browser), stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, env=env, cwd=NOTEBOOKS, start_new_session=True)
    server = LabServer(process, f"http://{HOST}:{port}/lab?token={token}", token, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not answers(port, token):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_lab(server)
            tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
            raise RuntimeError(f"JupyterLab did not start on {HOST}:{port} (log: {log}):\n{tail}")
        time.sleep(0.5)
    return server


def answers(port: int, token: str) -> bool:
    """Whether a Jupyter server on the port answers its status API with this token."""
    request = urllib.request.Request(f"http://{HOST}:{port}/api/status", headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def stop_lab(server: LabServer, timeout_s: float = 30) -> int:
    """Stop the server (SIGTERM: it shuts its kernels down) and return its exit code."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            server.process.kill()
    return server.process.wait()


def _say(text: str) -> None:
    print(text, flush=True)  # whole lines, unwrapped: the address with its token must stay one


def run_lab(port: int = DEFAULT_PORT, browser: bool = True, say: Callable[[str], None] = _say) -> int:
    """Serve JupyterLab until Ctrl-C or SIGTERM; returns the exit code for the command."""
    try:
        server = start_lab(port, browser)
    except RuntimeError as error:
        say(str(error))
        return 1
    say(f"JupyterLab: {server.url}\n  notebooks {NOTEBOOKS}, kernel {KERNEL}: {sys.executable}\n"
        f"  log {server.log}; Ctrl-C stops it")
    signal.signal(signal.SIGTERM, lambda *_: server.process.terminate())
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    stop_lab(server)
    return 0
