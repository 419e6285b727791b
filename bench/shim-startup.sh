#!/usr/bin/env bash
# Start-up and ADD round trip of the CNI shim (single executable) against `node -e 0` and
# Debian's Go `static` IPAM plugin, as whole processes. Needs a running allocator on
# $SOCKET with a pod $POD_NS/$POD_NAME ($POD_UID) whose eth0 is already allocated, so every
# ADD is the idempotent round trip (shim start → socket → allocator → API reads → answer).
# Usage: SOCKET=… POD_NS=… POD_NAME=… POD_UID=… bench/shim-startup.sh   (needs hyperfine)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "install hyperfine (apt-get install hyperfine)" >&2; exit 2; }
SHIM=$PWD/apps/cni-shim/dist/spiderpool
NODE=$(readlink -f node_modules/.bin/node)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "{\"cniVersion\":\"0.3.1\",\"name\":\"n\",\"type\":\"macvlan\",\"ipam\":{\"type\":\"spiderpool\",\"ipam_unix_socket_path\":\"$SOCKET\"}}" >"$tmp/shim.json"
echo '{"cniVersion":"0.3.1","name":"n","type":"macvlan","ipam":{"type":"static","addresses":[{"address":"10.6.168.176/16","gateway":"10.6.0.1"}]}}' >"$tmp/static.json"
export CNI_CONTAINERID=bench CNI_NETNS=/var/run/netns/none CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
export CNI_ARGS="IgnoreUnknown=true;K8S_POD_NAMESPACE=$POD_NS;K8S_POD_NAME=$POD_NAME;K8S_POD_UID=$POD_UID"
# hyperfine runs each through a shell (for the stdin redirect) and subtracts the shell's own start.
hyperfine --warmup 3 --runs 30 \
  -n "shim VERSION" "CNI_COMMAND=VERSION $SHIM < $tmp/shim.json" \
  -n "node -e 0" "$NODE -e 0 < $tmp/shim.json" \
  -n "static VERSION" "CNI_COMMAND=VERSION /usr/lib/cni/static < $tmp/static.json"
hyperfine --warmup 3 --runs 30 \
  -n "shim ADD (round trip to the allocator)" "CNI_COMMAND=ADD $SHIM < $tmp/shim.json" \
  -n "static ADD" "CNI_COMMAND=ADD /usr/lib/cni/static < $tmp/static.json"
