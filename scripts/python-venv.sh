#!/usr/bin/env bash
# Make a Python virtual environment at $1 if there is none (installing Debian's python3-venv when
# the system Python lacks venv). Used by the benchmarks and by the Mica bridge's tests.
set -euo pipefail
venv=$1
if [ -x "$venv/bin/python" ]; then
    exit 0
fi
if ! python3 -m venv "$venv"; then
    # Debian's own python3 ships venv separately.
    sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv
    rm -rf "$venv"; python3 -m venv "$venv"
fi
