#!/usr/bin/env bash
# TLS configuration scan (make tls-scan; docs/tls.md, "TLS scan"): starts
# the real gatehouse binary with one TLS listener on a throw-away
# certificate, runs Debian's testssl.sh against it and fails on
#   - any protocol below TLS 1.2 offered,
#   - any weak cipher category offered (NULL, aNULL, EXPORT, LOW, 3DES/IDEA,
#     obsolete CBC) or any offered cipher that is not an AEAD (GCM, CCM,
#     ChaCha20-Poly1305),
#   - any offered cipher without forward secrecy (key exchange not ECDHE/DHE),
#   - any finding testssl rates HIGH or CRITICAL.
# Too slow for every CI run, hence not part of `make test`.
#
# Usage: scripts/tls-scan.sh [path/to/gatehouse]   (default bin/gatehouse)
set -euo pipefail

BIN=${1:-bin/gatehouse}
[ -x "$BIN" ] || { echo "tls-scan: $BIN not found; run make build" >&2; exit 1; }

# apt_install PKG... installs the Debian packages that are not installed yet.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "tls-scan: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}
apt_install testssl.sh openssl jq
# Debian installs the script as /usr/bin/testssl; upstream calls it testssl.sh.
TESTSSL=$(command -v testssl || command -v testssl.sh || true)
[ -n "$TESTSSL" ] || { echo "tls-scan: testssl not found after installing testssl.sh" >&2; exit 1; }

work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# RSA, so that the ECDHE_RSA suites (the common deployment) are scanned.
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 \
  -keyout "$work/key.pem" -out "$work/cert.pem" \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
cat >"$work/gatehouse.yaml" <<EOF
listeners:
  - address: "127.0.0.1:0"
    tls: { cert: "$work/cert.pem", key: "$work/key.pem" }
routes:
  - respond: { body: "tls scan" }
EOF

"$BIN" run -c "$work/gatehouse.yaml" >"$work/access.log" 2>"$work/gatehouse.log" &
pid=$!
addr=""
for _ in $(seq 100); do
  addr=$(jq -r 'select(.msg=="listening") | .address' "$work/gatehouse.log" 2>/dev/null | head -n1)
  [ -n "$addr" ] && grep -q '"msg":"ready"' "$work/gatehouse.log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/gatehouse.log" >&2; echo "tls-scan: gatehouse exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "tls-scan: gatehouse did not get ready" >&2; exit 1; }
echo "tls-scan: gatehouse (pid $pid) listening on $addr; running testssl.sh"

# -p protocols, -s cipher categories, -f forward secrecy, -E every cipher
# per protocol. The exit code of testssl.sh counts findings; we judge the
# JSON ourselves.
json="$work/testssl.json"
"$TESTSSL" --quiet --warnings batch --color 0 --connect-timeout 10 --openssl-timeout 10 \
  -p -s -f -E --jsonfile "$json" "$addr" >"$work/testssl.txt" 2>&1 || true
[ -s "$json" ] || { cat "$work/testssl.txt" >&2; echo "tls-scan: testssl.sh wrote no JSON" >&2; exit 1; }

fail=0
report() { echo "tls-scan: FAIL: $*"; fail=1; }

# Protocols below TLS 1.2 must not be offered.
for p in SSLv2 SSLv3 TLS1 TLS1_1; do
  f=$(jq -r --arg id "$p" '.[] | select(.id==$id) | .finding' "$json")
  case "$f" in
    "not offered"*) ;;
    *) report "$p: ${f:-no result}" ;;
  esac
done
for p in TLS1_2 TLS1_3; do
  echo "tls-scan: $p: $(jq -r --arg id "$p" '.[] | select(.id==$id) | .finding' "$json")"
done

# Weak cipher categories must not be offered.
for c in cipherlist_NULL cipherlist_aNULL cipherlist_EXPORT cipherlist_LOW cipherlist_3DES_IDEA cipherlist_AVERAGE cipherlist_OBSOLETED; do
  f=$(jq -r --arg id "$c" '.[] | select(.id==$id) | .finding' "$json")
  [ -z "$f" ] && continue # not a category in this testssl.sh version
  case "$f" in
    "not offered"*) ;;
    *) report "$c: $f" ;;
  esac
done

# Every offered cipher (-E lists them as id cipher-tlsX_Y_xNNNN or
# cipher-tls1_3_xNNNN): AEAD encryption and (EC)DHE key exchange. TLS 1.3
# suites are all AEAD with (EC)DHE by construction (RFC 8446 §1.2).
ciphers=$(jq -r '.[] | select(.id|test("^cipher-tls")) | .finding' "$json")
[ -n "$ciphers" ] || report "no cipher list in the scan"
while IFS= read -r line; do
  [ -z "$line" ] && continue
  echo "tls-scan: cipher: $line"
  case "$line" in
    "TLS 1.3"*|TLSv1.3*) continue ;;
  esac
  echo "$line" | grep -Eq 'GCM|CHACHA20|POLY1305|CCM' || report "non-AEAD cipher offered: $line"
  echo "$line" | grep -Eq '(^|[ -])(ECDHE|DHE|ECDH|DH) ' || echo "$line" | grep -Eq 'ECDHE-|DHE-' || report "cipher without forward secrecy: $line"
done <<<"$ciphers"

# Forward secrecy as testssl judges it ("FS" in 3.1, "PFS" in 3.0).
fs=$(jq -r '.[] | select(.id=="FS" or .id=="PFS") | .finding' "$json" | head -n1)
echo "tls-scan: forward secrecy: ${fs:-no result}"
case "$fs" in
  offered*) ;;
  *) report "forward secrecy: ${fs:-no result}" ;;
esac

# Anything testssl itself rates HIGH or CRITICAL.
bad=$(jq -r '.[] | select(.severity=="HIGH" or .severity=="CRITICAL") | "\(.id): \(.finding)"' "$json")
[ -z "$bad" ] || report "testssl.sh rates HIGH/CRITICAL: $bad"

if [ "$fail" -ne 0 ]; then
  echo "tls-scan: full testssl.sh output:"
  cat "$work/testssl.txt"
  exit 1
fi
echo "tls-scan: ok (TLS 1.2+ only, AEAD ciphers only, forward secrecy everywhere)"
