# playwright-core for the explorer's browser test (tests/explorer.rs): npm ci
# of tests/clients/browser/package-lock.json under target/clients/browser. It
# drives Debian's chromium (.ci/run installs it); playwright-core itself never
# downloads a browser.
npm_pinned tests/clients/browser browser
echo "install-clients: playwright-core $(node -p "require('./$DEST/browser/node_modules/playwright-core/package.json').version")" >&2
