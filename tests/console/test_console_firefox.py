"""The web console in Debian's Firefox ESR, headless, against a real `sparsecoding serve`:
`firefox/console_e2e.mjs` drives it over WebDriver BiDi (puppeteer-core, which downloads no
browser): a wrong key refused, sign in, upload a `.npy`, submit a fit and watch its plot grow,
the atoms when it ends, encode two rows on the model. Screenshots go to SPARSECODING_SCREENSHOTS
(default: the test's tmp dir), named firefox-*.png."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from server_process import Server
from service_testing import ALICE_KEY

pytestmark = pytest.mark.slow

DRIVER = Path(__file__).resolve().parent / "firefox"
INSTALL = (
    "the README's test command installs them: apt-get install firefox-esr and "
    "npm ci --prefix tests/console/firefox"
)


def test_a_new_user_signs_in_uploads_fits_and_encodes_in_firefox(
    server: Server, tmp_path: Path
) -> None:
    firefox, node = shutil.which("firefox-esr") or shutil.which("firefox"), shutil.which("node")
    if firefox is None or node is None or not (DRIVER / "node_modules").is_dir():
        pytest.fail(f"Firefox, node and puppeteer-core are needed: {INSTALL}")
    # about 10 s of fitting (as the Chromium test's data), so that the plot is seen growing
    rng = np.random.default_rng(0)
    atoms = rng.standard_normal((24, 32))
    X = (rng.standard_normal((20000, 24)) * (rng.random((20000, 24)) < 0.15)) @ atoms
    data = tmp_path / "patches.npy"
    np.save(data, X + 0.05 * rng.standard_normal(X.shape))
    shots = Path(os.environ.get("SPARSECODING_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CONSOLE_URL": server.url,
        "CONSOLE_KEY": ALICE_KEY,
        "CONSOLE_DATA": str(data),
        "FIREFOX": firefox,
        "SHOTS": str(shots),
    }
    done = subprocess.run(
        [node, "console_e2e.mjs"], cwd=DRIVER, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
