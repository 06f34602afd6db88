#!/usr/bin/env bash
# What the Mica bridge's tests (integrations/mica) need: PostgreSQL's server binaries from
# Debian's `postgresql` package (the tests start their own cluster in a temporary folder on a
# loopback port; no system-wide server is started) and a virtual environment in
# target/bridge-venv with the bridge and its test dependencies from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "installing postgresql"
    sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql
    # The package starts a system cluster; the tests never use it.
    $sudo systemctl stop postgresql >/dev/null 2>&1 || $sudo service postgresql stop >/dev/null 2>&1 || true
fi
venv=target/bridge-venv
./scripts/python-venv.sh "$venv"
"$venv/bin/pip" install -q -e "integrations/mica[test]"
