"""A single-node Trino (coordinator that also schedules work), installed and configured from the profile.

The server tarball comes from Maven Central through `citylake.fetch`; only the connectors the
profile names are unpacked. Each running instance has its own folder (`<var>/trino`): its
generated `etc/`, data, pid file and logs, so a test server and a demo server never collide.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from citylake.fetch import fetch_artifact
from citylake.java import find_jdk
from citylake.settings import Profile, memory_bytes
from citylake.trino import security
from citylake.trino.client import require_own_server, run_query
from citylake.trino.instance import Instance, TrinoError, instance_for, local_location, local_root, node_id


def server_coordinate(version: str) -> str:
    # The full server tarball: this Maven Central mirror has no matching server-core + plugin zips.
    return f"io.trino:trino-server:{version}:tar.gz"


def cli_coordinate(version: str) -> str:
    return f"io.trino:trino-cli:{version}:jar:executable"


def install(profile: Profile) -> Path:
    """The unpacked server (lib, bin and the profile's plugins), downloading it on first use."""
    version = profile.trino.version
    cache = profile.path("cache")
    home = cache / "trino" / f"trino-server-{version}"
    marker = home / ".citylake-installed"
    plugins = sorted(set(profile.trino.plugins) | set(security.PLUGINS))
    if marker.exists() and json.loads(marker.read_text()) == plugins:
        return home
    tarball = fetch_artifact(server_coordinate(version), cache)
    if marker.exists() and set(json.loads(marker.read_text())) <= set(plugins):
        _add_plugins(tarball, home, sorted(set(plugins) - set(json.loads(marker.read_text()))))
        marker.write_text(json.dumps(plugins))
        return home
    _unpack(tarball, home, version, plugins)
    marker.write_text(json.dumps(plugins))
    return home


def install_cli(profile: Profile) -> Path:
    """The Trino CLI executable jar."""
    return fetch_artifact(cli_coordinate(profile.trino.version), profile.path("cache"))


def _unpack(tarball: Path, home: Path, version: str, plugins: list[str]) -> None:
    # Unpack beside the target and rename, so an interrupted unpack never looks installed.
    staging = home.with_name(home.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    # GNU tar, because plugins hard-link jars stored under other plugins' folders in the archive.
    subprocess.run(["tar", "-xzf", str(tarball), "-C", str(staging), "--strip-components=1"], check=True)
    for plugin in (staging / "plugin").iterdir():
        if plugin.name not in plugins:
            shutil.rmtree(plugin)
    missing = [name for name in plugins if not (staging / "plugin" / name).is_dir()]
    if missing:
        raise TrinoError(f"{tarball.name} has no plugin(s) {missing}; check trino.plugins in the profile")
    shutil.rmtree(home, ignore_errors=True)
    staging.rename(home)


def _add_plugins(tarball: Path, home: Path, names: list[str]) -> None:
    """Unpack only these plugins into an installed server, which keeps serving meanwhile (re-unpacking
    the whole server would pull it from under running instances)."""
    prefix = f"{home.name}/plugin/"
    wanted = {f"{prefix}{name}/" for name in names}
    # beside plugin/, not in it: Trino would take a half-unpacked folder there for a plugin
    staging = {name: home / f".plugin-{name}.partial" for name in names}
    for folder in staging.values():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    found: set[str] = set()
    files: dict[str, tarfile.TarInfo] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            if member.isfile():
                files[member.name] = member
            plugin_folder = next((w for w in wanted if member.name.startswith(w)), None)
            if plugin_folder is None or not member.name[len(plugin_folder):]:
                continue
            name = plugin_folder[len(prefix):-1]
            found.add(name)
            target = staging[name] / member.name[len(plugin_folder):]
            # The archive stores a jar shared by plugins once and hard-links the others to it:
            # link to the installed copy (lib/), or copy it from the archive when not installed.
            installed = home / Path(member.linkname).relative_to(home.name) if member.islnk() else None
            if installed is not None and installed.is_file():
                os.link(installed, target)
            elif member.isfile() or member.islnk():
                with archive.extractfile(files[member.linkname] if member.islnk() else member) as source, \
                        open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink)
    missing = sorted(set(names) - found)
    if missing:
        raise TrinoError(f"{tarball.name} has no plugin(s) {missing}; check trino.plugins in the profile")
    for name, folder in staging.items():
        shutil.rmtree(home / "plugin" / name, ignore_errors=True)
        folder.rename(home / "plugin" / name)


def java_home(profile: Profile) -> Path:
    """A JDK that this Trino release runs on (24+ for 476; 479+ also need jdk.incubator.vector)."""
    needs_vector = int(profile.trino.version) >= 479
    jdk = find_jdk(f"Trino {profile.trino.version}", majors=range(24, 100),
                   explicit=profile.trino.java_home, needs_vector_module=needs_vector)
    return jdk.home


def write_config(profile: Profile, instance: Instance) -> None:
    """Generate etc/ for this instance from the profile."""
    trino = profile.trino
    warehouse = profile.path("warehouse")
    for folder in (instance.etc / "catalog", instance.data, instance.metastore, instance.server_log.parent, warehouse):
        folder.mkdir(parents=True, exist_ok=True)
    files = {
        "node.properties": {
            "node.environment": profile.name,
            "node.id": node_id(profile),
            "node.data-dir": str(instance.data),
        },
        "config.properties": {
            "coordinator": "true",
            "node-scheduler.include-coordinator": "true",
            "http-server.http.port": str(trino.port),
            "discovery.uri": f"http://{trino.host}:{trino.port}",
            "query.max-memory": trino.query_max_memory_per_node,
            "query.max-memory-per-node": trino.query_max_memory_per_node,
            "memory.heap-headroom-per-node": trino.heap_headroom_per_node,
            # Two cores: fewer threads than Trino's many-core defaults, less contention with Spark.
            "task.concurrency": "2",
            "task.max-worker-threads": "8",
        },
        "log.properties": {"io.trino": "INFO"},
        f"catalog/{trino.catalog}.properties": catalog_properties(profile, instance),
    }
    files["config.properties"] |= audit_listener_config(profile, instance)
    _add_security(files, profile)
    for name, properties in files.items():
        (instance.etc / name).write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
    (instance.etc / "jvm.config").write_text("\n".join(jvm_options(trino.heap)) + "\n")


def _add_security(files: dict[str, dict[str, str]], profile: Profile) -> None:
    """HTTPS, password logins, groups and the access rules (citylake.trino.security) into etc/."""
    for name, properties in security.server_properties(profile).items():
        files[name] = files.get(name, {}) | properties


def audit_listener_config(profile: Profile, instance: Instance) -> dict[str, str]:
    """Write etc/event-listener.properties: Trino's HTTP event listener posting every query's events
    to the audit receiver (citylake.audit); the config.properties entries that load it."""
    from citylake.audit.receiver import ingest_uri
    from citylake.audit.settings import audit_settings

    listener = audit_settings().listener
    properties = {
        "event-listener.name": "http",
        "http-event-listener.connect-ingest-uri": ingest_uri(profile),
        "http-event-listener.log-created": str(listener.log_created).lower(),
        "http-event-listener.log-completed": str(listener.log_completed).lower(),
        "http-event-listener.connect-retry-count": str(listener.retry_count),
        "http-event-listener.connect-retry-delay": listener.retry_delay,
        "http-event-listener.connect-backoff-base": str(listener.backoff_base),
        "http-event-listener.connect-max-delay": listener.max_delay,
    }
    path = instance.etc / "event-listener.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
    return {"event-listener.config-files": str(path)}


def catalog_properties(profile: Profile, instance: Instance) -> dict[str, str]:
    """The Delta Lake catalog over the warehouse, with a file metastore that needs no service."""
    trino = profile.trino
    properties = {
        "connector.name": "delta_lake",
        "delta.register-table-procedure.enabled": "true",
        "delta.enable-non-concurrent-writes": "true",
        # Spark commits new versions at any time: never serve a stale schema or file list.
        "delta.metadata.cache-ttl": trino.metadata_cache_ttl,
        "delta.metadata.live-files.cache-ttl": trino.metadata_cache_ttl,
    }
    if trino.metastore == "file":
        properties |= {
            "hive.metastore": "file",
            "hive.metastore.catalog.dir": local_location(profile, instance.metastore),
            "fs.native-local.enabled": "true",
            "local.location": str(local_root(profile)),
        }
    else:
        properties |= {"hive.metastore": "thrift", "hive.metastore.uri": trino.metastore_uri or "",
                       "fs.native-s3.enabled": "true"}
    return properties


def jvm_options(heap: str) -> list[str]:
    """Trino's recommended JVM options with the profile's heap."""
    memory_bytes(heap)
    return [
        "-server",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:G1HeapRegionSize=32M",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-XX:+ExitOnOutOfMemoryError",
        "-XX:-OmitStackTraceInFastThrow",
        "-XX:ReservedCodeCacheSize=256M",
        "-XX:PerMethodRecompilationCutoff=10000",
        "-XX:PerBytecodeRecompilationCutoff=10000",
        "-Djdk.attach.allowAttachSelf=true",
        "-Djdk.nio.maxCachedBufferSize=2000000",
        "-Dfile.encoding=UTF-8",
        "-XX:+EnableDynamicAgentLoading",
        "-Duser.timezone=Asia/Shanghai",
    ]


def _launcher(profile: Profile, instance: Instance, command: str) -> subprocess.CompletedProcess[str]:
    home = install(profile)
    env = dict(os.environ, JAVA_HOME=str(java_home(profile)))
    args = [
        str(home / "bin" / "launcher"), command,
        f"--etc-dir={instance.etc}", f"--data-dir={instance.data}",
        f"--pid-file={instance.pid_file}",
        f"--launcher-log-file={instance.launcher_log}", f"--server-log-file={instance.server_log}",
    ]
    return subprocess.run(args, capture_output=True, text=True, env=env)


def address(profile: Profile) -> str:
    """The server's HTTPS address."""
    return f"https://{profile.trino.host}:{profile.trino.port}"


def server_info(profile: Profile, timeout: float = 2.0) -> dict | None:
    """Trino's /v1/info answer, or None when nothing answers at the profile's address."""
    url = f"{address(profile)}/v1/info"
    try:
        # who answers at the address, whichever certificate it has: /v1/info is public and nothing
        # is sent; queries go through the client, which trusts only the lake's own certificate
        with urllib.request.urlopen(url, timeout=timeout, context=ssl._create_unverified_context()) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def is_running(profile: Profile) -> bool:
    info = server_info(profile)
    return bool(info) and not info.get("starting", True)


def start(profile: Profile) -> dict:
    """Start this profile's server (if not running) and wait until it answers queries."""
    if not profile.trino.managed:
        raise TrinoError(f"profile {profile.name!r}: Trino is not managed by citylake (trino.managed=false)")
    instance = instance_for(profile)
    if is_running(profile):
        require_own_server(profile)
        start_audit_receiver(profile)
        return server_info(profile) or {}
    start_audit_receiver(profile)  # before Trino: its first query's events have somewhere to go
    write_config(profile, instance)
    result = _launcher(profile, instance, "start")
    if result.returncode != 0:
        raise TrinoError(f"launcher start failed: {result.stdout}{result.stderr}\n{log_tail(instance)}")
    return wait_until_ready(profile, instance)


def wait_until_ready(profile: Profile, instance: Instance) -> dict:
    """Block until the server runs a query, or raise with the server log's tail."""
    deadline = time.monotonic() + profile.trino.start_timeout_s
    while time.monotonic() < deadline:
        if _launcher_status(profile, instance) != 0:
            raise TrinoError(f"Trino exited while starting.\n{log_tail(instance)}")
        info = server_info(profile)
        if info and not info.get("starting", True):
            run_query(profile, "SELECT 1")
            return info
        time.sleep(1)
    raise TrinoError(f"Trino did not answer within {profile.trino.start_timeout_s} s.\n{log_tail(instance)}")


def _launcher_status(profile: Profile, instance: Instance) -> int:
    return _launcher(profile, instance, "status").returncode


def stop(profile: Profile) -> bool:
    """Stop this profile's server; False if it was not running."""
    instance = instance_for(profile)
    if not instance.pid_file.exists():
        stop_audit_receiver(profile)
        return False
    result = _launcher(profile, instance, "stop")
    stop_audit_receiver(profile)  # after Trino: the events of its last queries are in
    return result.returncode == 0 and "Not running" not in result.stdout


def start_audit_receiver(profile: Profile) -> None:
    """Start the receiver of Trino's query events (citylake.audit), unless it runs."""
    from citylake.audit import receiver

    receiver.ensure_running(profile)


def stop_audit_receiver(profile: Profile) -> None:
    from citylake.audit import receiver

    receiver.stop(profile)


def status(profile: Profile) -> dict:
    """What the server is doing: running or not, its address, version, uptime, pid and log."""
    instance = instance_for(profile)
    info = server_info(profile)
    pid = instance.pid_file.read_text().strip() if instance.pid_file.exists() else None
    return {
        "running": bool(info) and not info.get("starting", True),
        "starting": bool(info) and info.get("starting", False),
        "address": address(profile),
        "version": (info or {}).get("nodeVersion", {}).get("version"),
        "uptime": (info or {}).get("uptime"),
        "pid": pid if info else None,
        "log": str(instance.server_log),
    }


def log_tail(instance: Instance, lines: int = 40) -> str:
    """The last lines of the server and launcher logs, for error messages."""
    parts = []
    for log in (instance.launcher_log, instance.server_log):
        if log.exists():
            text = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log} (last {len(text)} lines) ---\n" + "\n".join(text))
    return "\n".join(parts) or f"(no log yet under {instance.root})"
