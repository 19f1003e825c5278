"""One Trino server's identity and places, which its starter and its clients both use: the folders
an instance lives in, the node id that names the lake it serves, the locations it knows the
warehouse by, whether the server at an address is the one made for this lake, and the error both
raise."""

from __future__ import annotations

import hashlib
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from citylake.settings import Profile


class TrinoError(RuntimeError):
    """Trino could not be installed, started or reached; the message carries the log's tail."""


@dataclass(frozen=True)
class Instance:
    """Where one Trino server's files live."""

    root: Path

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def pid_file(self) -> Path:
        return self.root / "trino.pid"

    @property
    def server_log(self) -> Path:
        return self.root / "log" / "server.log"

    @property
    def launcher_log(self) -> Path:
        return self.root / "log" / "launcher.log"

    @property
    def metastore(self) -> Path:
        return self.root / "metastore"


def instance_for(profile: Profile) -> Instance:
    return Instance(profile.path("var") / "trino")


def node_id(profile: Profile) -> str:
    """The id the managed server of this profile's lake runs under: it names the warehouse it
    serves, so a client can tell its own lake's server from another one on the same port."""
    warehouse = str(profile.path("warehouse").resolve())
    return f"citylake-{profile.name}-{hashlib.sha256(warehouse.encode()).hexdigest()[:16]}"


def local_root(profile: Profile) -> Path:
    """The folder Trino's local file system is rooted at: the warehouse and the metastore, no more."""
    warehouse = profile.path("warehouse").resolve()
    metastore = instance_for(profile).metastore.resolve()
    return Path(os.path.commonpath([warehouse, metastore]))


def local_location(profile: Profile, path: Path) -> str:
    """The `local:///...` location Trino uses for a folder under its local root."""
    return "local:///" + path.resolve().relative_to(local_root(profile)).as_posix()


def presents_certificate(profile: Profile, certificate: Path) -> bool:
    """Whether the server at the profile's address presents this certificate (the one made for it)."""
    try:
        served = ssl.get_server_certificate((profile.trino.host, profile.trino.port), timeout=5)
    except OSError:
        return False
    return ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(certificate.read_text())
