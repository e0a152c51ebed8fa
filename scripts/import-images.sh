#!/bin/sh
# import-images.sh: makes NovaSphere's container images available to the
# container runtime of the installed system, offline. install.sh runs it.
# Each image is an OCI archive, $NOVASPHERE_DIR/images/<name>.oci.tar, that
# the build fetched by digest and checked (see README, "Container images").
#
# - containerd running (its socket at $CONTAINERD_ADDRESS): every archive is
#   imported into the k8s.io namespace, the one Kubernetes' CRI uses, and
#   labelled io.cri-containerd.pinned so the kubelet's image garbage
#   collection keeps it (the chart says pullPolicy: Never: a collected image
#   never comes back).
# - otherwise: the archives are placed in k3s's and RKE2's agent/images/
#   directories, which they import at every start.
# Any failure stops the script with the runtime's own message.
set -eu

NOVASPHERE_DIR=${NOVASPHERE_DIR:-/opt/novasphere}
CONTAINERD_ADDRESS=${CONTAINERD_ADDRESS:-/run/containerd/containerd.sock}
RANCHER_DIR=${NOVASPHERE_RANCHER_DIR:-/var/lib/rancher}
log() { echo "novasphere-install: $*"; }
fail() {
	log "$*" >&2
	exit 1
}

set -- "$NOVASPHERE_DIR"/images/*.oci.tar
if [ ! -e "$1" ]; then
	log "no container images to import"
	exit 0
fi

# names prints the image names an archive gives containerd (its index.json,
# which the build writes as one line of JSON).
names() {
	tar -xOf "$1" index.json | grep -o '"io.containerd.image.name":"[^"]*"' | cut -d'"' -f4
}

if command -v ctr >/dev/null 2>&1 && [ -S "$CONTAINERD_ADDRESS" ]; then
	export CONTAINERD_ADDRESS
	for a in "$@"; do
		log "importing $(basename "$a") into containerd (namespace k8s.io)"
		status=0
		ctr -n k8s.io images import "$a" || status=$?
		[ "$status" -eq 0 ] || fail "ctr could not import $a (exit status $status; its message is above)"
		n=$(names "$a") || fail "$a has no readable index.json"
		for name in $n; do
			ctr -n k8s.io images ls -q | grep -qxF "$name" || fail "containerd does not list $name after importing $a"
			ctr -n k8s.io images label "$name" io.cri-containerd.pinned=pinned >/dev/null ||
				fail "ctr could not pin $name"
			log "image $name is in containerd (k8s.io), pinned"
		done
	done
	exit 0
fi

if command -v ctr >/dev/null 2>&1; then
	log "containerd is installed but not running here ($CONTAINERD_ADDRESS): placing the images for k3s and RKE2;" \
		"for containerd alone, import them at first boot: ctr -n k8s.io images import $NOVASPHERE_DIR/images/<name>.oci.tar"
fi
for k in k3s rke2; do
	dir=$RANCHER_DIR/$k/agent/images
	mkdir -p "$dir" || fail "cannot create $dir"
	for a in "$@"; do
		dst=$dir/novasphere-$(basename "$a")
		# A hidden temporary name: k3s watches the directory and must never
		# import half a file.
		tmp=$dir/.novasphere-$(basename "$a").tmp
		cp "$a" "$tmp" && mv -f "$tmp" "$dst" || fail "cannot place $a in $dir"
	done
	log "placed $# image archive(s) in $dir ($k imports them at start)"
done
