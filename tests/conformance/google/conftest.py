"""One emulator (--no-auth, Google's default quota) per test module, served from a thread; each
test starts from an empty customer (C03az79cb, example.com) with counts, faults and quota reset."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulators.google import create_app
from emulators.runner import EmulatorThread

from .harness import Google, new_workspace


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorThread]:
    with EmulatorThread(create_app(new_workspace(), auth=False)) as running:
        yield running


@pytest.fixture
def google(server: EmulatorThread) -> Google:
    client = Google(server)
    client.fresh()
    return client
