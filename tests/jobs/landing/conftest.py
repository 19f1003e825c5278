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


@pytest.fixture()
def fresh_resource(spark, trino):
    """fresh_resource(department, resource): the resource as if nothing had ever been delivered (no
    raw table, no ledger or quarantine rows), as `fresh_psb` for household registration; its raw
    table's name."""
    import shutil

    from pyspark.sql import functions as F

    from citylake import lake
    from citylake.trino import client

    def forget(department, resource):
        table = f"{department}_{resource}"
        shutil.rmtree(trino.path("warehouse") / "raw" / table, ignore_errors=True)
        client.sync_catalog(trino)
        for name in ("ops.batch_ledger", "ops.quarantine"):
            if lake.table_exists(spark, name):
                of_resource = (F.col("department") == department) & (F.col("resource") == resource)
                lake.delta_table(spark, name).delete(of_resource)
        return f"raw.{table}"

    return forget
