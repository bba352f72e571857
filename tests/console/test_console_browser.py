"""The web console in a real headless Chromium (Playwright) against a real `sparsecoding serve`:
sign in (a wrong key refused), upload a `.npy`, submit a fit and watch its convergence plot grow,
see the atoms, cancel another job, look at the model (download its dictionary, encode rows).
A screenshot of every page goes to SPARSECODING_SCREENSHOTS (default: the test's tmp dir)."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from server_process import Server
from service_testing import ALICE_KEY, BOB_KEY

pytestmark = pytest.mark.slow

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser")


def _chromium() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "no Chromium to drive: install Debian's chromium-headless-shell (the README's test "
        "command does: apt-get install chromium-headless-shell)"
    )


@pytest.fixture
def page(server: Server, tmp_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium())
        # bypass_csp: Playwright's own waits evaluate strings, which the page's policy forbids
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True, bypass_csp=True
        )
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        yield page
        browser.close()
        assert not problems, f"the page raised: {problems}"


def _shot(page: Any, name: str, tmp_path: Path) -> None:
    where = Path(os.environ.get("SPARSECODING_SCREENSHOTS", tmp_path))
    where.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(where / f"{name}.png"), full_page=True)


def _points(page: Any) -> int:
    return int(page.get_attribute("#objective-chart", "data-points") or 0)


def _submit(page: Any, k: int, mode: str, max_iter: int, time_limit: float) -> str:
    page.goto(page.url.split("#")[0] + "#/jobs")
    page.fill("#job-k", str(k))
    page.fill("#job-alpha", "0.5")
    page.select_option("#job-mode", mode)
    page.fill("#job-max-iter", str(max_iter))
    page.fill("#job-time-limit", str(time_limit))
    page.click("form.grid button[type=submit]")
    page.wait_for_url("**#/jobs/job_*")
    return page.url.rsplit("/", 1)[1]


def test_a_new_user_signs_in_uploads_fits_watches_and_cancels(
    server: Server, page: Any, tmp_path: Path
) -> None:
    page.goto(server.url + "/")  # the root leads to the console
    page.wait_for_selector("#api-key")
    assert not page.is_visible("nav")  # nothing to navigate to before signing in
    _shot(page, "1-sign-in", tmp_path)
    page.fill("#api-key", "not-a-key")
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("#signin-error:has-text('refused')")
    page.fill("#api-key", ALICE_KEY)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("h1:has-text('Datasets')")

    rng = np.random.default_rng(0)
    atoms = rng.standard_normal((48, 64))
    X = (rng.standard_normal((20000, 48)) * (rng.random((20000, 48)) < 0.1)) @ atoms
    data = tmp_path / "patches.npy"
    np.save(data, X + 0.05 * rng.standard_normal(X.shape))
    page.set_input_files("#dataset-file", str(data))
    page.fill("#dataset-name", "patches")
    page.click("button:has-text('Upload')")
    page.wait_for_selector("#datasets td:has-text('20000 × 64')")
    _shot(page, "2-datasets", tmp_path)

    job_id = _submit(page, 32, "batch", 100000, 10)
    page.wait_for_selector("#objective-chart[data-points]")
    page.wait_for_function("Number(document.querySelector('#objective-chart').dataset.points) >= 2")
    first = _points(page)
    page.wait_for_function(
        f"Number(document.querySelector('#objective-chart').dataset.points) > {first}"
    )
    assert _points(page) > first  # the plot grows while the job runs
    page.wait_for_selector("#job-facts .state-running")
    _shot(page, "3-job-running", tmp_path)
    page.click("#axis-toggle")  # against time
    page.wait_for_selector("#job-facts .state-succeeded", timeout=60_000)
    page.wait_for_selector("#atoms img.atoms")
    loaded = page.eval_on_selector("#atoms img.atoms", "img => img.complete && img.naturalWidth")
    assert loaded and loaded > 0
    assert int(page.get_attribute("#gap-chart", "data-points") or 0) > 0
    _shot(page, "4-job-done", tmp_path)

    other = _submit(page, 32, "batch", 100000, 120)
    page.goto(server.url + "/console#/jobs")
    row = f"#jobs tr[data-job='{other}']"
    page.wait_for_selector(f"{row} button:has-text('Cancel')")
    _shot(page, "5-jobs", tmp_path)
    page.click(f"{row} button:has-text('Cancel')")
    for _ in range(60):
        page.wait_for_timeout(500)
        page.reload()
        page.wait_for_selector(row)
        if page.query_selector(f"{row} .state-cancelled"):
            break
    assert page.query_selector(f"{row} .state-cancelled"), "the cancelled job shows as such"

    page.click("nav a:has-text('Models')")
    page.wait_for_selector("#models tbody tr")
    _shot(page, "6-models", tmp_path)
    page.click("#models tbody tr a >> nth=0")
    page.wait_for_selector("img.atoms")
    with page.expect_download() as caught:
        page.click("#download-dictionary")
    W = np.load(io.BytesIO(Path(caught.value.path()).read_bytes()))
    assert W.shape == (32, 64)
    page.fill("#encode-rows", "\n".join(" ".join(f"{v:.4f}" for v in x) for x in X[:2]))
    page.click("button:has-text('Encode')")
    page.wait_for_selector("#codes tbody tr >> nth=1")
    assert len(page.query_selector_all("#codes tbody tr")) == 2
    assert len(page.query_selector_all("#codes thead th")) == 1 + 32
    _shot(page, "7-model", tmp_path)
    assert job_id.startswith("job_")


def test_lists_come_in_pages_and_a_dataset_can_be_deleted(
    server: Server, page: Any, tmp_path: Path
) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {BOB_KEY}"}) as api:
        for i in range(27):  # more than a page (25)
            body = io.BytesIO()
            np.save(body, np.full((3, 2), float(i)))
            r = api.post(f"/v1/datasets?name=d{i:02d}", content=body.getvalue(),
                         headers={"Content-Type": "application/x-npy"})  # fmt: skip
            assert r.status_code == 201, r.text
    page.goto(server.url + "/console")
    page.fill("#api-key", BOB_KEY)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("nav.pager:has-text('1–25 of 27')")
    assert len(page.query_selector_all("#datasets tbody tr")) == 25
    page.click("nav.pager a:has-text('Older')")
    page.wait_for_selector("nav.pager:has-text('26–27 of 27')")
    names = page.eval_on_selector_all(
        "#datasets tbody td:nth-child(2)", "cells => cells.map(c => c.textContent)"
    )
    assert names == ["d01", "d00"]  # newest first: the two oldest on the last page
    _shot(page, "8-datasets-page-2", tmp_path)

    page.once("dialog", lambda dialog: dialog.accept())  # "Delete dataset …?"
    page.click("#datasets tbody tr:has-text('d00') button:has-text('Delete')")
    page.wait_for_selector("nav.pager:has-text('26–26 of 26')")
    names = page.eval_on_selector_all(
        "#datasets tbody td:nth-child(2)", "cells => cells.map(c => c.textContent)"
    )
    assert names == ["d01"]
    page.once("dialog", lambda dialog: dialog.dismiss())  # changing one's mind keeps it
    page.click("#datasets tbody tr:has-text('d01') button:has-text('Delete')")
    page.wait_for_timeout(300)
    assert page.query_selector("#datasets tbody tr:has-text('d01')")
