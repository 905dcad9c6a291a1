#!/usr/bin/env bash
# Installs the reference proxies and load tools ../shared/bench needs
# (Debian packages), only when missing.
set -euo pipefail
missing=()
for p in nginx-light haproxy caddy wrk nghttp2-client curl openssl util-linux; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
# The packaged services must not hold the benchmark's ports.
for s in nginx haproxy caddy; do
  systemctl stop "$s" >/dev/null 2>&1 || true
done
echo "bench-deps: ok"
