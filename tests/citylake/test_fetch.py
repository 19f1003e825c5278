import hashlib

import pytest

from citylake.fetch import Artifact, FetchError, fetch_artifact


def test_coordinates_parse_and_map_to_the_maven_layout(tmp_path):
    artifact = Artifact.parse("io.trino:trino-cli:476:jar:executable")
    assert str(artifact) == "io.trino:trino-cli:476:jar:executable"
    assert artifact.path_in(tmp_path) == tmp_path / "io/trino/trino-cli/476/trino-cli-476-executable.jar"
    with pytest.raises(ValueError):
        Artifact.parse("io.trino")


def test_a_cached_artifact_with_its_checksum_is_used_without_maven(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # no mvn: any download attempt would fail
    target = Artifact.parse("org.example:thing:1.0").path_in(tmp_path / "m2")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"jar bytes")
    target.with_name(target.name + ".sha1").write_text(hashlib.sha1(b"jar bytes").hexdigest())
    assert fetch_artifact("org.example:thing:1.0", tmp_path) == target


def test_a_corrupt_cached_file_is_discarded_and_the_failure_says_how_to_retry(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    target = Artifact.parse("org.example:thing:1.0").path_in(tmp_path / "m2")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"truncated")
    target.with_name(target.name + ".sha1").write_text("0" * 40)
    with pytest.raises(FetchError, match="make setup"):
        fetch_artifact("org.example:thing:1.0", tmp_path)
    assert not target.exists()


def test_a_missing_artifact_reports_what_failed(settings):
    with pytest.raises(FetchError, match="could not download org.citylake.missing:nothing:0.0.0") as error:
        fetch_artifact("org.citylake.missing:nothing:0.0.0", settings.path("cache"))
    assert "rerun `make setup`" in str(error.value)
