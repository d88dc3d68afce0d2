#!/usr/bin/env bash
# Prepare this checkout: a virtual environment in .venv with huizong, its test tools and what
# the benchmark's naive peer uses (pandas).
# --for-tests also installs (on Debian/Ubuntu, as root) what the tests run for real:
# LibreOffice Calc, a CJK font and poppler-utils (a spreadsheet client and renderer), and
# Dovecot (an IMAP server the mail tests start on 127.0.0.1 with a throw-away mailbox).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--for-tests" || "${1:-}" == "--with-libreoffice" ]]; then
  need=()
  command -v soffice >/dev/null 2>&1 || need+=(libreoffice-calc-nogui)
  command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
  fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || need+=(fonts-noto-cjk)
  [[ -x /usr/sbin/dovecot ]] || need+=(dovecot-imapd)
  if ((${#need[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
      echo "需要安装：${need[*]}（请用 root 运行，或 sudo apt-get install ${need[*]}）" >&2
      exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,bench]'
