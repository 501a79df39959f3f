#!/usr/bin/env bash
# Installs everything gluster_mgmt's tests and daemon need on a fresh Debian 12 machine (as root):
# the store servers (etcd, ZooKeeper, Consul), GlusterFS 10.3 bricks and FUSE client, and tools
# (iproute2: the network namespaces and bridge of tests/multihost).
# Idempotent: a second run only checks.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
CONSUL_DIR=/opt/gluster-mgmt-consul

# Package maintainer scripts must not start services (no glusterd, etcd or zookeeper daemons:
# the tests start their own servers on loopback).
no_start=/usr/sbin/policy-rc.d
created_policy=
if [ ! -e "$no_start" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$no_start"; chmod +x "$no_start"; created_policy=1
fi
cleanup() { [ -n "$created_policy" ] && rm -f "$no_start"; return 0; }
trap cleanup EXIT

need=()
for pkg in etcd-server zookeeper default-jre-headless glusterfs-server glusterfs-client attr psmisc \
           tshark python3-venv fuse3 iproute2; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# Consul is not in Debian 12; Debian 11 ships a static binary in its consul .deb.
if [ ! -x "$CONSUL_DIR/usr/bin/consul" ]; then
    bullseye=/etc/apt/sources.list.d/gluster-mgmt-bullseye.sources
    cat > "$bullseye" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bullseye
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    # Never let bullseye packages win over bookworm ones: only `apt-get download` uses it.
    printf 'Package: *\nPin: release n=bullseye\nPin-Priority: 1\n' > /etc/apt/preferences.d/gluster-mgmt-bullseye
    apt-get update -q
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -q consul/bullseye)
    mkdir -p "$CONSUL_DIR"
    dpkg -x "$tmp"/consul_*.deb "$CONSUL_DIR"
    rm -rf "$tmp"
fi
ln -sf "$CONSUL_DIR/usr/bin/consul" /usr/local/bin/consul

# Stock glusterd (the package starts it) must never run beside gluster_mgmt's mgmt server on
# 24007: stop the one of this network namespace, not glusterds that tests run in their own.
own_net=$(readlink /proc/self/ns/net)
for pid in $(pgrep -x glusterd || true); do
    if [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$own_net" ]; then
        kill "$pid" 2>/dev/null || true
    fi
done

etcd --version | sed -n 1p
consul version | sed -n 1p
glusterfsd --version | sed -n 1p
