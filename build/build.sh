#!/usr/bin/env bash
# Build dist/sf1630: one executable for Linux x86_64 that needs no Python (issue #4).
# Needs the build extra at the pinned versions: pip install -c constraints.txt -e '.[build]'
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
INSTALL="$PYTHON -m pip install -c constraints.txt -e '.[build]'"
if ! "$PYTHON" -m PyInstaller --version >/dev/null 2>&1; then
  echo "build.sh: PyInstaller is missing; run: $INSTALL" >&2
  exit 1
fi
# The executable bundles what is installed: it must be what constraints.txt pins (and CI tested).
if ! "$PYTHON" - constraints.txt <<'PY'
import re, sys
from importlib.metadata import PackageNotFoundError, version
wrong = []
for line in open(sys.argv[1], encoding="utf-8"):
    pin = re.match(r"([A-Za-z0-9._-]+)==(\S+)", line.strip())
    if not pin:
        continue
    try:
        found = version(pin[1])
    except PackageNotFoundError:
        continue
    if found != pin[2]:
        wrong.append(f"{pin[1]} {found} (pinned {pin[2]})")
if wrong:
    print("build.sh: installed versions differ from constraints.txt: " + ", ".join(wrong), file=sys.stderr)
    sys.exit(1)
PY
then
  if [ "${SF1630_UNPINNED:-0}" = 1 ]; then
    echo "build.sh: warning: building with unpinned versions (SF1630_UNPINNED=1)" >&2
  else
    echo "build.sh: run: $INSTALL (or SF1630_UNPINNED=1 to build with these versions anyway)" >&2
    exit 1
  fi
fi
case "$(uname -sm)" in
  "Linux x86_64") ;;
  *) echo "build.sh: warning: building on $(uname -sm); the release target is Linux x86_64" >&2 ;;
esac

"$PYTHON" -m PyInstaller --noconfirm --clean --log-level "${PYINSTALLER_LOG_LEVEL:-WARN}" \
  --distpath dist --workpath build/work build/sf1630.spec
dist/sf1630 --version
sha256sum dist/sf1630 | tee dist/sf1630.sha256
