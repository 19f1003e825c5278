"""The one place that reads where things live and how engines run: `conf/profiles/<profile>.yml`.

The profile is chosen by `CITYLAKE_PROFILE` (default `local`); any value can be overridden from
the environment as `CITYLAKE__<SECTION>__<KEY>` so that tests, CI and the cluster deployment
point the same code elsewhere without editing files. The configuration folder itself (profiles,
catalog, standards, rules, libraries) is `CITYLAKE_CONF`, default the checkout's `conf/`: a
deployment keeps its own beside the code, not in it.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONF_DIR = PROJECT_ROOT / "conf"
CONF_ENV = "CITYLAKE_CONF"
ENV_PREFIX = "CITYLAKE__"


class ConfigError(ValueError):
    """A configuration file is missing or invalid; the message names the file and the field."""


def conf_dir(environ: dict[str, str] | None = None) -> Path:
    """The configuration folder: `CITYLAKE_CONF` if set (relative to the working directory),
    else the checkout's `conf/`."""
    value = (os.environ if environ is None else environ).get(CONF_ENV)
    if not value:
        return DEFAULT_CONF_DIR
    folder = Path(value).expanduser().resolve()
    if not folder.is_dir():
        raise ConfigError(f"{CONF_ENV}={value}: no such configuration folder")
    return folder


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Paths(_Strict):
    var: str
    warehouse: str
    city: str
    inbox: str
    dashboards: str
    docs: str
    cache: str


class SparkSettings(_Strict):
    master: str
    app_name: str = "citylake"
    driver_memory: str
    shuffle_partitions: int = Field(gt=0)
    log_level: Literal["ALL", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"] = "WARN"
    packages: list[str]
    conf: dict[str, str] = {}


class TrinoSecurity(_Strict):
    """How the managed Trino is secured (citylake.trino.security): HTTPS on `port`, passwords,
    groups and access rules from conf/sharing.yml."""

    bind_host: str = "127.0.0.1"
    # users' passwords and nothing else; default <conf>/secrets.yml (git-ignored)
    secrets_file: str | None = None
    # the demo's and the tests': a user without a password gets a generated one, kept in the secrets file
    generate_passwords: bool = False
    refresh_period: str = "1s"
    internal_port: int | None = Field(default=None, gt=0, lt=65536)  # loopback HTTP between nodes; free one if unset
    dashboard_user: str = "dashboards"  # the notebooks' login


class TrinoSettings(_Strict):
    managed: bool
    host: str
    port: int = Field(gt=0, lt=65536)
    user: str
    catalog: str
    version: str
    heap: str
    query_max_memory_per_node: str
    heap_headroom_per_node: str
    metastore: Literal["file", "thrift"]
    metastore_uri: str | None = None
    metadata_cache_ttl: str = "0s"
    java_home: str | None = None
    plugins: list[str] = ["delta-lake"]
    start_timeout_s: int = Field(default=180, gt=0)
    security: TrinoSecurity = TrinoSecurity()

    @field_validator("heap")
    @classmethod
    def _heap_is_jvm_size(cls, value: str) -> str:
        _bytes(value)
        return value


class Profile(_Strict):
    name: str
    paths: Paths
    spark: SparkSettings
    trino: TrinoSettings

    def path(self, name: str) -> Path:
        """A local path setting as an absolute path (relative ones are under the project root)."""
        value = getattr(self.paths, name)
        if "://" in value:
            raise ConfigError(f"paths.{name} is the URI {value!r}, not a local path")
        path = Path(value)
        return path if path.is_absolute() else PROJECT_ROOT / path

    def uri(self, name: str) -> str:
        """A path setting as a URI Spark understands (`file:/...` for local paths)."""
        value = getattr(self.paths, name)
        return value if "://" in value else self.path(name).as_uri()


class LakeLayout(_Strict):
    layers: dict[str, str]
    table_properties: dict[str, str]


_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def _bytes(size: str) -> int:
    """Bytes in a JVM or Trino size such as `8G`, `4GB`, `512m`."""
    text = size.strip().upper().removesuffix("B")
    number, unit = (text[:-1], text[-1]) if text and text[-1] in _UNITS else (text, "")
    try:
        return int(float(number) * _UNITS[unit])
    except ValueError as exc:
        raise ConfigError(f"{size!r} is not a memory size like 8G or 512MB") from exc


def memory_bytes(size: str) -> int:
    """Bytes in a memory size setting (`8G`, `4GB`, `512m`)."""
    return _bytes(size)


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from a conf file, or a ConfigError naming the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def validation_message(path: Path, error: ValidationError) -> str:
    """One line per problem, each naming the file and the dotted field path."""
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"{path}: {where}: {item['msg']}")
    return "\n".join(lines)


def _apply_env_overrides(data: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = name[len(ENV_PREFIX):].lower().split("__")
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = yaml.safe_load(value) if value else None
    return data


def load_profile(name: str | None = None, environ: dict[str, str] | None = None) -> Profile:
    """The named profile (default from CITYLAKE_PROFILE, else `local`) with environment overrides."""
    environ = dict(os.environ if environ is None else environ)
    name = name or environ.get("CITYLAKE_PROFILE", "local")
    path = conf_dir(environ) / "profiles" / f"{name}.yml"
    data = _apply_env_overrides(read_yaml(path), environ)
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_message(path, exc)) from None
    _check_trino_memory(path, profile.trino)
    return profile


def _check_trino_memory(path: Path, trino: TrinoSettings) -> None:
    # Trino refuses to start when query memory plus headroom reach the heap; say so up front.
    query = _bytes(trino.query_max_memory_per_node)
    headroom = _bytes(trino.heap_headroom_per_node)
    if query + headroom >= _bytes(trino.heap):
        raise ConfigError(
            f"{path}: trino: query_max_memory_per_node ({trino.query_max_memory_per_node}) plus "
            f"heap_headroom_per_node ({trino.heap_headroom_per_node}) must stay below heap ({trino.heap})"
        )


@cache
def profile() -> Profile:
    """The active profile, read once per process."""
    return load_profile()


def load_lake_layout(path: Path | None = None) -> LakeLayout:
    """The lake's layer schemas and the Delta table properties every table gets."""
    path = path or conf_dir() / "lake.yml"
    try:
        return LakeLayout.model_validate(read_yaml(path))
    except ValidationError as exc:
        raise ConfigError(validation_message(path, exc)) from None


@cache
def lake_layout() -> LakeLayout:
    """The lake layout, read once per process."""
    return load_lake_layout()
