# helm (Go module proxy), pinned: used by the Helm chart checks and by the
# helm-sigstore plugin tests.
HELM_VERSION=v3.22.0
HELM="$(go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION")"
echo "install-clients: helm $("$HELM" version --short 2>/dev/null)" >&2
