# Shared by the scripts in scripts/install/: where clients go and how a pinned
# Go tool is built once. Sourced, not run.
DEST=target/clients
mkdir -p "$DEST"

# go_tool NAME MODULE/PATH VERSION: builds `go install MODULE/PATH@VERSION`
# into $DEST/go/VERSION-NAME/ (a cache folder under target/) unless that
# build is already there; prints the binary's path. Go's module and build
# caches (GOMODCACHE, GOCACHE) stay where the machine keeps them.
go_tool() {
  local name="$1" pkg="$2" version="$3"
  local dir="$DEST/go/$name-$version"
  if [ ! -x "$dir/$name" ]; then
    echo "install-clients: go install $pkg@$version -> $dir" >&2
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    GOBIN="$PWD/$dir.tmp" GOFLAGS="-trimpath" go install "$pkg@$version" >&2 || return 1
    # The built binary keeps the last element of the package path as its name.
    mv "$dir.tmp/$(basename "$pkg")" "$dir.tmp/$name" 2>/dev/null || true
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir/$name"
}

# npm_pinned SRC DEST_NAME: `npm ci` of SRC/package-lock.json (with
# SRC/package.json) under $DEST/DEST_NAME, keeping node_modules out of the
# source tree. The lock file's hash marks a finished install, so a changed
# lock (or an interrupted install) reinstalls. No package here downloads a
# browser or other binary at install time.
npm_pinned() {
  local src="$1" dir="$DEST/$2"
  local stamp="$dir/.installed-lock.sha256" want
  want="$(sha256sum "$src/package-lock.json" "$src/package.json" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -d "$dir/node_modules" ]; then
    echo "install-clients: npm ci ($src) -> $dir" >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$src/package.json" "$src/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
}
