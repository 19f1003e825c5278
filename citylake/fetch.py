"""JVM artifacts from Maven Central, through Maven itself, cached in the project and checksum-verified.

Maven (`mvn`) is the ordinary client for Maven Central: it knows the repository, honours a
machine's mirror settings and verifies the published checksums (`-C`). The project-local
repository under `.cache/m2` makes a second run download nothing.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from citylake.files import file_digest

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


class FetchError(RuntimeError):
    """A download failed; the message says what and how to retry."""


@dataclass(frozen=True)
class Artifact:
    """A Maven coordinate `group:artifact:version[:packaging[:classifier]]`."""

    group: str
    name: str
    version: str
    packaging: str = "jar"
    classifier: str | None = None

    @classmethod
    def parse(cls, coordinate: str) -> "Artifact":
        parts = coordinate.split(":")
        if not 3 <= len(parts) <= 5:
            raise ValueError(f"{coordinate!r} is not group:artifact:version[:packaging[:classifier]]")
        group, name, version, *rest = parts
        packaging = rest[0] if rest else "jar"
        classifier = rest[1] if len(rest) > 1 else None
        return cls(group, name, version, packaging, classifier)

    def __str__(self) -> str:
        tail = f":{self.packaging}" + (f":{self.classifier}" if self.classifier else "")
        return f"{self.group}:{self.name}:{self.version}{tail}"

    def path_in(self, repository: Path) -> Path:
        suffix = f"-{self.classifier}" if self.classifier else ""
        folder = repository.joinpath(*self.group.split("."), self.name, self.version)
        return folder / f"{self.name}-{self.version}{suffix}.{self.packaging}"


def _published_sha1(path: Path) -> str | None:
    checksum = path.with_name(path.name + ".sha1")
    if not checksum.exists():
        return None
    text = checksum.read_text().strip()
    return text.split()[0].lower() if text else None


def _verified(path: Path) -> bool:
    expected = _published_sha1(path)
    return path.exists() and expected is not None and file_digest(path, "sha1") == expected


def fetch_artifact(coordinate: str, cache_dir: Path) -> Path:
    """The artifact's file in the project's Maven cache, downloaded and verified if not there yet."""
    artifact = Artifact.parse(coordinate)
    repository = cache_dir / "m2"
    target = artifact.path_in(repository)
    if _verified(target):
        return target
    _discard(target)
    _run_maven_get(artifact, repository)
    if not target.exists():
        raise FetchError(f"Maven reported success but {target} is missing; rerun `make setup`")
    expected = _published_sha1(target)
    actual = file_digest(target, "sha1")
    if expected is None or actual != expected:
        _discard(target)
        raise FetchError(
            f"{artifact}: SHA-1 {actual} does not match the published {expected}; "
            "the broken file was removed, rerun `make setup` to download it again"
        )
    return target


def _discard(target: Path) -> None:
    for leftover in (target, target.with_name(target.name + ".sha1")):
        leftover.unlink(missing_ok=True)


def _run_maven_get(artifact: Artifact, repository: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise FetchError("Maven (`mvn`) is needed to download the JVM parts; `make setup` installs it")
    command = [
        mvn, "-B", "-q", "-C", f"-Dmaven.repo.local={repository}",
        f"{DEPENDENCY_PLUGIN}:get", f"-Dartifact={artifact}", "-Dtransitive=false",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-8:])
        raise FetchError(
            f"could not download {artifact} from Maven Central (mvn exit {result.returncode}).\n{tail}\n"
            "Check the network, then rerun `make setup`: finished downloads are kept, "
            "the failed one starts again."
        )
