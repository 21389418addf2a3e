# sigstore-python, pinned, in a venv under target/clients/python.
SIGSTORE_PYTHON_VERSION=4.5.1
PY="${PYTHON:-python3}"
VENV="$DEST/python"
installed_py() {
  "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("sigstore"))' 2>/dev/null || true
}
if [ "$(installed_py)" != "$SIGSTORE_PYTHON_VERSION" ]; then
  echo "install-clients: sigstore-python $SIGSTORE_PYTHON_VERSION -> $VENV" >&2
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "sigstore==$SIGSTORE_PYTHON_VERSION"
  [ "$(installed_py)" = "$SIGSTORE_PYTHON_VERSION" ] || {
    echo "install-clients: sigstore-python install did not give $SIGSTORE_PYTHON_VERSION" >&2
    exit 1
  }
fi
echo "install-clients: sigstore-python $(installed_py)" >&2
