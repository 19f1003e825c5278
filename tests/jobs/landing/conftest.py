import pytest


@pytest.fixture()
def inbox(tmp_path):
    return tmp_path / "inbox"


@pytest.fixture()
def land_killed_at(spark, catalog, monkeypatch):
    """Land an inbox with `owner.name` failing as a killed process would: the run stops there."""
    from jobs.landing.job import land_inbox

    def land(inbox, owner, name):
        def killed(*args, **kwargs):
            raise RuntimeError("killed")

        with monkeypatch.context() as patch:
            patch.setattr(owner, name, killed)
            with pytest.raises(RuntimeError, match="killed"):
                land_inbox(spark, inbox, catalog)

    return land
