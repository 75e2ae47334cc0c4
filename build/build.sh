#!/usr/bin/env bash
# Build dist/sf1630: one executable for Linux x86_64 that needs no Python (issue #4).
# Needs the build extra: pip install -e '.[build]'
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -m PyInstaller --version >/dev/null 2>&1; then
  echo "build.sh: PyInstaller is missing; run: $PYTHON -m pip install -e '.[build]'" >&2
  exit 1
fi
case "$(uname -sm)" in
  "Linux x86_64") ;;
  *) echo "build.sh: warning: building on $(uname -sm); the release target is Linux x86_64" >&2 ;;
esac

"$PYTHON" -m PyInstaller --noconfirm --clean --log-level "${PYINSTALLER_LOG_LEVEL:-WARN}" \
  --distpath dist --workpath build/work build/sf1630.spec
dist/sf1630 --version
sha256sum dist/sf1630 | tee dist/sf1630.sha256
