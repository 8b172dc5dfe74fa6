#!/usr/bin/env bash
# Installs what a bare Debian 12 machine lacks to build, run and test Courier.
# Idempotent: installs only missing packages.
set -euo pipefail
packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev ccache
  libboost1.81-dev libssl-dev openssl picojson-dev libcrypt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libnats-dev nats-server
  golang-go golang-github-nats-io-go-nats-dev golang-github-nats-io-nats-server-dev
  python3 python3-aiosmtpd
  chromium
  prometheus
)
# Node.js and npm run the browser tests (tests/browser). A machine may have
# them from another source than Debian (whose nodejs and npm packages then
# conflict with it), so they are installed only when the commands are missing.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi
