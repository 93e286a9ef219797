"""A real browser in the Teams App Test Tool's web page: headless Chromium (Debian's `chromium`,
driven by Playwright, never a downloaded browser) opens the page the tool serves, types `sync
status` in its message box, waits for the bot's card, clicks the card's **Pause** button in the
page, and the test sees the group paused in the store and the updated card in the page: the
whole path an admin's click takes, the tool's own card renderer and its `adaptiveCard/action`
invoke included (tests/bots/teams/test_playground.py runs the tool and the bot, auth off).

On failure a screenshot of the card (of the page when no card is shown) is kept under the
test's tmp path; the failure message says where.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, async_playwright, expect

from core.model import Role
from demo.sample_org import ADMIN
from tests.bots.teams.test_playground import PLAYGROUND, WAIT, playground
from tests.conftest import npm_package, require_chromium

MESSAGE_BOX = "[role=textbox][contenteditable=true]"  # the page's message box (a rich editor)
CARD = ".ac-adaptiveCard"  # the root element of each card the Adaptive Cards renderer draws


@pytest.fixture
def folder() -> str:
    """The Teams App Test Tool's npm package (pinned in test_playground)."""
    return npm_package(PLAYGROUND)


@pytest.fixture
def chromium() -> str:
    return require_chromium()


@asynccontextmanager
async def browser_page(executable: str, url: str, artifacts: Path) -> AsyncIterator[Page]:
    """A headless Chromium page on `url`. When the test fails in it, a screenshot of the last
    card shown (else of the page) is kept in `artifacts`, and the failure says where."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox"], headless=True
        )
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(WAIT * 1000)
            await page.goto(url)
            try:
                yield page
            except (AssertionError, PlaywrightError) as failure:
                where = await screenshot(page, artifacts / "card.png")
                pytest.fail(f"{failure}\nScreenshot of the card: {where}")
        finally:
            await browser.close()


async def screenshot(page: Page, path: Path) -> str:
    cards = page.locator(CARD)
    try:
        if await cards.count():
            await cards.last.screenshot(path=str(path), timeout=10_000)
        else:
            await page.screenshot(path=str(path), timeout=10_000)
    except PlaywrightError as error:
        return f"none taken ({error})"
    return str(path)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Waits, at most WAIT seconds, for `condition()` to hold."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT:.0f} s: {what}")
        await asyncio.sleep(0.1)


async def test_an_admin_clicks_pause_on_the_status_card_in_a_real_browser(
    folder: str, chromium: str, tmp_path: Path
) -> None:
    async with (
        playground(folder, tmp_path, current=ADMIN) as tool,
        browser_page(chromium, tool.base_url + "/", tmp_path) as page,
    ):
        await page.locator(MESSAGE_BOX).click()
        await page.keyboard.type("sync status")
        await page.keyboard.press("Enter")

        status = page.locator(CARD).filter(has_text="Primary groups").last
        pause = status.get_by_role("button", name="Pause microsoft")
        await expect(pause).to_be_visible()
        await pause.click()

        groups = tool.store.get_assignments
        await until(lambda: groups()[Role.MICROSOFT_PRIMARIES].paused, "Microsoft group paused")
        updated = page.locator(CARD).filter(has_text="Microsoft primaries paused")
        await expect(updated).to_be_visible()
        await expect(updated.get_by_role("button", name="Resume")).to_be_visible()
        assert groups()[Role.MICROSOFT_PRIMARIES].paused_by == ADMIN
        assert not groups()[Role.GOOGLE_PRIMARIES].paused
        [*_, click] = tool.store.list_audit(100)
        assert (click.action, click.actor, click.detail) == (
            "pause",
            ADMIN,
            "button: pause microsoft primaries",
        )
