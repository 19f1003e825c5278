import pytest


@pytest.fixture()
def inbox(tmp_path):
    return tmp_path / "inbox"
