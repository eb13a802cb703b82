#!/usr/bin/env python3
"""Write a single-layer OCI image archive (an oci-layout tar) from a directory: no daemon, no registry.

usage: mkoci.py ROOTFS_DIR CONFIG_JSON OUT.tar NAME [NAME...]

CONFIG_JSON is the image config's "config" object (User, Env, Entrypoint, Cmd, WorkingDir, ExposedPorts, ...).
Every NAME must be a full reference (registry/repository:tag, e.g. docker.io/library/kasprop:0.1.0): the index gets
one entry per name carrying io.containerd.image.name, which `ctr images import` stores as is.

The output is a function of the tree's contents only: entries sorted, mtime 0, owner root (uid/gid 0), and group
and other write bits cleared (except on sticky directories such as /tmp), so nothing in the image is writable by a
non-root user unless it is meant to be.
"""
import hashlib
import io
import json
import os
import re
import sys
import tarfile

EPOCH = '1970-01-01T00:00:00Z'
# A registry host (with a dot, or localhost), a repository and a tag: what containerd stores, never a short name.
FULL_REFERENCE = re.compile(
    r'^(localhost|[a-z0-9-]+(\.[a-z0-9-]+)+)(:[0-9]+)?/[a-z0-9]+([._/-][a-z0-9]+)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$')


class HashingWriter:
    def __init__(self, f):
        self.f = f
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        return self.f.write(data)


def normalize(ti):
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = 'root'
    ti.mtime = 0
    if not ti.mode & 0o1000:
        ti.mode &= ~0o022
    return ti


def write_layer(root, path):
    with open(path, 'wb') as f:
        writer = HashingWriter(f)
        # Stream mode: the layer (130 MB for the operator) never sits in memory. tarfile.add walks directories in
        # sorted order.
        with tarfile.open(fileobj=writer, mode='w|', format=tarfile.PAX_FORMAT) as t:
            for entry in sorted(os.listdir(root)):
                t.add(os.path.join(root, entry), arcname=entry, filter=normalize)
    return 'sha256:' + writer.sha.hexdigest(), writer.size


def blob(data):
    return 'sha256:' + hashlib.sha256(data).hexdigest(), data


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    root, config_json, out, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    for name in names:
        if not FULL_REFERENCE.match(name):
            sys.exit(f'mkoci.py: {name!r} is not a full image reference (registry/repository:tag)')
        if name.endswith(':latest'):
            sys.exit(f'mkoci.py: {name!r}: a :latest tag makes the kubelet pull, which fails offline')
    layer_path = out + '.layer'
    layer_digest, layer_size = write_layer(root, layer_path)
    config_digest, config_b = blob(json.dumps({
        'architecture': 'amd64',
        'os': 'linux',
        'created': EPOCH,
        'config': json.loads(config_json),
        'rootfs': {'type': 'layers', 'diff_ids': [layer_digest]},
        'history': [{'created': EPOCH, 'created_by': 'tools/images/mkoci.py'}],
    }, sort_keys=True, separators=(',', ':')).encode())
    manifest_digest, manifest_b = blob(json.dumps({
        'schemaVersion': 2,
        'mediaType': 'application/vnd.oci.image.manifest.v1+json',
        'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': config_digest,
                   'size': len(config_b)},
        'layers': [{'mediaType': 'application/vnd.oci.image.layer.v1.tar', 'digest': layer_digest,
                    'size': layer_size}],
    }, sort_keys=True, separators=(',', ':')).encode())
    index = json.dumps({
        'schemaVersion': 2,
        'mediaType': 'application/vnd.oci.image.index.v1+json',
        'manifests': [{
            'mediaType': 'application/vnd.oci.image.manifest.v1+json',
            'digest': manifest_digest,
            'size': len(manifest_b),
            'platform': {'architecture': 'amd64', 'os': 'linux'},
            'annotations': {'io.containerd.image.name': name,
                            'org.opencontainers.image.ref.name': name.rsplit(':', 1)[1]},
        } for name in names],
    }, sort_keys=True, separators=(',', ':')).encode()

    def add(t, path, fileobj, size):
        ti = tarfile.TarInfo(path)
        ti.size = size
        ti.mode = 0o644
        ti.uname = ti.gname = 'root'
        t.addfile(ti, fileobj)

    with tarfile.open(out, 'w', format=tarfile.PAX_FORMAT) as t:
        small = [('oci-layout', json.dumps({'imageLayoutVersion': '1.0.0'}).encode()), ('index.json', index),
                 ('blobs/sha256/' + config_digest[7:], config_b), ('blobs/sha256/' + manifest_digest[7:], manifest_b)]
        for path, data in small:
            add(t, path, io.BytesIO(data), len(data))
        with open(layer_path, 'rb') as f:
            add(t, 'blobs/sha256/' + layer_digest[7:], f, layer_size)
    os.unlink(layer_path)
    print(f'mkoci.py: {out}: {" ".join(names)} manifest {manifest_digest} layer {layer_size} B', file=sys.stderr)


if __name__ == '__main__':
    main()
