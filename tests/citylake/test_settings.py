import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from citylake.settings import DEFAULT_CONF_DIR, ConfigError, conf_dir, load_lake_layout, load_profile, memory_bytes


def test_local_profile_loads_with_relative_paths_under_the_project():
    profile = load_profile("local", environ={})
    assert profile.spark.master == "local[2]"
    assert profile.path("warehouse").is_absolute()
    assert profile.uri("warehouse").startswith("file:/")


def test_environment_overrides_nested_values():
    profile = load_profile("local", environ={"CITYLAKE__TRINO__PORT": "9123",
                                             "CITYLAKE__PATHS__WAREHOUSE": "/data/lake"})
    assert profile.trino.port == 9123
    assert profile.path("warehouse") == Path("/data/lake")


def test_cluster_profile_keeps_locations_as_uris():
    profile = load_profile("cluster", environ={})
    assert profile.uri("warehouse").startswith("s3a://")
    assert not profile.trino.managed
    with pytest.raises(ConfigError, match="not a local path"):
        profile.path("warehouse")


def test_a_typo_names_the_file_and_the_field():
    with pytest.raises(ConfigError) as error:
        load_profile("local", environ={"CITYLAKE__SPARK__MASTR": "local[1]"})
    assert "local.yml" in str(error.value) and "spark.mastr" in str(error.value)


def test_trino_memory_must_fit_the_heap():
    with pytest.raises(ConfigError, match="must stay below heap"):
        load_profile("local", environ={"CITYLAKE__TRINO__HEAP": "4G",
                                       "CITYLAKE__TRINO__QUERY_MAX_MEMORY_PER_NODE": "3GB"})


def test_memory_sizes():
    assert memory_bytes("8G") == 8 * 1024**3
    assert memory_bytes("512MB") == 512 * 1024**2
    with pytest.raises(ConfigError):
        memory_bytes("lots")


def test_lake_layout_has_the_analysts_schemas():
    layout = load_lake_layout()
    assert list(layout.layers) == ["raw", "integrated", "base", "theme", "share", "ops", "app"]
    assert layout.table_properties["delta.enableDeletionVectors"] == "true"


def _conf_copy(tmp_path: Path) -> Path:
    conf = tmp_path / "deployment-conf"
    shutil.copytree(DEFAULT_CONF_DIR, conf, ignore=shutil.ignore_patterns("secrets.yml"))
    return conf


def test_the_configuration_folder_is_a_setting(tmp_path, monkeypatch):
    """A deployment's catalog, rules, libraries and profiles are read from CITYLAKE_CONF."""
    from citylake.catalog import load_catalog
    from citylake.libraries import load_libraries
    from citylake.rules import load_rules

    conf = _conf_copy(tmp_path)
    grid = conf / "catalog" / "grid.yml"
    grid.write_text(grid.read_text(encoding="utf-8").replace("name: 网格化服务管理中心,", "name: 某市网格化服务管理中心,"), encoding="utf-8")
    (conf / "profiles" / "elsewhere.yml").write_text(
        (conf / "profiles" / "local.yml").read_text(encoding="utf-8").replace("name: local", "name: elsewhere"),
        encoding="utf-8")
    monkeypatch.setenv("CITYLAKE_CONF", str(conf))

    assert conf_dir() == conf.resolve()
    catalog = load_catalog()
    assert catalog.conf_dir == conf.resolve()
    assert catalog.department("grid").name == "某市网格化服务管理中心"
    assert load_rules(catalog).rules_for(catalog.resource("grid", "event")) is not None
    assert {library.name for library in load_libraries()} >= {"population", "legal_entity"}
    assert load_profile("elsewhere").name == "elsewhere"
    with pytest.raises(ConfigError, match="elsewhere.yml"):
        load_profile("elsewhere", environ={})  # without the setting: the checkout's conf/


def test_a_missing_configuration_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration folder"):
        conf_dir({"CITYLAKE_CONF": str(tmp_path / "nowhere")})
    assert conf_dir({}) == DEFAULT_CONF_DIR


def test_the_command_reads_its_configuration_from_the_setting(tmp_path):
    """The CLI, as a deployment runs it: a typo in the deployment's profile is reported with the
    deployment's file, not the checkout's."""
    conf = _conf_copy(tmp_path)
    local = conf / "profiles" / "local.yml"
    local.write_text(local.read_text(encoding="utf-8").replace("  master: local[2]", "  mastr: local[2]"),
                     encoding="utf-8")
    environ = {key: value for key, value in os.environ.items() if not key.startswith("CITYLAKE")}
    result = subprocess.run([sys.executable, "-m", "citylake.cli", "trino", "status"], capture_output=True,
                            text=True, env={**environ, "CITYLAKE_CONF": str(conf)}, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "configuration error" in result.stdout
    assert str(local) in result.stdout.replace("\n", "")
