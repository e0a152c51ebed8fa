package targets

import (
	"context"
	"fmt"
	"os"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/pipeline"
	"github.com/novasphere/novasphere-iso/magefiles/internal/qemu"
)

// VM boots the installed machine the last install proof left, firmware bios or uefi (mage vm bios), with its serial console on this terminal and SSH forwarded from 127.0.0.1.
//
// The disk is $BUILD_DIR/install/<firmware>/disk.raw, a sparse image that
// `VERIFY_INSTALL=1 go run magefile.go verify` keeps (verify-report.json
// names it); when there is none yet, vm builds the ISO and installs it
// first (a few minutes on the test ISO under TCG). Before QEMU starts it
// prints the command to log in from another terminal:
//
//	ssh -p <free port> -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no novasphere@127.0.0.1
//
// with a key of configs/autoinstall/user-data or ADMIN_AUTHORIZED_KEYS. The
// guest's network is QEMU's user network restricted to it (DHCP, no route
// out); only that port reaches it. Ctrl-A X ends QEMU. The disk is booted
// writable: changes stay until the next install proof replaces it.
//
// Environment: those of pack, plus VERIFY_INSTALL_TIMEOUT for the install.
func VM(ctx context.Context, firmware string) error {
	fw, err := firmwareArgument(firmware)
	if err != nil {
		return err
	}
	c, err := loadConfig(config.OSEnv())
	if err != nil {
		return err
	}
	return pipeline.New(c, os.Stdout, os.Stderr, isTerminal(os.Stderr)).VM(ctx, fw)
}

// firmwareArgument reads vm's argument.
func firmwareArgument(s string) (qemu.Firmware, error) {
	switch s {
	case "bios":
		return qemu.BIOS, nil
	case "uefi":
		return qemu.UEFI, nil
	}
	return 0, fmt.Errorf("vm: firmware %q: use bios or uefi (go run magefile.go vm bios)", s)
}
