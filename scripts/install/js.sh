# sigstore-js: npm ci of each pinned package dir under target/clients/:
# tests/clients/js (sigstore 4.1) -> js, tests/clients/js5 (sigstore 5.x) -> js5.
# Both are driven by tests/clients/js/client.js (NODE_PATH picks the version).
# npm ci needs package.json next to the lock file; the copy under target/
# keeps node_modules out of the source tree. The lock file's hash marks a
# finished install, so a changed lock (or an interrupted install) reinstalls.
npm_ci() {
  local source="$1" js="$DEST/$2"
  local lock="$source/package-lock.json" stamp="$js/.installed-lock.sha256"
  local want
  want="$(sha256sum "$lock" "$source/package.json" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -d "$js/node_modules" ]; then
    echo "install-clients: npm ci ($source) -> $js" >&2
    rm -rf "$js"
    mkdir -p "$js"
    cp "$source/package.json" "$lock" "$js/"
    (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
}
npm_ci tests/clients/js js
npm_ci tests/clients/js5 js5
echo "install-clients: sigstore-js $(node -p "require('./$DEST/js/node_modules/sigstore/package.json').version")" \
  "and $(node -p "require('./$DEST/js5/node_modules/sigstore/package.json').version")," \
  "@sigstore/cli $(node -p "require('./$DEST/js/node_modules/@sigstore/cli/package.json').version")" >&2
