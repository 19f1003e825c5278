"""Finding a Java runtime that an engine runs on: Spark wants 17 or 21, Trino 476 wants 24 or newer."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

JVM_ROOTS = (Path("/usr/lib/jvm"), Path("/usr/local/lib/jvm"), Path("/opt/java"))


class JavaNotFound(RuntimeError):
    """No suitable Java runtime; the message lists where it looked and what it needs."""


@dataclass(frozen=True)
class Jdk:
    home: Path
    major: int
    version: str
    has_vector_module: bool


@cache
def inspect_jdk(home: Path) -> Jdk | None:
    """What the Java installation at `home` is, or None if it is not one."""
    java = home / "bin" / "java"
    if not java.is_file() or not os.access(java, os.X_OK):
        return None
    try:
        shown = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
        modules = subprocess.run([str(java), "--list-modules"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "([^"]+)"', shown.stderr)
    if not match:
        return None
    version = match.group(1)
    major = int(version.split(".")[0].split("-")[0].split("+")[0])
    return Jdk(home, major, version, "jdk.incubator.vector@" in modules.stdout)


def candidate_homes(explicit: str | None = None) -> list[Path]:
    """Where to look, most specific first: the setting, JAVA_HOME, then the usual JVM folders."""
    homes: list[Path] = []
    if explicit:
        homes.append(Path(explicit))
    if os.environ.get("JAVA_HOME"):
        homes.append(Path(os.environ["JAVA_HOME"]))
    for root in JVM_ROOTS:
        if root.is_dir():
            homes.extend(sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()))
    return list(dict.fromkeys(homes))


def find_jdk(
    purpose: str,
    *,
    majors: range,
    explicit: str | None = None,
    needs_vector_module: bool = False,
) -> Jdk:
    """The first installed JDK whose major version is in `majors`, or JavaNotFound saying why."""
    seen = []
    for home in candidate_homes(explicit):
        jdk = inspect_jdk(home)
        if jdk is None:
            continue
        seen.append(f"{home} (Java {jdk.version})")
        if jdk.major in majors and (jdk.has_vector_module or not needs_vector_module):
            return jdk
        if explicit and home == Path(explicit):
            raise JavaNotFound(f"{purpose}: the configured Java at {home} is {jdk.version}; "
                               f"it needs Java {majors.start}..{majors.stop - 1}")
    wanted = f"Java {majors.start} to {majors.stop - 1}" + (
        " with the module jdk.incubator.vector" if needs_vector_module else "")
    found = "; ".join(seen) or "none"
    raise JavaNotFound(
        f"{purpose} needs {wanted}. Looked in the setting, JAVA_HOME and {', '.join(map(str, JVM_ROOTS))}; "
        f"found: {found}. Install a full JDK (e.g. Temurin 25) and point CITYLAKE__TRINO__JAVA_HOME "
        "(Trino) or JAVA_HOME (Spark) at it."
    )
