#!/usr/bin/env python3
"""Packs a root filesystem directory into an OCI image archive, without a
container engine: one layer, the image config (non-root user 65532, the
entrypoint), a manifest and an index, as `docker load`, `podman load` and
`skopeo copy oci-archive:` read them.

    deploy/image/oci.py ROOTFS OUT.tar --tag seesaw:0.1.0

The defaults describe seesaw's image; --entrypoint, --user and --title make
other single-layer images the same way (the test node's sandbox "pause"
image and its application client, see tests/kube/node/).

The layer is reproducible: entries sorted, owner root (numeric), mtime 0,
gzip without a timestamp; the same ROOTFS gives the same digests. Prints the
image's digest and sizes.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def layer_tar(rootfs: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        paths = []
        for parent, dirs, files in os.walk(rootfs):
            dirs.sort()
            for name in sorted(dirs + files):
                paths.append(os.path.join(parent, name))
        for path in sorted(paths, key=lambda p: os.path.relpath(p, rootfs)):
            info = tar.gettarinfo(path, arcname=os.path.relpath(path, rootfs))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            info.pax_headers = {}
            if info.isfile():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return buf.getvalue()


def blob(out: tarfile.TarFile, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo("blobs/sha256/" + digest.split(":")[1])
    info.size = len(data)
    info.mode = 0o644
    out.addfile(info, io.BytesIO(data))
    return digest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rootfs")
    ap.add_argument("out")
    ap.add_argument("--tag", default="seesaw:latest")
    ap.add_argument("--entrypoint", default="/usr/local/bin/seesaw")
    ap.add_argument("--user", default="65532:65532")
    ap.add_argument("--title", default="seesaw")
    args = ap.parse_args()
    entry = os.path.join(args.rootfs, args.entrypoint.lstrip("/"))
    if not os.access(entry, os.X_OK):
        hint = ": run deploy/image/rootfs.sh first" if args.title == "seesaw" else ""
        print(f"{args.rootfs} has no {args.entrypoint}{hint}", file=sys.stderr)
        return 2

    raw = layer_tar(args.rootfs)
    packed = gzip.compress(raw, compresslevel=9, mtime=0)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": args.user,
            "Entrypoint": [args.entrypoint],
            "Env": [
                "PATH=/usr/local/bin",
                "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
            ],
            "WorkingDir": "/",
            "Labels": {
                "org.opencontainers.image.title": args.title,
            },
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
        "history": [{"created_by": "deploy/image/rootfs.sh + deploy/image/oci.py"}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()

    with tarfile.open(args.out, "w", format=tarfile.PAX_FORMAT) as out:
        layer_digest = blob(out, packed)
        config_digest = blob(out, config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config_bytes),
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": len(packed),
            }],
        }
        manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        manifest_digest = blob(out, manifest_bytes)
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": len(manifest_bytes),
                "annotations": {
                    "org.opencontainers.image.ref.name": args.tag.rsplit(":", 1)[-1],
                    "io.containerd.image.name": args.tag,
                },
            }],
        }
        for name, data in (
            ("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
            ("index.json", json.dumps(index, sort_keys=True).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            out.addfile(info, io.BytesIO(data))

    print(f"image {args.tag}: {args.out}")
    print(f"  manifest {manifest_digest}")
    print(f"  layer    {len(packed)} bytes compressed, {len(raw)} bytes uncompressed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
