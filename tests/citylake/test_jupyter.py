"""`citylake lab`: a JupyterLab that answers on its port with its token, serves the notebooks with
the project's Python as its kernel, and stops on SIGTERM."""

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from citylake.notebooks import NOTEBOOKS


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, token: str | None = None) -> dict:
    headers = {"Authorization": f"token {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
        return json.load(response)


@pytest.mark.timeout(300)
def test_citylake_lab_answers_on_its_port_with_the_projects_kernel_and_stops():
    port = _free_port()
    lab = subprocess.Popen([sys.executable, "-m", "citylake.cli", "lab", "--no-browser", "--port", str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = lab.stdout.readline()  # printed once the server answers
        assert first.startswith(f"JupyterLab: http://127.0.0.1:{port}/lab?token="), first + lab.stderr.read()
        token = first.strip().rsplit("token=", 1)[1]
        base = f"http://127.0.0.1:{port}/api"

        specs = _get(f"{base}/kernelspecs", token)
        assert specs["default"] == "python3"
        kernel = specs["kernelspecs"]["python3"]["spec"]
        assert Path(kernel["argv"][0]).resolve() == Path(sys.executable).resolve()
        assert kernel["display_name"].startswith("citylake")
        names = {item["name"] for item in _get(f"{base}/contents", token)["content"]}
        assert {notebook.name for notebook in NOTEBOOKS.glob("*.ipynb")} <= names
        with pytest.raises(urllib.error.HTTPError, match="403"):
            _get(f"{base}/contents")  # no token, no notebooks
    finally:
        lab.terminate()
        assert lab.wait(60) == 0
    with pytest.raises(urllib.error.URLError):
        _get(f"http://127.0.0.1:{port}/api/status")  # the server stopped with the command
    assert lab.stderr.read() == ""
