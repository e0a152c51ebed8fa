#!/bin/sh
# firstboot.sh: run once by novasphere-firstboot.service on the first boot of
# the installed system. It checks that NovaSphere is installed and whole and
# reports each check on the console, one line each, for the operator and for
# the install proof (magefiles/internal/installproof), which reads them from the
# first serial port:
#   NOVASPHERE-FIRSTBOOT version <version>
#   NOVASPHERE-FIRSTBOOT check <what> ok|FAILED <detail>
#   NOVASPHERE-FIRSTBOOT package <name> <version> ok|FAILED <detail>
#   NOVASPHERE-FIRSTBOOT result OK|FAILED
# On success it records /var/lib/novasphere/firstboot.done so that it does not
# run again; on failure it runs again at the next boot.
set -u

NOVASPHERE_DIR=${NOVASPHERE_DIR:-/opt/novasphere}
STAMP=/var/lib/novasphere/firstboot.done
failed=0

# say prints a report line on standard output (the journal and the console)
# and on the first serial port. The installed system's console is what its
# kernel command line says: curtin copies every console= argument of the
# installer's command line (before and after "---") and everything after
# "---" (curtin/commands/install_grub.py, get_carryover_params), so with
# KERNEL_ARGS' default console=ttyS0,115200n8 console=tty0 the serial port is
# a console; written to directly, the lines reach it even when KERNEL_ARGS
# names no serial console.
say() {
	echo "NOVASPHERE-FIRSTBOOT $*"
	if [ -c /dev/ttyS0 ]; then
		printf 'NOVASPHERE-FIRSTBOOT %s\r\n' "$*" >/dev/ttyS0 2>/dev/null || true
	fi
}

check() { # check <what> <detail> <command...>
	what=$1 detail=$2
	shift 2
	if "$@" >/dev/null 2>&1; then
		say "check $what ok $detail"
	else
		say "check $what FAILED $detail"
		failed=1
	fi
}

version=$(cat "$NOVASPHERE_DIR/VERSION" 2>/dev/null) || version=
say "version ${version:-<missing>}"
check version "$NOVASPHERE_DIR/VERSION" test -n "$version"
check manifest "$NOVASPHERE_DIR/MANIFEST.sha256" sh -c "cd '$NOVASPHERE_DIR' && sha256sum --quiet -c MANIFEST.sha256"
check config /etc/novasphere/novasphere.yaml cmp "$NOVASPHERE_DIR/configs/novasphere.yaml" /etc/novasphere/novasphere.yaml

for deb in "$NOVASPHERE_DIR"/packages/*.deb; do
	[ -e "$deb" ] || continue
	name=$(dpkg-deb -f "$deb" Package)
	want=$(dpkg-deb -f "$deb" Version)
	have=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$name" 2>/dev/null) || have=
	if [ "$have" = "ii  $want" ]; then
		say "package $name $want ok"
	else
		say "package $name $want FAILED installed: ${have:-not installed}"
		failed=1
	fi
done

if [ "$failed" -ne 0 ]; then
	say "result FAILED"
	exit 1
fi
install -d -m 0755 "$(dirname "$STAMP")"
date -u +%Y-%m-%dT%H:%M:%SZ >"$STAMP"
say "result OK"
