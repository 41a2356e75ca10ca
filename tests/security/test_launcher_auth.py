"""`make run` turns permissions on: a private config, one login per child."""

import asyncio
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bus.connection import LoginRefused, close, connect
from bus.nats_auth import SERVER_CONFIG_NAME, credentials_env
from bus.nats_server import free_port
from bus.settings import BusSettings
from tests.e2e.system import PROJECT_ROOT
from tests.e2e.test_launcher import descendants, launch, wait_for_whole_system


def child_environment(pid: int) -> dict[str, str]:
    """The environment a process was started with, read from /proc."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (entry.split(b"=", 1) for entry in raw.split(b"\0") if b"=" in entry)
    return {key.decode(): value.decode(errors="replace") for key, value in pairs}


def nats_url_of(pids: set[int]) -> str:
    """The NATS_URL the launcher gave its services."""
    for pid in pids:
        url = child_environment(pid).get("NATS_URL")
        if url:
            return url
    raise AssertionError("no child was given NATS_URL")


async def test_make_run_gives_each_service_its_own_login(tmp_path):
    web_port = free_port()
    launcher = launch(tmp_path, web_port)
    try:
        await wait_for_whole_system(web_port)
        config_file = tmp_path / "data" / SERVER_CONFIG_NAME
        assert stat.S_IMODE(config_file.stat().st_mode) == 0o600

        logins = {}
        for pid in descendants(launcher.pid):
            env = child_environment(pid)
            if "NATS_USER" in env:
                logins[env["NATS_USER"]] = env
        assert set(logins) == {"coordinator", "web", "node-edge-1", "node-cloud-1"}
        for user, env in logins.items():
            assert (
                env["NATS_PASSWORD"]
                == credentials_env(config_file, user)["NATS_PASSWORD"]
            )
        passwords = {env["NATS_PASSWORD"] for env in logins.values()}
        assert len(passwords) == len(logins)

        url = nats_url_of(descendants(launcher.pid))
        with pytest.raises(LoginRefused):
            await connect(BusSettings(nats_url=url), "anonymous")
        edge = credentials_env(config_file, "edge-1")
        nc = await connect(
            BusSettings(
                nats_url=url, user=edge["NATS_USER"], password=edge["NATS_PASSWORD"]
            ),
            "edge-1 by hand",
        )
        await close(nc)

        command = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bus.nats_auth", "env", "cloud-1"],
            cwd=PROJECT_ROOT,
            env={"DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        )
        printed = command.stdout
        assert "export NATS_USER=node-cloud-1" in printed
        assert logins["node-cloud-1"]["NATS_PASSWORD"] in printed

        launcher.send_signal(signal.SIGINT)
        output, _ = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
    assert launcher.returncode == 0, output.decode(errors="replace")[-3000:]
