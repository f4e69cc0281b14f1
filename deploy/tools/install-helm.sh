#!/usr/bin/env bash
# Builds the pinned Helm from source with the Go toolchain (the Go module proxy is the only
# place these machines can get it from) into a cache outside the repository, once.
# Prints the path of the helm binary on stdout; everything else goes to stderr.
#
#   deploy/tools/install-helm.sh            # -> ~/.cache/medins-settlement/helm-v3.22.0/helm
#   MEDINS_TOOLS_CACHE=/opt/tools deploy/tools/install-helm.sh
#
# A cold build (empty Go module and build caches) took 1 min 26 s on 2 cores (see
# docs/deploy.md). Later runs return at once.
set -euo pipefail

HELM_VERSION="v3.22.0"
# What Helm's own release build stamps in (its Makefile derives it from the k8s.io/client-go
# version in go.mod, v0.37.0 for v3.22.0): the Kubernetes version `helm template` and
# `helm lint` assume when no --kube-version is given. A plain `go install` would say 1.20.
KUBE_MAJOR=1
KUBE_MINOR=37
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=$KUBE_MAJOR -X $pkg.k8sVersionMinor=$KUBE_MINOR"
done
cache_root="${MEDINS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/medins-settlement}"
bin_dir="$cache_root/helm-$HELM_VERSION"
helm="$bin_dir/helm"

# The recipe file records how the cached binary was built; a changed recipe rebuilds it.
recipe="$bin_dir/recipe"
if [[ -x "$helm" ]] && [[ "$(cat "$recipe" 2>/dev/null)" == "$ldflags" ]]; then
  echo "$helm"
  exit 0
fi

command -v go >/dev/null || { echo "install-helm: Go is needed to build Helm $HELM_VERSION" >&2; exit 1; }
mkdir -p "$bin_dir"
# Several test sessions may start at once: one builds, the others wait for it.
exec 9>"$bin_dir/.lock"
flock 9
if [[ ! -x "$helm" ]] || [[ "$(cat "$recipe" 2>/dev/null)" != "$ldflags" ]]; then
  echo "install-helm: building Helm $HELM_VERSION with $(go version) (cold: about a minute and a half)" >&2
  started=$SECONDS
  # GOTOOLCHAIN=local: build with the Go that is here, never fetch another toolchain.
  GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$bin_dir.tmp" GOFLAGS="${GOFLAGS:-} -trimpath" \
    go install -ldflags "$ldflags" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
  mv "$bin_dir.tmp/helm" "$helm"
  rmdir "$bin_dir.tmp"
  printf '%s' "$ldflags" >"$recipe"
  echo "install-helm: built in $((SECONDS - started)) s" >&2
fi
echo "$helm"
