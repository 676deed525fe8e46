import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTOR = 2048

# `acquire image` validates at its end (QEMU boots, a mount guest); tests of other things do not need
# it, so every test's acquire runs without it unless the test asks (tests/e2e/test_validate_in_qemu.py does).
os.environ.setdefault("ACQUIRE_NO_VALIDATE", "1")


@pytest.fixture(scope="session")
def fixtures_made():
    subprocess.run([sys.executable, str(ROOT / "fixtures" / "make_fixtures.py")], check=True, capture_output=True)
    return ROOT / "fixtures"


def make_disc(path: Path, sectors: int, seed: int = 7) -> bytes:
    """A disc image of seeded random sectors; every sector is distinct."""
    rng = random.Random(seed)
    data = rng.randbytes(sectors * SECTOR)
    path.write_bytes(data)
    return data


def write_profile(path: Path, image: str | None = None, *, sectors: int | None = None, profile: str = "cd-rom",
                  damage: list[dict] = (), events: list[dict] = (), drive: dict | None = None,
                  timing: dict | None = None) -> Path:
    lines = ["[drive]"]
    for key, value in (drive or {"serial": "SIM-T"}).items():
        lines.append(f"{key} = {_toml(value)}")
    lines += ["", "[disc]", f'profile = "{profile}"']
    lines.append(f'image = "{image}"' if image else f"sectors = {sectors}")
    if timing:
        lines += ["", "[timing]"] + [f"{k} = {_toml(v)}" for k, v in timing.items()]
    for entry in damage:
        lines += ["", "[[damage]]"] + [f"{k} = {_toml(v)}" for k, v in entry.items()]
    for entry in events:
        lines += ["", "[[event]]"] + [f"{k} = {_toml(v)}" for k, v in entry.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def run_acquire(*args, cwd=None, env=None, check_code=None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    done = subprocess.run([sys.executable, "-m", "acquire", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=full_env, timeout=600)
    if check_code is not None:
        assert done.returncode == check_code, (done.returncode, done.stdout, done.stderr)
    return done


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server for the session (tests/pgserver.py), stopped at the end."""
    from pgserver import PgServer
    server = PgServer().start()
    yield server
    server.stop()
