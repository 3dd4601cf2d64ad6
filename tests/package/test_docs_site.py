"""The documentation site (mkdocs.yml): it builds with warnings as errors, and in headless Chromium
its home page and the losses' API page show the real content (the ProjectedDistributionLoss
signature generated from the code).

Needs the ``docs`` extra (mkdocs, mkdocs-material, mkdocstrings) and a checkout with mkdocs.yml;
the browser test also needs Debian's chromium and chromium-driver and selenium (tests/browser.py).
Each is skipped with the reason when missing.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import os
import subprocess
import sys
import threading
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from browser import chromium_driver

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "mkdocs.yml"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if not CONFIG.is_file():
        pytest.skip(f"needs the checkout's mkdocs.yml ({CONFIG} not found)")
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        if importlib.util.find_spec(module.split(".")[0]) is None or importlib.util.find_spec(module) is None:
            pytest.skip(f"needs the docs extra ({module} not installed: pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("docs") / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f", str(CONFIG), "-d", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stdout}\n{build.stderr}"
    return out


@pytest.fixture(scope="module")
def served(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode("utf-8")


def test_home_and_losses_api_page_in_chromium(served, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from pdloss.losses import ProjectedDistributionLoss

    driver = chromium_driver(str(tmp_path / "chromium-profile"))
    try:
        driver.get(served + "/")
        assert driver.title.startswith("pdloss")
        assert driver.find_element(By.TAG_NAME, "h1").text == "pdloss"
        example = "\n".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, "article pre"))
        assert 'ProjectedDistributionLoss(weight=0.01, weights="vgg16-hed")' in example

        # The API page through the site's own navigation, as a reader gets there.
        link = driver.find_element(By.CSS_SELECTOR, 'nav a[href$="api/losses/"]')
        driver.execute_script("arguments[0].click();", link)
        WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("/api/losses/"))
        heading = driver.find_element(By.ID, "pdloss.losses.ProjectedDistributionLoss")
        assert "ProjectedDistributionLoss" in heading.text
        signature = driver.find_element(
            By.CSS_SELECTOR, '[id="pdloss.losses.ProjectedDistributionLoss"] + .doc-signature'
        ).text
        # Every parameter of the class's real signature, with its default, is on the page.
        for name, param in inspect.signature(ProjectedDistributionLoss.__init__).parameters.items():
            if name == "self":
                continue
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                assert f"**{name}" in signature
            else:
                assert f"{name}: " in signature and f"= {param.default!r}".replace("'", '"') in signature, name
        body = driver.find_element(By.TAG_NAME, "article").text
        assert "Wasserstein" in body  # the class docstring, rendered
    finally:
        driver.quit()


def test_cli_page_has_every_command_and_no_raw_rest_roles(served):
    from pdloss.cli import build_parser

    cli = _get(served + "/api/cli/")
    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    assert commands  # the parser has sub-commands to document
    for name in commands:
        assert f"<code>pdloss {name}</code>" in cli, name
        assert f"usage: pdloss {name}" in cli, name
    # The docstrings' reST roles (:func:`...`) are turned into code spans on every API page.
    for page in ("losses", "functional", "metrics", "features", "degradations", "models"):
        html = _get(f"{served}/api/{page}/")
        assert ":func:" not in html and ":class:" not in html, page
