#!/bin/sh
# reinstall-guard.sh: the first autoinstall early-command
# (configs/autoinstall/user-data). It keeps the installer medium from erasing
# a machine that already runs NovaSphere: a USB stick or virtual CD left
# first in the boot order boots the installer again after the install, and
# the unattended install would erase the disk again without asking.
#
# Early-commands run before the installer touches any disk, and a failing one
# stops the install there (subiquity: subiquity/server/controllers/cmdlist.py,
# EarlyController, check=True; it then stays at its error screen). This
# script only reads: on every block device it asks debugfs (read-only;
# nothing is mounted, no LVM volume is activated; a device that holds no
# ext2/3/4 file system just fails to open) for the marker that
# scripts/install.sh writes into the
# installed system's /boot: /novasphere-installed on a separate /boot (the
# lvm layout) or /boot/novasphere-installed on the root file system (the
# direct layout). When it finds one it prints why it stops on the console
# and exits 1; the disk is left exactly as it was.
#
# The boot menu's second entry ("... - reinstall, ERASES the disk") adds the
# kernel argument novasphere.reinstall=erase-disk, which lets the install go
# on. It stands before "---", so the installed system never gets it.
#
# Output: lines starting with "NOVASPHERE-REINSTALL-GUARD: " on standard
# output and on the kernel log (/dev/kmsg), which reaches every console
# (subiquity sends early-commands' output only to the journal).
#
# For tests: NOVASPHERE_GUARD_CMDLINE (default /proc/cmdline),
# NOVASPHERE_GUARD_DEVICES (default: every block device of /sys/class/block),
# NOVASPHERE_GUARD_KMSG (default /dev/kmsg; empty for none) and
# NOVASPHERE_GUARD_DEBUGFS (default debugfs).
set -u

ERASE_ARG=novasphere.reinstall=erase-disk
MARKERS="/novasphere-installed /boot/novasphere-installed"
CMDLINE=${NOVASPHERE_GUARD_CMDLINE:-/proc/cmdline}
KMSG=${NOVASPHERE_GUARD_KMSG-/dev/kmsg}
DEBUGFS=${NOVASPHERE_GUARD_DEBUGFS:-debugfs}

say() {
	echo "NOVASPHERE-REINSTALL-GUARD: $*"
	if [ -n "$KMSG" ] && [ -w "$KMSG" ]; then
		# <2>: critical, shown on the console whatever the loglevel.
		printf '<2>NOVASPHERE-REINSTALL-GUARD: %s\n' "$*" >"$KMSG" 2>/dev/null || true
	fi
}

devices() {
	if [ -n "${NOVASPHERE_GUARD_DEVICES:-}" ]; then
		echo "$NOVASPHERE_GUARD_DEVICES"
		return
	fi
	for d in /sys/class/block/*; do
		[ -e "$d" ] || continue
		echo "/dev/${d##*/}"
	done
}

for arg in $(cat "$CMDLINE" 2>/dev/null); do
	if [ "$arg" = "$ERASE_ARG" ]; then
		say "$ERASE_ARG is on the kernel command line: an installed NovaSphere will be ERASED"
		exit 0
	fi
done

PATH=$PATH:/usr/sbin:/sbin
if ! command -v "$DEBUGFS" >/dev/null 2>&1; then
	say "cannot look for an installed NovaSphere: debugfs (e2fsprogs) is missing; nothing was changed on any disk."
	say "To install anyway (ERASING the disk), boot the menu entry ending in \"reinstall, ERASES the disk\"."
	exit 1
fi

for dev in $(devices); do
	[ -b "$dev" ] || [ -f "$dev" ] || continue
	for m in $MARKERS; do
		found=$("$DEBUGFS" -R "cat $m" "$dev" 2>/dev/null | head -n 1)
		# install.sh writes "NovaSphere <version>"; anything else is
		# debugfs talking about a device it cannot read ("... contains a
		# squashfs file system" goes to standard output).
		case $found in
		"NovaSphere "*) ;;
		*) continue ;;
		esac
		say "this machine already has NovaSphere installed: $found (marker $m on $dev)."
		say "The installer stopped before touching any disk: nothing was changed."
		say "To start the installed system, remove the installer medium (or boot from the disk) and restart."
		say "To ERASE the disk and install again, boot the medium and choose the menu entry ending in \"reinstall, ERASES the disk\"."
		exit 1
	done
done
say "no installed NovaSphere found: installing"
exit 0
