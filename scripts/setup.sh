#!/usr/bin/env bash
# Prepare this checkout: a virtual environment in .venv with huizong and its test tools.
# --with-libreoffice also installs (on Debian/Ubuntu, as root) LibreOffice Calc, a CJK font and
# poppler-utils, which the tests use as a real spreadsheet client and renderer.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--with-libreoffice" ]]; then
  need=()
  command -v soffice >/dev/null 2>&1 || need+=(libreoffice-calc-nogui)
  command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
  fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || need+=(fonts-noto-cjk)
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
.venv/bin/python -m pip install -q -e '.[test]'
