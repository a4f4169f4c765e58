#!/usr/bin/env bash
# Makes sure headless Chromium and chromedriver are installed for the
# real-browser tests (internal/browser). Installs Debian's chromium and
# chromium-driver packages when they are missing and we are root with
# apt-get (about 20 s, 26 packages on a fresh Debian 12 machine).
# Never fails: without a browser those tests skip with a message saying so.
set -uo pipefail
have() {
  { [ -n "${BROWSER_CHROMIUM:-}" ] || command -v chromium >/dev/null; } &&
    { [ -n "${BROWSER_CHROMEDRIVER:-}" ] || command -v chromedriver >/dev/null; }
}
have && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "ensure-chromium: installing Debian's chromium and chromium-driver packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Recommends (fonts, Mesa, udev, printing) are not needed headless. Wait
  # for the dpkg lock rather than fail when another install is running.
  if apt-get update -q >&2 &&
    apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 \
      chromium chromium-driver >&2 && have; then
    exit 0
  fi
  echo "ensure-chromium: the install failed; the real-browser tests will skip" >&2
  exit 0
fi
cat >&2 <<'MSG'
ensure-chromium: chromium and chromedriver not found; the real-browser tests
will skip. To run them install both (Debian/Ubuntu:
sudo apt-get install -y chromium chromium-driver), or set BROWSER_CHROMIUM
and BROWSER_CHROMEDRIVER to the binaries.
MSG
exit 0
