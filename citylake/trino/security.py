"""The managed Trino, secured as Trino documents it: HTTPS with a certificate made at set-up,
password file authentication (bcrypt), a group file, and file-based access control whose rules are
generated from the sharing policy (conf/sharing.yml) and the approvals in force.

Trino re-reads the password, group and rules files every `security.refresh_period`, so a new
approval, a revocation or an expiry takes effect within seconds, without a restart: every change
rewrites them atomically (`refresh`). Users' passwords live in a git-ignored secrets file; only the
demo and the tests generate them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import secrets as token
import socket
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import yaml

from citylake.access import Grant, TableAccess, read_grants, table_access, write_atomically
from citylake.settings import ConfigError, Profile, conf_dir
from citylake.sharing import SharingPolicy, load_policy

# the server tarball's plugin holding the password file authenticator and the file group provider
PLUGINS = ("password-authenticators",)
ADMIN_PRIVILEGES = ["SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP", "GRANT_SELECT"]


class SecurityError(ConfigError):
    """Trino cannot be secured as configured (a missing password, an unreadable secrets file)."""


# --------------------------------------------------------------------------- files and folders

@dataclass(frozen=True)
class SecurityFiles:
    """Where one instance's security files live (under its folder in var/, git-ignored)."""

    etc: Path
    tls: Path

    @property
    def keystore(self) -> Path:
        return self.tls / "trino.pem"  # key and certificate: the server's

    @property
    def certificate(self) -> Path:
        return self.tls / "trino-cert.pem"  # the certificate alone: what clients trust

    @property
    def shared_secret(self) -> Path:
        return self.tls / "shared-secret"

    @property
    def passwords(self) -> Path:
        return self.etc / "password.db"

    @property
    def groups(self) -> Path:
        return self.etc / "group.txt"

    @property
    def rules(self) -> Path:
        return self.etc / "rules.json"


def files_for(profile: Profile) -> SecurityFiles:
    root = profile.path("var") / "trino"
    return SecurityFiles(etc=root / "etc", tls=root / "tls")


def certificate_path(profile: Profile) -> Path:
    """The PEM certificate a client of the managed Trino trusts."""
    return files_for(profile).certificate


# --------------------------------------------------------------------------- secrets

def secrets_path(profile: Profile) -> Path:
    configured = profile.trino.security.secrets_file
    return Path(configured).expanduser() if configured else conf_dir() / "secrets.yml"


def read_passwords(profile: Profile) -> dict[str, str]:
    """user -> password from the secrets file (`trino_passwords:`); none when the file is absent."""
    path = secrets_path(profile)
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise SecurityError(f"{path}: not valid YAML: {error}") from None
    passwords = data.get("trino_passwords") or {}
    if not isinstance(passwords, dict):
        raise SecurityError(f"{path}: trino_passwords must map user names to passwords")
    return {str(user): str(password) for user, password in passwords.items()}


def password_of(profile: Profile, user: str) -> str:
    """A user's password, or a clear error naming the secrets file."""
    password = read_passwords(profile).get(user)
    if not password:
        raise SecurityError(f"no password for Trino user {user!r} in {secrets_path(profile)} "
                            "(trino_passwords: {user: password}); `citylake demo` generates the demo's")
    return password


def ensure_passwords(profile: Profile, policy: SharingPolicy, generate: bool | None = None) -> dict[str, str]:
    """Every policy user's password; a missing one is generated (demo, tests) or, for the users the
    platform itself logs in as, an error."""
    generate = profile.trino.security.generate_passwords if generate is None else generate
    passwords = read_passwords(profile)
    missing = [user for user in policy.users if not passwords.get(user)]
    if missing and generate:
        passwords |= {user: token.token_urlsafe(12) for user in missing}
        _write_passwords(secrets_path(profile), passwords)
        missing = []
    needed = [user for user in (profile.trino.user, profile.trino.security.dashboard_user) if user in missing]
    if needed:
        raise SecurityError(f"no password for {', '.join(needed)} in {secrets_path(profile)}: add "
                            f"trino_passwords: {{{needed[0]}: ...}} there (the file is git-ignored)")
    unknown = sorted(set(passwords) - set(policy.users))
    if unknown:
        raise SecurityError(f"{secrets_path(profile)}: {', '.join(unknown)} not users of conf/sharing.yml")
    return {user: password for user, password in passwords.items() if password}


def _write_passwords(path: Path, passwords: dict[str, str]) -> None:
    data = {}
    if path.exists():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    data["trino_passwords"] = passwords
    write_atomically(path, "# Trino users' passwords (git-ignored; generated for the demo)\n"
                     + yaml.safe_dump(data, allow_unicode=True, sort_keys=True))
    path.chmod(0o600)


def password_file(passwords: dict[str, str], existing: Path | None = None) -> str:
    """`user:bcrypt-hash` lines (cost 10); a hash that still matches its password is kept."""
    kept = {}
    if existing is not None and existing.exists():
        kept = dict(line.split(":", 1) for line in existing.read_text().splitlines() if ":" in line)
    lines = []
    for user, password in sorted(passwords.items()):
        hashed = kept.get(user)
        if not hashed or not bcrypt.checkpw(password.encode(), hashed.encode()):
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()
        lines.append(f"{user}:{hashed}")
    return "\n".join(lines) + "\n"


def group_file(policy: SharingPolicy) -> str:
    """Trino's group file: `group:user1,user2` per group of the policy."""
    members: dict[str, list[str]] = {group: [] for group in policy.groups}
    for user, entry in policy.users.items():
        members[entry.group].append(user)
    return "".join(f"{group}:{','.join(users)}\n" for group, users in members.items() if users)


# --------------------------------------------------------------------------- TLS

def ensure_certificate(files: SecurityFiles, hosts: list[str]) -> None:
    """A self-signed certificate (and its key) for these host names and addresses, made once and
    kept while it is valid for another 30 days, so clients keep trusting the same one."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    if files.certificate.exists() and files.keystore.exists():
        current = x509.load_pem_x509_certificate(files.certificate.read_bytes())
        if current.not_valid_after_utc > dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30):
            return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "citylake-trino")])
    now = dt.datetime.now(dt.timezone.utc)
    alternative = [_subject_name(host) for host in dict.fromkeys(["localhost", "127.0.0.1", *hosts])]
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    secret = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    files.tls.mkdir(parents=True, exist_ok=True)
    write_atomically(files.keystore, (secret + pem).decode())
    files.keystore.chmod(0o600)
    write_atomically(files.certificate, pem.decode())


def _subject_name(host: str):
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def shared_secret(files: SecurityFiles) -> str:
    """The secret the nodes authenticate each other with, made once per instance."""
    if not files.shared_secret.exists():
        files.tls.mkdir(parents=True, exist_ok=True)
        write_atomically(files.shared_secret, token.token_urlsafe(48))
        files.shared_secret.chmod(0o600)
    return files.shared_secret.read_text().strip()


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


# --------------------------------------------------------------------------- access rules

def access_rules(policy: SharingPolicy, grants: list[Grant], now: dt.datetime,
                 catalog: str = "lake") -> dict:
    """Trino's file-based access control rules: admins everything; every other group, table by
    table, what `citylake.access.table_access` decides (first matching rule wins, none denies)."""
    admins = [name for name, group in policy.groups.items() if group.role == "admin"]
    admin = "|".join(admins)
    admin_users = [user for user, entry in policy.users.items() if entry.group in admins]
    tables: list[dict] = [{"group": admin, "privileges": ADMIN_PRIVILEGES}]
    for group_name, group in policy.groups.items():
        if group.role == "admin":
            continue
        for table in policy.tables.values():
            access = table_access(policy, group, table, grants, now, policy.documented.get(table.name, ()))
            if access.readable:
                tables.append(_table_rule(group_name, catalog, table.name, access))
        # a table no job documents yet (a new theme table, one written since) is its layer owner's
        # alone until the rules are generated again: nothing is known of its personal columns
        for layer, default in policy.file.layers.items():
            if default.owner is not None and group.department == default.owner:
                tables.append({"group": group_name, "catalog": catalog, "schema": layer, "privileges": ["SELECT"]})
    # metadata clients (JDBC, DBeaver) browse through system.jdbc and system.metadata
    tables.append({"catalog": "system", "schema": "jdbc|metadata", "privileges": ["SELECT"]})
    tables.append({"catalog": "system", "schema": "information_schema", "privileges": ["SELECT"]})
    return {
        "catalogs": [{"group": admin, "allow": "all"},
                     {"catalog": f"{catalog}|system", "allow": "read-only"}],
        "schemas": [{"group": admin, "owner": True}, {"owner": False}],
        "tables": tables,
        "queries": [{"group": admin, "allow": ["execute", "kill", "view"]}, {"allow": ["execute"]}],
        # these rules match users, not groups
        "system_information": [{"user": "|".join(admin_users), "allow": ["read", "write"]}],
        "procedures": [{"group": admin, "privileges": ["EXECUTE", "GRANT_EXECUTE"]}],
        "functions": [{"group": admin, "privileges": ["EXECUTE", "GRANT_EXECUTE", "OWNERSHIP"]},
                      {"catalog": "system", "schema": "builtin", "privileges": ["EXECUTE"]}],
        "system_session_properties": [{"group": admin, "allow": True}, {"allow": False}],
        "catalog_session_properties": [{"group": admin, "allow": True}, {"allow": False}],
        "authorization": [{"original_group": admin, "new_user": ".*", "allow": True}],
    }


def _table_rule(group: str, catalog: str, name: str, access: TableAccess) -> dict:
    schema, _, table = name.partition(".")
    rule: dict = {"group": group, "catalog": catalog, "schema": schema, "table": table, "privileges": ["SELECT"]}
    columns = [{"name": column, "allow": False} for column in access.hidden]
    columns += [{"name": column, "mask": expression} for column, expression in access.masks.items()]
    if columns:
        rule["columns"] = columns
    if access.filter:
        rule["filter"] = access.filter
    return rule


def refresh(profile: Profile, policy: SharingPolicy | None = None, now: dt.datetime | None = None) -> Path:
    """Rewrite the password, group and rules files from the policy and the approvals in force;
    Trino picks them up within its refresh period."""
    policy = policy or load_policy()
    files = files_for(profile)
    files.etc.mkdir(parents=True, exist_ok=True)
    now = now or dt.datetime.now(dt.timezone.utc)
    passwords = ensure_passwords(profile, policy)
    write_atomically(files.passwords, password_file(passwords, files.passwords))
    write_atomically(files.groups, group_file(policy))
    grants = [grant for grant in read_grants(profile.path("var")) if grant.active(now)]
    rules = access_rules(policy, grants, now, profile.trino.catalog)
    write_atomically(files.rules, json.dumps(rules, ensure_ascii=False, indent=1))
    return files.rules


def server_properties(profile: Profile) -> dict[str, dict[str, str]]:
    """The secured server's files in etc/ (name -> properties) and the entries config.properties
    gains (under "config.properties"): HTTPS on the profile's port, loopback HTTP between nodes."""
    security = profile.trino.security
    files = files_for(profile)
    ensure_certificate(files, [profile.trino.host, security.bind_host])
    refresh(profile)
    internal = security.internal_port or free_port(security.bind_host)
    period = security.refresh_period
    return {
        "config.properties": {
            "node.bind-ip": security.bind_host,
            "node.internal-address": "127.0.0.1" if security.bind_host in ("127.0.0.1", "0.0.0.0") else security.bind_host,
            # HTTP stays for the nodes' own traffic only: password logins are refused over it
            "http-server.http.port": str(internal),
            "discovery.uri": f"http://127.0.0.1:{internal}",
            "http-server.https.enabled": "true",
            "http-server.https.port": str(profile.trino.port),
            "http-server.https.keystore.path": str(files.keystore),
            "http-server.authentication.type": "PASSWORD",
            "internal-communication.shared-secret": shared_secret(files),
        },
        "password-authenticator.properties": {
            "password-authenticator.name": "file", "file.password-file": str(files.passwords),
            "file.refresh-period": period},
        "group-provider.properties": {
            "group-provider.name": "file", "file.group-file": str(files.groups), "file.refresh-period": period},
        "access-control.properties": {
            "access-control.name": "file", "security.config-file": str(files.rules),
            "security.refresh-period": period},
    }


def login_lines(profile: Profile, policy: SharingPolicy | None = None) -> list[tuple[str, str, str, str]]:
    """(user, role, consumer, password) for every policy user with a password: how to log in."""
    policy = policy or load_policy()
    passwords = read_passwords(profile)
    return [(user, policy.groups[entry.group].role, policy.consumer_name(policy.groups[entry.group].consumer),
             passwords[user]) for user, entry in policy.users.items() if passwords.get(user)]

