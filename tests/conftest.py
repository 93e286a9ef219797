"""Required services for tests (PostgreSQL), and what happens when one is missing.

Locally a missing service skips its tests with a hint. In CI (`DIRSYNC_TEST_STRICT=1`, set by
.ci/run) a missing service fails them instead: a green CI run must have run every test.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def strict() -> bool:
    return os.environ.get("DIRSYNC_TEST_STRICT") == "1"


def missing_service(message: str) -> NoReturn:
    """Skip, or fail under DIRSYNC_TEST_STRICT=1."""
    if strict():
        pytest.fail(f"{message} (DIRSYNC_TEST_STRICT=1: required services must be up)")
    pytest.skip(message)


@functools.cache
def postgres_error(url: str) -> str | None:
    """Why `url` cannot be reached, or None. Cached: a dead server costs one timeout per run.
    Also the benchmarks' check (tests/bench/bench_user_sync.py)."""
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def require_postgres() -> str:
    """The URL of the test PostgreSQL server; skips (or fails when strict) when it is down."""
    url = os.environ.get("DIRSYNC_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    error = postgres_error(url)
    if error is not None:
        shown = make_url(url).render_as_string(hide_password=True)
        missing_service(
            f"PostgreSQL not reachable at {shown} ({error}); set DIRSYNC_TEST_POSTGRES_URL"
        )
    return url


@contextmanager
def postgres_schema(base: str, prefix: str = "test") -> Iterator[str]:
    """`base` made into a URL whose connections live in a fresh schema of their own, named
    `prefix`_<random>, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections live in a fresh schema of their own, dropped afterwards, so no
    test ever sees another test's (or an earlier run's) tables."""
    with postgres_schema(require_postgres()) as url:
        yield url


# ---- Node packages and Google's Pub/Sub emulator ------------------------------------------------

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NPM_CACHE = os.path.join(REPO, ".cache", "npm")
PUBSUB_EMULATOR = "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"


def npm_package(spec: str) -> str:
    """Install an npm package (e.g. "@microsoft/app-manifest@1.1.2") once, into .cache/npm/
    (never committed: some of these tools are evaluation-only), and return its folder.
    Skips, or fails when strict, where Node or npm is missing."""
    import shutil
    import subprocess

    if shutil.which("node") is None or shutil.which("npm") is None:
        missing_service(f"Node.js and npm are needed for {spec}")
    name = spec.rsplit("@", 1)[0] if spec.count("@") > (1 if spec.startswith("@") else 0) else spec
    prefix = os.path.join(NPM_CACHE, spec.replace("/", "+"))
    folder = os.path.join(prefix, "node_modules", name)
    if not os.path.isdir(folder):
        os.makedirs(prefix, exist_ok=True)
        result = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", prefix, spec],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0 or not os.path.isdir(folder):
            missing_service(f"npm could not install {spec}: {result.stderr.strip()[-500:]}")
    return folder


@pytest.fixture
def pubsub_emulator() -> Iterator[str]:
    """Google's own Pub/Sub emulator on a free port; yields its host:port. Skips (fails when
    strict) where it is not installed. Stopped by its process group: the Java child too."""
    import signal
    import socket
    import subprocess
    import time

    if not os.path.exists(PUBSUB_EMULATOR):
        missing_service(f"Google's Pub/Sub emulator is not installed at {PUBSUB_EMULATOR}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [PUBSUB_EMULATOR, "--host=127.0.0.1", f"--port={port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    missing_service("Google's Pub/Sub emulator did not start within 30 s")
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


# ---- A real browser: Debian's chromium, driven by Playwright -------------------------------------


@functools.cache
def chromium_error() -> str | None:
    """Why Debian's `chromium` cannot be had, or None once it is on PATH. Installs it with
    apt-get when missing and this runs as root with apt-get (as .ci/run does); never downloads
    a browser any other way (no `playwright install`). Cached: one attempt per run."""
    import shutil
    import subprocess

    if shutil.which("chromium") is not None:
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "Debian's chromium is not installed (as root: apt-get install -y chromium)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "chromium"]
    output = ""
    for attempt in ([*install], ["apt-get", "update", "-q"], [*install]):
        try:
            result = subprocess.run(
                attempt, capture_output=True, text=True, timeout=600, env=env, check=False
            )
        except subprocess.TimeoutExpired:
            return f"{' '.join(attempt)} took over 600 s"
        output = result.stderr.strip()[-500:]
        if shutil.which("chromium") is not None:
            return None
    return f"apt-get could not install chromium: {output}"


def require_chromium() -> str:
    """The path of Debian's chromium for Playwright to launch (`executable_path`), installed
    if missing where it can be; skips (fails when strict) where it cannot, or where the
    playwright package is missing."""
    import importlib.util
    import shutil

    if importlib.util.find_spec("playwright") is None:
        missing_service("the playwright package is missing (pip install -e '.[dev]')")
    error = chromium_error()
    if error is not None:
        missing_service(f"a real browser is needed: {error}")
    path = shutil.which("chromium")
    assert path is not None
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`ondemand` tests run only with DIRSYNC_ONDEMAND=1 (`./run reliability`): each says how
    long it takes, and the normal test command stays within CI's time."""
    if os.environ.get("DIRSYNC_ONDEMAND") == "1":
        return
    skip = pytest.mark.skip(reason="on demand: ./run reliability (DIRSYNC_ONDEMAND=1)")
    for item in items:
        if "ondemand" in item.keywords:
            item.add_marker(skip)
