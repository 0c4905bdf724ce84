#!/usr/bin/env bash
# Makes sure the system programs the test suite drives are on the machine:
#   - a headless Chromium and Debian's chromium-driver (browser tests: reports, Data Docs, the
#     department service through selenium) with a Chinese font so screenshots are legible;
#   - PostgreSQL's server binaries (initdb, pg_ctl, postgres): the tests that claim production
#     behaviour start a throw-away server of their own (tests/postgres.py).
# Installs Debian's packages when we are root with apt-get; otherwise says what to do and exits
# non-zero. Test tools' own browser or driver downloads are never used: build machines reach no
# such host.
set -euo pipefail

find_chromium() {
  for name in chromium chromium-browser google-chrome chrome; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}

# Debian puts the server binaries under /usr/lib/postgresql/<major>/bin, not on PATH.
find_postgres_bin() {
  for dir in /usr/lib/postgresql/*/bin; do
    if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then
      echo "$dir"
      return 0
    fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  return 1
}

has_cjk_font() {
  command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null)" ]
}

missing=()
find_chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
find_postgres_bin >/dev/null || missing+=(postgresql)
has_cjk_font || missing+=(fonts-wqy-zenhei)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure_test_packages: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
  elif [[ " ${missing[*]} " != " fonts-wqy-zenhei " ]]; then
    cat >&2 <<MSG
ensure_test_packages: missing ${missing[*]}; this script installs them only as root with apt-get.
Install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}) and run the tests again.
MSG
    exit 1
  else
    echo "ensure_test_packages: no Chinese font (fonts-wqy-zenhei); screenshots will show boxes" >&2
  fi
fi

browser="$(find_chromium)" || {
  echo "ensure_test_packages: apt-get finished but no chromium command is on PATH" >&2
  exit 1
}
driver="$(command -v chromedriver)" || {
  echo "ensure_test_packages: apt-get finished but no chromedriver command is on PATH" >&2
  exit 1
}
pg_bin="$(find_postgres_bin)" || {
  echo "ensure_test_packages: apt-get finished but no PostgreSQL initdb/pg_ctl was found" >&2
  exit 1
}
echo "chromium: $browser ($("$browser" --version 2>/dev/null || echo 'version unknown'))"
echo "chromedriver: $driver"
echo "postgresql: $pg_bin ($("$pg_bin/pg_ctl" --version 2>/dev/null || echo 'version unknown'))"
