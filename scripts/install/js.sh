# sigstore-js: npm ci of tests/clients/js/package-lock.json under target/clients/js.
# npm ci needs package.json next to the lock file; the copy under target/
# keeps node_modules out of the source tree. The lock file's hash marks a
# finished install, so a changed lock (or an interrupted install) reinstalls.
JS="$DEST/js"
LOCK=tests/clients/js/package-lock.json
STAMP="$JS/.installed-lock.sha256"
want="$(sha256sum "$LOCK" tests/clients/js/package.json | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ] || [ ! -d "$JS/node_modules" ]; then
  echo "install-clients: npm ci (sigstore-js) -> $JS" >&2
  rm -rf "$JS"
  mkdir -p "$JS"
  cp tests/clients/js/package.json "$LOCK" "$JS/"
  (cd "$JS" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$STAMP"
fi
echo "install-clients: sigstore-js $(node -p "require('./$JS/node_modules/sigstore/package.json').version")," \
  "@sigstore/cli $(node -p "require('./$JS/node_modules/@sigstore/cli/package.json').version")" >&2
