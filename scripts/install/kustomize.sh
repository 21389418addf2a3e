# kustomize, to build the kustomize base and overlays of deploy/kubernetes in
# tests/deploy_kustomize.rs (the same version kubectl 1.32 embeds).
KUSTOMIZE_VERSION=v5.5.0
KUSTOMIZE="$(go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION")"
echo "install-clients: kustomize $KUSTOMIZE_VERSION ($KUSTOMIZE)" >&2
