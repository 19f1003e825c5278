"""The secured Trino against the sharing policy: logins, the whole access matrix (every role x every
table x every personal column, expected values derived from conf/sharing.yml here), a district's
rows, masks that hold through every path a query can take, and approvals, revocations and expiries
taking effect within seconds. Tiny tables are written through lake.py where the lake has none."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta, timezone

import pytest
import trino as trino_client
from pyspark.sql import types as T

from citylake import lake
from citylake.access import Grant, write_grants
from citylake.delta_files import append_rows
from citylake.masks import MASKS
from citylake.settings import lake_layout
from citylake.sharing import load_policy
from citylake.trino import client, security

pytestmark = [pytest.mark.trino, pytest.mark.spark]

ID, NAME, PHONE, ADDRESS = "350502199001011234", "张三丰", "13812345678", "鲤城区海滨街道宝洲路84号1栋1601室"
CLEAR = {"id_number": ID, "name": NAME, "phone": PHONE, "address": ADDRESS,
         "keyed_id_number": f"insured_after_death:{ID}", "redact": "出生日期 1990-01-01"}
LAYERS = ("raw", "integrated", "base", "theme", "app", "ops")
HOME, AWAY = "350502", "350503"  # the district user's own district, and another


@pytest.fixture(scope="module")
def policy():
    return load_policy()


@pytest.fixture(scope="module")
def role_users(policy):
    """One user of each role, as the policy declares them."""
    users = {}
    for user, entry in policy.users.items():
        group = policy.groups[entry.group]
        if group.department != policy.platform.code:  # the platform's users own most tables
            users.setdefault(group.role, user)
    assert set(users) == {"admin", "department_owner", "analyst", "data_scientist", "district_user"}
    return users


def _row(policy, table, district: str) -> dict:
    """One row of a tiny table: personal columns in clear, the territory in the district, the
    columns masks depend on saying "person"."""
    entry = policy.table(table)
    row = {column: None for column in policy.documented[table]}
    for personal in entry.personal:
        row[personal.column] = CLEAR[personal.mask]
    for column in ("subject_type", "owner_type"):
        if column in row:
            row[column] = "person"
    if entry.territory:
        row[entry.territory] = district
    return row


@pytest.fixture(scope="module")
def tiny_lake(spark, trino, policy):
    """Every documented table of the layers present in Trino: a tiny one (two rows, one per district,
    every column a string) written through lake.py where the lake has none; removed afterwards."""
    from concurrent.futures import ThreadPoolExecutor

    from jobs.share.requests import HISTORY, REQUESTS

    made = [table for table in policy.documented if table.split(".")[0] in LAYERS
            and table not in (REQUESTS, HISTORY) and not lake.table_exists(spark, table)]

    def write(table: str) -> None:
        # two rows: one Arrow file and one Delta commit, the lake's path for tiny writes (no Spark job)
        schema = T.StructType([T.StructField(column, T.StringType()) for column in policy.documented[table]])
        append_rows(spark, lake.table_uri(table), lake.table_folder(table), schema,
                    [_row(policy, table, HOME), _row(policy, table, AWAY)], lake_layout().table_properties)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, made))
    client.sync_catalog(trino)
    yield sorted(set(policy.documented) & {f"{s}.{t}" for s, t in client.registered_tables(trino)})
    import shutil

    for table in made:
        shutil.rmtree(lake.table_folder(table), ignore_errors=True)
    client.sync_catalog(trino)


def query(settings, user, sql, password=None):
    with client.connect(settings, user, password) as connection:
        cursor = connection.cursor()
        cursor.execute(sql)
        return cursor.fetchall()


def denied(settings, user, sql) -> bool:
    try:
        query(settings, user, sql)
    except trino_client.exceptions.TrinoUserError as error:
        assert "Access Denied" in error.message, error.message
        return True
    return False


# --------------------------------------------------------------------------- logins

def test_anonymous_and_wrong_passwords_are_refused(trino, role_users):
    import requests

    address = f"https://{trino.trino.host}:{trino.trino.port}"
    certificate = str(security.certificate_path(trino))
    anonymous = requests.post(f"{address}/v1/statement", data="SELECT 1", headers={"X-Trino-User": "citylake"},
                              verify=certificate)
    assert anonymous.status_code == 401
    with pytest.raises(trino_client.exceptions.HttpError, match="401"):
        query(trino, role_users["analyst"], "SELECT 1", password="wrong")
    with pytest.raises(trino_client.exceptions.HttpError, match="401"):
        query(trino, "nobody", "SELECT 1", password="whatever")
    assert query(trino, role_users["analyst"], "SELECT 1") == [[1]]


def test_plain_http_and_other_interfaces_take_no_logins(trino):
    import socket

    config = (security.files_for(trino).etc / "config.properties").read_text()
    internal = int(re.search(r"http-server.http.port=(\d+)", config).group(1))
    assert "node.bind-ip=127.0.0.1" in config
    with socket.create_connection(("127.0.0.1", internal)) as connection:
        connection.sendall(b"POST /v1/statement HTTP/1.1\r\nHost: x\r\nX-Trino-User: citylake\r\n"
                           b"Content-Length: 8\r\n\r\nSELECT 1")
        assert b"403" in connection.recv(200).split(b"\r\n")[0]


# --------------------------------------------------------------------------- the matrix

def expected(policy, user: str, table: str) -> str:
    """What conf/sharing.yml says a user sees of a table's personal columns, with no approvals."""
    group, entry = policy.group_of(user), policy.table(table)
    if group.role == "admin" or group.department == entry.owner:
        return "clear"
    if entry.layer not in policy.file.roles[group.role].layers or entry.sharing != "unconditional":
        return "denied"
    if group.role == "district_user" and entry.territory is None:
        return "denied"
    return "masked"


def observed(trino, user, table, column, mask) -> str:
    try:
        values = {row[0] for row in query(trino, user, f'SELECT "{column.lower()}" FROM lake.{table}')}
    except trino_client.exceptions.TrinoUserError as error:
        assert "Access Denied" in error.message, error.message
        return "denied"
    clear = {row[0] for row in query(trino, "citylake", f'SELECT "{column.lower()}" FROM lake.{table}')} - {None}
    leaked = {value for value in values & clear if MASKS[mask].apply(value) != value}
    return "clear" if leaked else "masked"


def test_the_access_matrix_is_what_the_policy_says(trino, tiny_lake, policy, role_users, record_property):
    cells, wrong = 0, []
    for user in role_users.values():
        for table in tiny_lake:
            entry = policy.table(table)
            columns = [(personal.column, personal.mask) for personal in entry.personal] or [(None, None)]
            want = expected(policy, user, table)
            for column, mask in columns:
                if column is None:  # no personal column: readable or not
                    want = "denied" if want == "denied" else "readable"
                    got = "denied" if denied(trino, user, f"SELECT count(*) FROM lake.{table}") else "readable"
                else:
                    got = observed(trino, user, table, column, mask)
                cells += 1
                if got != want:
                    wrong.append((user, table, column, want, got))
    record_property("access_matrix_cells", cells)
    print(f"access matrix: {len(role_users)} roles x {len(tiny_lake)} tables: {cells} cells, {len(wrong)} wrong")
    assert not wrong, wrong[:20]
    assert cells > 300


def test_a_district_user_sees_only_its_districts_rows(trino, tiny_lake, policy, role_users):
    user = role_users["district_user"]
    home = policy.group_of(user).district
    checked = 0
    for table in tiny_lake:
        entry = policy.table(table)
        if expected(policy, user, table) == "denied" or not entry.territory:
            continue
        column = entry.territory.lower()
        seen = query(trino, user, f'SELECT "{column}" FROM lake.{table}')
        everything = query(trino, "citylake", f'SELECT "{column}" FROM lake.{table}')
        assert all(value[0].startswith(home) for value in seen), table
        assert len(seen) == sum(1 for value in everything if (value[0] or "").startswith(home)), table
        checked += 1
    assert checked >= 10


# --------------------------------------------------------------------------- masks hold on every path

def test_masks_never_leak_cleartext(trino, tiny_lake, policy, role_users):
    analyst = role_users["analyst"]
    table = "lake.base.legal_entity"
    ids = [row[0] for row in query(trino, "citylake", f"SELECT legal_rep_id_number FROM {table} "
                                                      "WHERE legal_rep_id_number IS NOT NULL")]
    names = {row[0] for row in query(trino, "citylake", f"SELECT legal_rep_name FROM {table}")} - {None}
    assert ids and names
    clear = set(ids) | names

    def text(rows) -> str:
        return repr(rows)

    answers = [
        query(trino, analyst, f"SELECT a.legal_rep_id_number, b.legal_rep_name FROM {table} a JOIN {table} b ON a.uscc = b.uscc"),
        query(trino, analyst, f"SELECT max(legal_rep_id_number), min(legal_rep_name), array_agg(legal_rep_name) FROM {table}"),
        query(trino, analyst, f"SELECT legal_rep_name, count(*) FROM {table} GROUP BY 1"),
        query(trino, analyst, f"SELECT legal_rep_id_number FROM {table} UNION SELECT legal_rep_name FROM {table}"),
        query(trino, analyst, "SELECT * FROM lake.information_schema.columns WHERE table_name = 'legal_entity'"),
        query(trino, analyst, f"SHOW STATS FOR {table}"),
        query(trino, analyst, f"SHOW STATS FOR (SELECT legal_rep_id_number FROM {table})"),
    ]
    for answer in answers:
        assert not any(value in text(answer) for value in clear), answer
    # a predicate on the clear value matches nothing: it sees the masked value
    assert query(trino, analyst, f"SELECT count(*) FROM {table} WHERE legal_rep_id_number = '{ids[0]}'") == [[0]]
    assert query(trino, analyst, f"SELECT count(*) FROM {table} WHERE legal_rep_id_number LIKE '{ids[0][:10]}%'") == [[0]]
    # EXPLAIN ANALYZE counts the same rows for the clear value as for one that exists nowhere
    plans = [query(trino, analyst, f"EXPLAIN ANALYZE SELECT count(*) FROM {table} WHERE legal_rep_id_number = '{value}'")
             for value in (ids[0], "000000000000000000")]
    counts = [re.findall(r"Output: (\d+) rows?", plan[0][0]) for plan in plans]
    assert counts[0] == counts[1]
    # views: a user may create none, and may not read one another made over a masked table
    assert denied(trino, analyst, f"CREATE VIEW lake.theme.leak AS SELECT * FROM {table}")
    query(trino, "citylake", f"CREATE OR REPLACE VIEW lake.theme.test_definer_view AS SELECT legal_rep_id_number FROM {table}")
    try:
        assert denied(trino, analyst, "SELECT * FROM lake.theme.test_definer_view")
    finally:
        query(trino, "citylake", "DROP VIEW lake.theme.test_definer_view")
    # the tables a user may not read do not show in the metadata either
    listed = {row[0] for row in query(trino, analyst, "SELECT table_name FROM lake.information_schema.tables "
                                                       "WHERE table_schema = 'raw'")}
    own = policy.group_of(analyst).department
    assert listed == {table.split(".")[1] for table in tiny_lake
                      if table.startswith("raw.") and policy.table(table).owner == own}
    # the system tables that show other users' queries and the cluster are the admins'
    assert denied(trino, analyst, "SELECT * FROM system.runtime.nodes")
    assert denied(trino, analyst, "SELECT query FROM system.runtime.queries")


# --------------------------------------------------------------------------- approvals flip access

def wait_until(check, seconds: float = 15.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check():
            return time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError(f"not within {seconds} s")


def test_approval_revocation_and_expiry_take_effect_within_seconds(spark, trino, tiny_lake, policy, role_users):
    from jobs.share import requests as share

    analyst, admin = role_users["analyst"], role_users["admin"]
    table = "base.population"
    sql = f"SELECT id_number FROM lake.{table}"
    assert denied(trino, analyst, sql)
    asked = share.request(spark, analyst, table, "核查参保人员身份", date.today() + timedelta(days=30))
    assert asked["status"] == "pending" and asked["reply_due"] > date.today()
    assert denied(trino, analyst, sql)
    share.approve(spark, asked["request_id"], admin, "同意")
    took = wait_until(lambda: not denied(trino, analyst, sql))
    values = {row[0] for row in query(trino, analyst, sql)}
    assert values and all("*" in value for value in values if value)
    print(f"approval took effect in {took:.1f} s")

    share.revoke(spark, asked["request_id"], admin, "用途已完成")
    wait_until(lambda: denied(trino, analyst, sql))

    clear = share.request(spark, analyst, table, "上门核查", date.today() + timedelta(days=1),
                          columns=["id_number", "division_code"], cleartext=True)
    share.approve(spark, clear["request_id"], admin, "同意，限身份证号")
    wait_until(lambda: not denied(trino, analyst, sql))
    assert any(value and "*" not in value for value in {row[0] for row in query(trino, analyst, sql)})
    assert denied(trino, analyst, f"SELECT name FROM lake.{table}")  # a column it did not ask for

    # expiry: Trino stops honouring an approval at its end by itself, before any regeneration ...
    soon = datetime.now(timezone.utc) + timedelta(seconds=4)
    write_grants(trino.path("var"), [Grant("sr-test", policy.group_of(analyst).consumer, table, soon)])
    security.refresh(trino)
    assert query(trino, analyst, f"SELECT count(*) FROM lake.{table}")[0][0] > 0
    wait_until(lambda: query(trino, analyst, f"SELECT count(*) FROM lake.{table}")[0][0] == 0)
    # ... and `expire` ends the request in the lake and drops it from the rules
    expired = share.expire(spark, now=datetime.now(share.ZONE) + timedelta(days=3))
    assert clear["request_id"] in expired
    wait_until(lambda: denied(trino, analyst, sql))
    history = lake.read_table(spark, share.HISTORY).where(f"request_id = '{clear['request_id']}'").toPandas()
    assert list(history.sort_values("revision")["to_status"]) == ["pending", "approved", "expired"]
    listed = share.list_requests(spark)
    assert {asked["request_id"]: "revoked", clear["request_id"]: "expired"}.items() <= dict(
        zip(listed["request_id"], listed["status"])).items()


def test_requests_the_policy_refuses(spark, trino, tiny_lake, role_users):
    from jobs.share import requests as share

    analyst = role_users["analyst"]
    later = date.today() + timedelta(days=5)
    with pytest.raises(share.ShareError, match="not shared"):
        share.request(spark, analyst, "base.population_conflict", "x", later)
    with pytest.raises(share.ShareError, match="admin"):
        share.request(spark, role_users["admin"], "base.population", "x", later)
    asked = share.request(spark, analyst, "base.population", "统计", later)
    with pytest.raises(share.ShareError, match="may not answer"):
        share.approve(spark, asked["request_id"], role_users["department_owner"])  # psb does not own base
    share.reject(spark, asked["request_id"], role_users["admin"], "用途不明确")
    overdue = share.list_requests(spark, overdue_on=date.today() + timedelta(days=60))
    assert asked["request_id"] not in set(overdue["request_id"])
    pending = share.request(spark, analyst, "base.population", "统计", later)
    overdue = share.list_requests(spark, overdue_on=date.today() + timedelta(days=60))
    assert pending["request_id"] in set(overdue["request_id"])
    unconditional = share.request(spark, analyst, "base.legal_entity", "企业名录", later)
    assert unconditional["status"] == "approved" and unconditional["answered_by"] == share.AUTOMATIC


def test_each_mask_is_the_same_in_trino_spark_and_python(spark, trino):
    from citylake.masks import mask_column

    values = [ID, "35050219900101123X", "350502900101123", NAME, "欧阳", "", PHONE, "0595-22881234", "12345",
              ADDRESS, "永春县五里街镇津淮街140号", "晋江市某某路1号", "某某路1号", "insured_after_death:" + ID, None]
    frame = spark.createDataFrame([(value,) for value in values], "v string")
    literals = ", ".join("(CAST(NULL AS varchar))" if value is None else "('" + value + "')" for value in values)
    for name, mask in MASKS.items():
        in_python = [mask.apply(value) for value in values]
        in_spark = [row.v for row in mask_column(frame, "v", name).collect()]
        in_trino = [row[0] for row in query(trino, "citylake", f"SELECT {mask.sql('v')} FROM (VALUES {literals}) AS t(v)")]
        assert in_trino == in_spark == in_python, name
        assert all(value is None or masked != value or name == "keyed_id_number"
                   for value, masked in zip(values, in_python) if value)


def test_a_table_no_job_documents_yet_is_its_layer_owners_alone(spark, trino, policy, role_users):
    """A new theme table (its job's declaration not yet in the rules) is read by the platform's users,
    who own the layer, and by nobody else until the rules know its columns."""
    name = "theme.test_undocumented_probe"
    lake.write_table(spark.createDataFrame([("350502", "张三")], "district_code string, name string"), name, "overwrite")
    try:
        owner = next(user for user, entry in policy.users.items()
                     if policy.groups[entry.group].department == policy.platform.code)
        assert query(trino, owner, f"SELECT name FROM lake.{name}") == [["张三"]]
        for role in ("analyst", "district_user", "data_scientist", "department_owner"):
            assert denied(trino, role_users[role], f"SELECT name FROM lake.{name}")
    finally:
        import shutil

        shutil.rmtree(lake.table_folder(name), ignore_errors=True)
        client.sync_catalog(trino)
