# sigstore-js: npm ci of tests/clients/js/package-lock.json under target/clients/js.
npm_pinned tests/clients/js js
JS="$DEST/js"
echo "install-clients: sigstore-js $(node -p "require('./$JS/node_modules/sigstore/package.json').version")," \
  "@sigstore/cli $(node -p "require('./$JS/node_modules/@sigstore/cli/package.json').version")" >&2
