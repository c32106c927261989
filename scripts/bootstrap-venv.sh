#!/bin/sh
# Create or update the project virtualenv from pinned requirements, then
# install the offline Ansible collections. Idempotent: make runs it only
# when a requirements file changed (the stamp file records success).
set -eu
VENV=${1:?usage: bootstrap-venv.sh VENV_DIR}
TOPDIR=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
	echo ">> creating virtualenv $VENV"
	"$PYTHON" -m venv "$VENV"
fi
echo ">> installing pinned tools into $VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
	-c "$TOPDIR/requirements.lock" \
	-r "$TOPDIR/requirements.txt" -r "$TOPDIR/requirements-dev.txt"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
	--no-deps --no-build-isolation -e "$TOPDIR"
"$VENV/bin/python" "$TOPDIR/scripts/install-collections.py" \
	--dest "$TOPDIR/.ansible/collections"
touch "$VENV/.installed"
