# versitygw, the S3-compatible server the scale-out tests write tiles to
# (scripts/services starts it). Chosen because it builds from the Go module
# proxy with the machine's Go, keeps objects as plain files (posix backend,
# nothing to provision) and implements the S3 calls object_store makes
# (PUT, GET with ranges, HEAD, LIST v2, DELETE, multipart).
VERSITYGW_VERSION=v1.8.0
VERSITYGW="$(go_tool versitygw github.com/versity/versitygw/cmd/versitygw "$VERSITYGW_VERSION")"
echo "install-clients: versitygw $VERSITYGW_VERSION ($VERSITYGW)" >&2
