#!/usr/bin/env bash
# Builds the real components the e2e tests run against, from the Go module proxy, into a
# cache outside the repository keyed by version:
#   ${NICPOOL_CACHE:-~/.cache/nicpool}/<component>-<version>/bin/…
# Idempotent: a component whose binaries exist is skipped, so a warm run takes seconds.
# Also installs the Debian packages the tests use (CNI plugins, iproute2, openssl, jq).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache=${NICPOOL_CACHE:-$HOME/.cache/nicpool}
mkdir -p "$cache"
export GOFLAGS=-mod=mod CGO_ENABLED=0
log() { printf '[build-components %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

install_debian() {
  local need=()
  [ -x /usr/lib/cni/macvlan ] || need+=(containernetworking-plugins)
  command -v ip >/dev/null || need+=(iproute2)
  command -v openssl >/dev/null || need+=(openssl)
  command -v jq >/dev/null || need+=(jq)
  # The real node (e2e/realnode, make node-up): containerd + runc as its runtime, nft for
  # kube-proxy's nftables mode and the node's forward guard, mmdebstrap for image rootfs.
  command -v containerd >/dev/null || need+=(containerd)
  command -v runc >/dev/null || need+=(runc)
  command -v nft >/dev/null || need+=(nftables)
  command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
  if [ ${#need[@]} -gt 0 ]; then
    log "apt-get install ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

# build_kube: a wrapper module requiring k8s.io/kubernetes with every staging module
# replaced by its published version (the upstream go.mod points them at ./staging).
# The control plane (kube-apiserver, kube-controller-manager, kubectl) and the real node's
# kubelet, kube-scheduler, kube-proxy: one wrapper module, one Go build cache; only the
# missing commands are built.
KUBE_CMDS=(kube-apiserver kube-controller-manager kubectl kubelet kube-scheduler kube-proxy)
build_kube() {
  local out="$cache/kubernetes-$KUBE_VERSION"
  local missing=() cmd
  for cmd in "${KUBE_CMDS[@]}"; do [ -x "$out/bin/$cmd" ] || missing+=("$cmd"); done
  if [ ${#missing[@]} -eq 0 ]; then
    log "kubernetes $KUBE_VERSION: cached"; return
  fi
  log "kubernetes $KUBE_VERSION: building ${missing[*]} (cold: ~12 min on 2 cores; the node's three ~1.5 min after the control plane's)"
  local src="$out/src"; rm -rf "$src"; mkdir -p "$src" "$out/bin"
  local gomod
  gomod=$(cd "$src" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | jq -r .GoMod)
  local godebug
  godebug=$(grep -E '^godebug ' "$gomod" || true)
  {
    echo "module nicpool.local/kube-build"
    echo
    grep -E '^go ' "$gomod"
    [ -n "$godebug" ] && echo "$godebug"
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    echo "replace ("
    grep -E '=> \./staging/' "$gomod" | awk -v v="$KUBE_STAGING_VERSION" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } >"$src/go.mod"
  cat >"$src/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
)
GO
  (cd "$src" && go mod tidy -e >/dev/null 2>&1 || true; cd "$src" && go mod download)
  local major minor
  major=$(echo "$KUBE_VERSION" | sed -E 's/^v([0-9]+)\..*/\1/')
  minor=$(echo "$KUBE_VERSION" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')
  local ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for cmd in "${missing[@]}"; do
    log "  go build $cmd"
    (cd "$src" && go build -trimpath -ldflags "$ld" -o "$out/bin/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd")
    mv "$out/bin/$cmd.tmp" "$out/bin/$cmd"
  done
  log "kubernetes $KUBE_VERSION: done"
}

# build_wrapped: builds a main package through a throwaway wrapper module. `go install …@v`
# does not work for these: etcd carries replace lines, and the proxy refuses the version
# list of gopkg.in/…multus-cni.v4 (which `go install` asks for deprecation notices).
build_wrapped() { # name version module package
  local name=$1 version=$2 module=$3 pkg=$4
  local out="$cache/$name-$version"
  if [ -x "$out/bin/$name" ]; then log "$name $version: cached"; return; fi
  log "$name $version: building $pkg"
  local src="$out/src"; rm -rf "$src"; mkdir -p "$src" "$out/bin"
  printf 'module nicpool.local/%s-build\n\ngo 1.26\n\nrequire %s %s\n' "$name" "$module" "$version" >"$src/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >"$src/tools.go"
  (cd "$src" && go mod tidy >"$src/tidy.log" 2>&1) || { cat "$src/tidy.log" >&2; return 1; }
  (cd "$src" && go build -trimpath -ldflags "-s -w" -o "$out/bin/$name.tmp" "$pkg")
  mv "$out/bin/$name.tmp" "$out/bin/$name"
  log "$name $version: done"
}

# Whereabouts' CRDs, from its module, beside its binary (the benchmarks install them).
whereabouts_crds() {
  local out="$cache/whereabouts-$WHEREABOUTS_VERSION/crds"
  if [ -f "$out/whereabouts.cni.cncf.io_ippools.yaml" ]; then return; fi
  local dir
  dir=$(cd "$cache/whereabouts-$WHEREABOUTS_VERSION/src" && go mod download -json "github.com/k8snetworkplumbingwg/whereabouts@$WHEREABOUTS_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  mkdir -p "$out.tmp"
  cp "$dir"/doc/crds/whereabouts.cni.cncf.io_*.yaml "$out.tmp/"
  rm -rf "$out"; mv "$out.tmp" "$out"
  log "whereabouts $WHEREABOUTS_VERSION: CRDs"
}

want=${*:-debian etcd multus whereabouts kube helm}
for w in $want; do
  case $w in
    debian) install_debian ;;
    etcd) build_wrapped etcd "$ETCD_VERSION" go.etcd.io/etcd/server/v3 go.etcd.io/etcd/server/v3 ;;
    multus) build_wrapped multus "$MULTUS_VERSION" gopkg.in/k8snetworkplumbingwg/multus-cni.v4 gopkg.in/k8snetworkplumbingwg/multus-cni.v4/cmd/multus ;;
    whereabouts) build_wrapped whereabouts "$WHEREABOUTS_VERSION" github.com/k8snetworkplumbingwg/whereabouts github.com/k8snetworkplumbingwg/whereabouts/cmd && whereabouts_crds ;;
    kube) build_kube ;;
    helm) build_wrapped helm "$HELM_VERSION" helm.sh/helm/v3 helm.sh/helm/v3/cmd/helm ;;
    *) echo "unknown component: $w" >&2; exit 2 ;;
  esac
done
