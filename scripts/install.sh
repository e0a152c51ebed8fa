#!/bin/sh
# install.sh: runs on the freshly installed system (autoinstall late-commands,
# through `curtin in-target`) and installs NovaSphere from /opt/novasphere,
# which the installer copied from /cdrom/novasphere. Offline: no network use.
set -eu

NOVASPHERE_DIR=${NOVASPHERE_DIR:-/opt/novasphere}
BOOT_DIR=${NOVASPHERE_BOOT_DIR:-/boot} # the installed system's /boot (tests change it)
log() { echo "novasphere-install: $*"; }

if [ ! -f "$NOVASPHERE_DIR/VERSION" ]; then
	log "missing $NOVASPHERE_DIR/VERSION: was /cdrom/novasphere copied?" >&2
	exit 1
fi
version=$(cat "$NOVASPHERE_DIR/VERSION")
log "installing NovaSphere $version from $NOVASPHERE_DIR"

# Check the payload against its manifest before touching the system.
(cd "$NOVASPHERE_DIR" && sha256sum --quiet -c MANIFEST.sha256)

# Offline packages, if any were shipped: all of them in one apt transaction,
# as the build's offline-package check resolved them (Depends and
# Pre-Depends only, against the installed base system). apt must not remove
# a package of the base system (--no-remove) or pull in Recommends that the
# check did not look at. Not --no-download: with it apt refuses local .deb
# files ("Internal Error, Pathname to install is not absolute", apt 2.6,
# found by the install proof); the installed system has no network, so a
# dependency that is neither installed nor shipped fails here. When apt
# disagrees, its own message is above this script's last line.
set -- "$NOVASPHERE_DIR"/packages/*.deb
if [ -e "$1" ]; then
	log "installing $# offline package(s) in one apt transaction"
	status=0
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-remove --no-install-recommends "$@" || status=$?
	if [ "$status" -ne 0 ]; then
		log "apt-get could not install the offline packages (exit status $status; apt's message is above)." >&2
		log "packages: $*" >&2
		exit "$status"
	fi
fi

install -d -m 0755 /etc/novasphere /var/lib/novasphere
install -m 0644 "$NOVASPHERE_DIR/configs/novasphere.yaml" /etc/novasphere/novasphere.yaml

# The first-boot check reports on the console that NovaSphere is in place.
install -m 0644 "$NOVASPHERE_DIR/configs/systemd/novasphere-firstboot.service" \
	/etc/systemd/system/novasphere-firstboot.service
systemctl enable novasphere-firstboot.service
# The marker the installer medium's reinstall guard (scripts/reinstall-guard.sh,
# the first early-command) looks for before it lets an install erase a disk.
# It lives in /boot: a plain partition in both of subiquity's guided layouts
# (the separate /boot of lvm, the root of direct), so the guard reads it
# without mounting anything or activating LVM.
printf 'NovaSphere %s\n' "$version" >"$BOOT_DIR/novasphere-installed"
log "NovaSphere $version installed; chart at $NOVASPHERE_DIR/charts/novasphere"
