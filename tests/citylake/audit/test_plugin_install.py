"""Trino's HTTP event listener plugin added to an installed server from the server tarball, without
unpacking the server again (running instances keep their files)."""

from __future__ import annotations

import os
import shutil

from citylake.fetch import fetch_artifact
from citylake.trino import server


def test_a_plugin_is_added_to_an_installed_server(settings, tmp_path):
    installed = server.install(settings)
    home = tmp_path / installed.name
    shutil.copytree(installed / "lib", home / "lib", copy_function=os.link)
    (home / "plugin").mkdir()
    tarball = fetch_artifact(server.server_coordinate(settings.trino.version), settings.path("cache"))

    server._add_plugins(tarball, home, ["http-event-listener"])

    plugin = home / "plugin" / "http-event-listener"
    version = settings.trino.version
    assert (plugin / f"io.trino_trino-http-event-listener-{version}.jar").stat().st_size > 0
    shared = plugin / "com.google.guava_guava-33.4.8-jre.jar"
    assert shared.stat().st_ino == (home / "lib" / shared.name).stat().st_ino  # linked, not copied
    assert sorted(p.name for p in home.iterdir()) == ["lib", "plugin"]  # no staging folder left
    assert [p.name for p in (home / "plugin").iterdir()] == ["http-event-listener"]
