# sigstore-java (Maven Central), pinned in tests/clients/java/pom.xml: builds
# the small test client there into target/clients/java (classes/ + lib/*.jar,
# run with `java -cp`). Maven's downloads stay in its local repository
# (~/.m2); once they are there the build runs offline.
JAVA_CLIENT_OUT="$PWD/$DEST/java"
JAVA_CLIENT_SRC=tests/clients/java
JAVA_CLIENT_STAMP="$JAVA_CLIENT_OUT/.built-from"
# The build is redone only when the pom or the source changed.
java_client_hash="$(cat "$JAVA_CLIENT_SRC/pom.xml" "$JAVA_CLIENT_SRC"/src/main/java/atesto/*.java | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$JAVA_CLIENT_STAMP" 2>/dev/null)" != "$java_client_hash" ]; then
  echo "install-clients: sigstore-java client -> $JAVA_CLIENT_OUT" >&2
  rm -rf "$JAVA_CLIENT_OUT"
  java_build=(mvn -q -B -Dstyle.color=never -f "$JAVA_CLIENT_SRC/pom.xml" "-Datesto.out=$JAVA_CLIENT_OUT" compile)
  # Offline first (everything cached), online when something is missing.
  "${java_build[@]}" -o >/dev/null 2>&1 || "${java_build[@]}" >&2
  echo "$java_client_hash" > "$JAVA_CLIENT_STAMP"
fi
echo "install-clients: sigstore-java $(ls "$JAVA_CLIENT_OUT/lib" | sed -n 's/^sigstore-java-\(.*\)\.jar$/\1/p')" >&2
