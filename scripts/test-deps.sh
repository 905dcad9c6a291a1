#!/usr/bin/env bash
# Installs what `make test` needs, only when it is missing (idempotent).
# Debian packages with apt-get, Go tools with `go install`. Safe to run
# again and again; prints what it does.
set -euo pipefail

need_go() {
  if ! command -v go >/dev/null 2>&1; then
    if [ -x /usr/local/go/bin/go ]; then
      export PATH="/usr/local/go/bin:$PATH"
    else
      echo "test-deps: Go is required (https://go.dev/dl); not found" >&2
      exit 1
    fi
  fi
}

# apt_install PKG... installs the Debian packages that are not installed yet.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "test-deps: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}

need_go
# The core's end-to-end tests need only Go and the standard tools below.
# Later capabilities add theirs here (pebble, h2spec).
# redis-server: the rate limiter's cluster tests start a real one
# (internal/testutil/redisserver).
# pebble: the ACME tests (internal/acme) run against a real pebble
# (internal/testutil/pebble generates its HTTPS certificate; the Debian
# package ships only /usr/bin/pebble).
# chromium: test/e2e/browser_test.go drives the demo's web pages in headless
# Chromium (/usr/bin/chromium) through chromedp.
apt_install ca-certificates curl redis-server chromium pebble
go mod download
# h2spec: a tool dependency in go.mod, run by test/e2e/h2spec_test.go as
# `go tool h2spec`; building it here keeps the first test from paying for it.
go tool h2spec --version >/dev/null
echo "test-deps: ok"
