from pathlib import Path

import pytest

from citylake.settings import ConfigError, load_lake_layout, load_profile, memory_bytes


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
