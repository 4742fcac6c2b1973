#!/usr/bin/env bash
# The files of seesaw's container image, laid out in a directory: the one
# recipe both deploy/Dockerfile (its final stage copies this directory onto
# `scratch`) and deploy/image/build (no Docker needed) use.
#
#   deploy/image/rootfs.sh BINARY DIR
#
# BINARY must be statically linked (deploy/image/build and the Dockerfile
# build with `-C target-feature=+crt-static`): the image holds no libc.
# What else it holds, and why:
#   /etc/ssl/certs/ca-certificates.crt  the CA bundle seesaw reads for the
#                                       cloud stores, Kubernetes and verify-full
#   /etc/passwd, /etc/group             the non-root user 65532 ("nonroot")
#   /tmp (1777)                         a scratch directory, as Kubernetes expects
# Kubernetes mounts /etc/hosts and /etc/resolv.conf; glibc's static resolver
# reads them without nsswitch.conf or NSS modules.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 BINARY DIR" >&2
  exit 2
fi
binary=$1
dir=$2
bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

if [[ ! -x $binary ]]; then
  echo "$0: $binary is not an executable file (build it first: deploy/image/build)" >&2
  exit 2
fi
# A dynamically linked binary has NEEDED entries (libc.so.6, ...).
if readelf -d "$binary" 2>/dev/null | grep -q '(NEEDED)'; then
  echo "$0: $binary is dynamically linked; the image has no libc. Build with RUSTFLAGS='-C target-feature=+crt-static' --target x86_64-unknown-linux-gnu" >&2
  exit 2
fi
if [[ ! -s $bundle ]]; then
  echo "$0: no CA bundle at $bundle (apt-get install ca-certificates, or set CA_BUNDLE)" >&2
  exit 2
fi

rm -rf "$dir"
install -d -m 0755 "$dir/usr/local/bin" "$dir/etc/ssl/certs"
install -d -m 1777 "$dir/tmp"
install -m 0755 "$binary" "$dir/usr/local/bin/seesaw"
strip "$dir/usr/local/bin/seesaw" 2>/dev/null || true
install -m 0644 "$bundle" "$dir/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$dir/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$dir/etc/group"
chmod 0644 "$dir/etc/passwd" "$dir/etc/group"
