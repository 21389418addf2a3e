# sigstore-js: npm ci of each pinned package dir under target/clients/:
# tests/clients/js (sigstore 4.1) -> js, tests/clients/js5 (sigstore 5.x) -> js5.
# Both are driven by tests/clients/js/client.js (NODE_PATH picks the version).
npm_pinned tests/clients/js js
npm_pinned tests/clients/js5 js5
echo "install-clients: sigstore-js $(node -p "require('./$DEST/js/node_modules/sigstore/package.json').version")" \
  "and $(node -p "require('./$DEST/js5/node_modules/sigstore/package.json').version")," \
  "@sigstore/cli $(node -p "require('./$DEST/js/node_modules/@sigstore/cli/package.json').version")" >&2
