# cosign 2.x and 3.x, rekor-cli, and go-containerregistry's registry and crane
# (Go module proxy), pinned, each built once into target/clients/go/ by go_tool.
# Versions: the newest of each line that builds with the machine's Go.
COSIGN2_VERSION=v2.6.5
COSIGN3_VERSION=v3.1.3
REKOR_CLI_VERSION=v1.5.4
GGCR_VERSION=v0.22.1
COSIGN2="$(go_tool cosign2 github.com/sigstore/cosign/v2/cmd/cosign "$COSIGN2_VERSION")"
COSIGN3="$(go_tool cosign3 github.com/sigstore/cosign/v3/cmd/cosign "$COSIGN3_VERSION")"
REKOR_CLI="$(go_tool rekor-cli github.com/sigstore/rekor/cmd/rekor-cli "$REKOR_CLI_VERSION")"
REGISTRY="$(go_tool registry github.com/google/go-containerregistry/cmd/registry "$GGCR_VERSION")"
CRANE="$(go_tool crane github.com/google/go-containerregistry/cmd/crane "$GGCR_VERSION")"
echo "install-clients: cosign $COSIGN2_VERSION ($COSIGN2), cosign $COSIGN3_VERSION ($COSIGN3)," \
  "rekor-cli $REKOR_CLI_VERSION, registry + crane $GGCR_VERSION" >&2

# tests/clients/go: the sigstore-go verifier program (its own go.mod and
# go.sum pin sigstore-go), built once per version of its sources.
SGV_SOURCES=(tests/clients/go/go.mod tests/clients/go/go.sum tests/clients/go/main.go)
SGV_HASH="$(cat "${SGV_SOURCES[@]}" | sha256sum | cut -c1-16)"
SGV_DIR="$DEST/go/sigstore-go-verify-$SGV_HASH"
if [ ! -x "$SGV_DIR/sigstore-go-verify" ]; then
  echo "install-clients: go build tests/clients/go -> $SGV_DIR" >&2
  rm -rf "$DEST"/go/sigstore-go-verify-*
  mkdir -p "$SGV_DIR.tmp"
  (cd tests/clients/go && GOFLAGS="-trimpath -mod=readonly" go build -o "$OLDPWD/$SGV_DIR.tmp/sigstore-go-verify" .)
  mv "$SGV_DIR.tmp" "$SGV_DIR"
fi
echo "install-clients: sigstore-go $(sed -n 's/^require github.com\/sigstore\/sigstore-go //p' tests/clients/go/go.mod) ($SGV_DIR)" >&2

# Where each tool is, for the tests (tests/support/cosign.rs reads this file),
# so its versions are written in this file only.
cat >"$DEST/go-clients.env" <<PATHS
cosign2=$COSIGN2
cosign3=$COSIGN3
rekor-cli=$REKOR_CLI
registry=$REGISTRY
crane=$CRANE
sigstore-go-verify=$SGV_DIR/sigstore-go-verify
PATHS
