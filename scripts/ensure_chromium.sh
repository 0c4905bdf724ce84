#!/usr/bin/env bash
# Makes sure a headless Chromium is on the machine for the browser tests (reports, Data Docs),
# with a Chinese font so screenshots of the bilingual reports are legible.
# Installs Debian's packages (chromium, fonts-wqy-zenhei) when we are root with apt-get;
# otherwise says what to do and exits non-zero. Test tools' own browser downloads are not used:
# build machines reach no such host.
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

has_cjk_font() {
  command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null)" ]
}

missing=()
find_chromium >/dev/null || missing+=(chromium)
has_cjk_font || missing+=(fonts-wqy-zenhei)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y "${missing[@]}"
  elif [[ " ${missing[*]} " == *" chromium "* ]]; then
    cat >&2 <<'MSG'
ensure_chromium: no Chromium found, and this script installs it only as root with apt-get.
Install one (Debian/Ubuntu: sudo apt-get install chromium fonts-wqy-zenhei) and run the tests
again; without it the browser tests skip with a message.
MSG
    exit 1
  else
    echo "ensure_chromium: no Chinese font (fonts-wqy-zenhei); screenshots will show boxes" >&2
  fi
fi

browser="$(find_chromium)" || {
  echo "ensure_chromium: apt-get finished but no chromium command is on PATH" >&2
  exit 1
}
echo "chromium: $browser ($("$browser" --version 2>/dev/null || echo 'version unknown'))"
