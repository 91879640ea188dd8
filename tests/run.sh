#!/usr/bin/env bash
# Runs every test of smsbridge. Installs what the tests need when it is missing (Debian packages, a Python
# virtualenv, npm packages), so it passes on a fresh machine. Usage: bash tests/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '\n== %s\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=
need_deb() { # need_deb <command> <package>...
  local cmd=$1; shift
  command -v "$cmd" >/dev/null 2>&1 && return 0
  log "installing Debian packages: $*"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}
need_deb_pkg() { # need_deb_pkg <package>: for packages without a command of their own (libraries)
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' && return 0
  log "installing Debian package: $1"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$1" >/dev/null
}

# Interop peers we did not write.
need_deb tshark tshark
need_deb_pkg libnet-smpp-perl
need_deb smsd smstools
if [ ! -d tests/interop/node_modules/smpp ]; then
  log "installing node's smpp package for the interop SMSC"
  (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
fi

# Python packages for the differential and interop tests, in a virtualenv under target/.
venv="$root/target/interop-venv"
py_pkgs=(python-gsmmodem-new gsm0338 smpplib)
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import gsmmodem, gsm0338, smpplib' 2>/dev/null; then
  log "creating the Python virtualenv $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "${py_pkgs[@]}"
fi

export SMSBRIDGE_PYTHON="$venv/bin/python"
# Interop tests fail, instead of skipping, when a peer is missing.
export SMSBRIDGE_REQUIRE_INTEROP=1
export CARGO_TERM_COLOR=never

log "cargo test --workspace"
cargo test --workspace --locked --no-fail-fast
