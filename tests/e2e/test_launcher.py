"""`make run`'s launcher: starts everything, and Ctrl-C leaves nothing behind."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from bus.nats_server import free_port
from tests.e2e.system import PROJECT_ROOT, wait_until, web_ready


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def launch(tmp_path: Path, web_port: int) -> subprocess.Popen:
    """Start the launcher the way `make run` does, with its own ports and data."""
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "NATS_PORT": str(free_port()),
        "WEB_PORT": str(web_port),
        "WORK_DIR": str(tmp_path / "scratch"),
    }
    env.pop("NATS_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bus.launcher"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def wait_for_whole_system(web_port: int) -> None:
    """Until the web service is ready and both nodes heartbeat."""
    base_url = f"http://127.0.0.1:{web_port}"
    async with aiohttp.ClientSession() as session:
        await wait_until(lambda: web_ready(session, base_url), 60, "web")

        async def both_nodes() -> bool:
            async with session.get(f"{base_url}/api/v1/nodes") as reply:
                nodes = (await reply.json())["nodes"]
                return {n["node_id"] for n in nodes} == {"edge-1", "cloud-1"}

        await wait_until(both_nodes, 60, "edge-1 and cloud-1")


async def test_launcher_starts_everything_and_ctrl_c_stops_it_all(tmp_path):
    web_port = free_port()
    launcher = launch(tmp_path, web_port)
    try:
        await wait_for_whole_system(web_port)
        started = descendants(launcher.pid)
        # nats-server, coordinator, web, edge, cloud.
        assert len(started) >= 5

        launcher.send_signal(signal.SIGINT)
        output, _ = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()

    text = output.decode(errors="replace")
    assert launcher.returncode == 0, text[-3000:]
    assert f"http://127.0.0.1:{web_port}/" in text
    assert not [pid for pid in started if alive(pid)], text[-3000:]
    assert (tmp_path / "data" / "jetstream").is_dir()


async def test_killing_the_launcher_outright_leaves_no_orphans(tmp_path):
    web_port = free_port()
    launcher = launch(tmp_path, web_port)
    try:
        await wait_for_whole_system(web_port)
        started = descendants(launcher.pid)
        launcher.kill()
        launcher.wait(timeout=10)

        async def all_gone() -> bool:
            return not [pid for pid in started if alive(pid)]

        await wait_until(all_gone, 30, "the launcher's children to exit")
    finally:
        if launcher.poll() is None:
            launcher.kill()
