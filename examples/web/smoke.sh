#!/bin/sh
# Smoke test run by `verify` when test traffic reaches the green task set.
set -eu
url="${2:-${BLUEGREEN_TEST_URL:-}}"
[ -n "$url" ] || { echo "usage: smoke.sh --url URL" >&2; exit 2; }
curl -fsS --max-time 5 "$url/healthz" >/dev/null
echo "smoke ok: $url"
