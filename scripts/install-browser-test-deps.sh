#!/usr/bin/env bash
# Installs the browser that the browser tests drive (tests/browser.py: the study app's
# tests/study/test_study_browser.py and the documentation site's tests/package/test_docs_site.py):
# Debian's chromium and chromium-driver (no browser download from anywhere else). Selenium itself
# comes from PyPI with the dev extra. Without these the tests are skipped with the reason, so this
# step is optional.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser-test-deps: need root and apt-get to install chromium chromium-driver; the browser test will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q chromium chromium-driver
