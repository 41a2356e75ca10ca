"""Generated users, the server's configuration file, and logging in with them."""

import asyncio
import json
import stat
import time

import pytest
from nats.js.errors import NotFoundError

from bus import subjects
from bus.connection import LoginRefused, close, connect, credential_options, jetstream
from bus.layout import NODE_STREAMS, wait_for_streams
from bus.nats_auth import (
    PASSWORD_BYTES,
    credentials_env,
    generate_users,
    main,
    node_permissions,
)
from bus.nats_server import start_server
from bus.provision import provision
from bus.settings import BusSettings
from tests.security.conftest import AuthServer, start_auth_server
from tests.security.helpers import settings_for


def test_every_role_gets_its_own_long_random_password():
    first = generate_users(["edge-1"], ["cloud-1", "cloud-2"])
    second = generate_users(["edge-1"], ["cloud-1", "cloud-2"])

    names = [user.name for user in first]
    assert names == [
        "coordinator",
        "web",
        "admin",
        "node-edge-1",
        "node-cloud-1",
        "node-cloud-2",
    ]
    passwords = [user.password for user in first + second]
    assert len(set(passwords)) == len(passwords)
    assert all(len(password) >= PASSWORD_BYTES * 4 // 3 for password in passwords)
    assert first[0].password not in repr(first[0])


def test_node_ids_must_be_unique_across_tiers():
    with pytest.raises(ValueError, match="unique"):
        generate_users(["n-1"], ["n-1"])
    with pytest.raises(ValueError, match="node_id"):
        generate_users(["bad.id"], [])


def test_a_node_may_use_only_its_own_subjects():
    rights = node_permissions("edge", "edge-7", "node-edge-7")

    assert rights.subscribe == ("_INBOX.node-edge-7.>",)
    assert "$JS.API.CONSUMER.MSG.NEXT.JOBS.edge-edge-7" in rights.publish
    assert [s for s in rights.publish if s.startswith("$KV.")] == ["$KV.nodes.edge-7"]
    consumer_rights = [s for s in rights.publish if ".CONSUMER." in s]
    assert all(".JOBS.edge-edge-7" in s for s in consumer_rights)
    assert not [s for s in rights.publish if s.startswith(("jobs.", "tasks."))]
    for forbidden in ("STREAM.CREATE", "STREAM.UPDATE", "DELETE", "DURABLE"):
        assert not [s for s in rights.publish if forbidden in s], forbidden


def test_the_server_configuration_is_private_and_lists_every_user(
    auth_server: AuthServer,
):
    config_file = auth_server.server.config_file
    assert config_file is not None
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600

    config = json.loads(config_file.read_text())
    listed = {entry["user"]: entry for entry in config["authorization"]["users"]}
    assert set(listed) == {user.name for user in auth_server.users}
    assert "permissions" not in listed["admin"]
    edge = listed["node-edge-1"]["permissions"]
    assert edge["subscribe"] == {"allow": ["_INBOX.node-edge-1.>"]}


def test_the_credentials_command_prints_a_users_login(auth_server, capsys):
    config_file = auth_server.server.config_file
    edge_password = credentials_env(config_file, "edge-1")["NATS_PASSWORD"]

    assert main(["env", "edge-1", "--config", str(config_file)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        "export NATS_USER=node-edge-1",
        f"export NATS_PASSWORD={edge_password}",
    ]

    assert main(["env", "edge-9", "--config", str(config_file)]) == 1
    assert "no user 'edge-9'" in capsys.readouterr().err


async def test_wrong_or_missing_credentials_fail_at_once(auth_server: AuthServer):
    url = auth_server.server.url
    for settings in (
        BusSettings(nats_url=url),
        BusSettings(nats_url=url, user="web", password="not the password"),
        BusSettings(nats_url=url, token="some-token"),
    ):
        began = time.monotonic()
        with pytest.raises(LoginRefused, match="refused to let us in"):
            await connect(settings, "intruder")
        assert time.monotonic() - began < 5


async def test_replies_come_back_on_the_users_own_inbox(auth_server: AuthServer):
    settings = settings_for(auth_server.server, auth_server.users, "edge", "edge-1")
    nc = await connect(settings, "inbox-test")
    try:
        assert nc.new_inbox().startswith("_INBOX.node-edge-1.")
        # The server's answer (no such stream yet) comes back to that inbox.
        with pytest.raises(NotFoundError):
            await jetstream(nc).stream_info(subjects.JOBS_STREAM)
    finally:
        await close(nc)


async def test_an_open_server_still_takes_anonymous_clients(bus_settings):
    nc = await connect(BusSettings(nats_url=bus_settings.nats_url), "anonymous")
    try:
        assert nc.new_inbox().startswith("_INBOX.")
        await jetstream(nc).account_info()
    finally:
        await close(nc)


async def test_a_node_waits_for_the_layout_it_may_not_create():
    auth = start_auth_server(["edge-1"], [])
    try:
        server, users = auth.server, auth.users
        node_settings = settings_for(server, users, "edge", "edge-1")
        node = await connect(node_settings, "edge-node")
        waiting = asyncio.create_task(wait_for_streams(jetstream(node), poll_s=0.1))
        await asyncio.sleep(0.5)
        assert not waiting.done()

        coordinator_settings = settings_for(server, users, "coordinator")
        coordinator = await connect(coordinator_settings, "coordinator")
        await provision(jetstream(coordinator), coordinator_settings)
        await asyncio.wait_for(waiting, timeout=5)
        for stream in NODE_STREAMS:
            await jetstream(node).stream_info(stream)
        await close(coordinator)
        await close(node)
    finally:
        auth.server.stop()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"password": "p"}, "NATS_USER and NATS_PASSWORD"),
        ({"user": "u", "password": "p", "token": "t"}, "only one of"),
        ({"token": "t", "creds_file": "x.creds"}, "only one of"),
        ({"tls_cert": "c.pem"}, "NATS_TLS_CERT and NATS_TLS_KEY"),
        ({"user": "a.b", "password": "p"}, "NATS_INBOX_PREFIX"),
    ],
)
def test_contradicting_bus_settings_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        BusSettings(**fields)


def test_bus_settings_read_credentials_and_tls_from_the_environment(
    monkeypatch, tmp_path
):
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked here")
    monkeypatch.setenv("NATS_USER", "web")
    monkeypatch.setenv("NATS_PASSWORD", "secret")
    monkeypatch.setenv("NATS_TLS_CA", str(ca))
    settings = BusSettings.from_env()

    assert (settings.user, settings.password, settings.tls_ca) == ("web", "secret", ca)
    assert settings.inbox == "_INBOX.web"
    assert "secret" not in repr(settings)

    monkeypatch.setenv("NATS_INBOX_PREFIX", "_INBOX_custom")
    assert BusSettings.from_env().inbox == "_INBOX_custom"
    monkeypatch.setenv("NATS_TLS_CA", str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="NATS_TLS_CA"):
        BusSettings.from_env()


async def test_a_token_server_takes_nats_token(tmp_path):
    token = "a-long-test-token-0123456789"
    server = start_server(tmp_path / "js", extra_args=["--auth", token])
    try:
        nc = await connect(BusSettings(nats_url=server.url, token=token), "token")
        await jetstream(nc).account_info()
        await close(nc)
        wrong = BusSettings(nats_url=server.url, token="not-the-token")
        with pytest.raises(LoginRefused):
            await connect(wrong, "wrong token")
    finally:
        server.stop()


def test_a_creds_file_is_handed_to_the_client(tmp_path, monkeypatch):
    creds = tmp_path / "edge.creds"
    creds.write_text("-----BEGIN NATS USER JWT-----\n")
    monkeypatch.setenv("NATS_CREDS", str(creds))
    options = credential_options(BusSettings.from_env())

    assert options == {"inbox_prefix": "_INBOX", "user_credentials": str(creds)}


async def test_a_refusal_never_repeats_credentials_from_the_url(auth_server):
    url = f"nats://web:guessed-secret@127.0.0.1:{auth_server.server.port}"
    with pytest.raises(LoginRefused) as refused:
        await connect(BusSettings(nats_url=url), "guesser")
    assert "guessed-secret" not in str(refused.value)
    assert f"nats://***@127.0.0.1:{auth_server.server.port}" in str(refused.value)
