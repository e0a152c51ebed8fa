package installproof

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/qemu"
)

// TestVMPlumbing runs VM with a stand-in for QEMU that prints its command
// line: the installed disk and UEFI variables are attached writable, the
// serial console is on the terminal, only 127.0.0.1:<port> reaches the
// guest's SSH port on a restricted user network, and the printed ssh
// command uses that port and the user.
func TestVMPlumbing(t *testing.T) {
	dir := t.TempDir()
	disk := filepath.Join(dir, DiskName)
	vars := filepath.Join(dir, VarsName)
	for _, f := range []string{disk, vars} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fake := filepath.Join(dir, "qemu")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nfor a; do echo \"$a\"; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out, msgs bytes.Buffer
	err := VM(context.Background(), VMOptions{Disk: disk, UEFIVars: vars, Firmware: qemu.UEFI, Accel: "tcg", User: "novasphere",
		Port: 2222, Binary: fake, OVMFCode: "/ovmf/CODE.fd", Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Out: &msgs})
	if err != nil {
		t.Fatal(err)
	}
	args := out.String()
	for _, want := range []string{"-nographic\n", "user,restrict=on,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:2222-:22\n",
		"if=none,id=disk,format=raw,file=" + disk + "\n", "if=pflash,format=raw,unit=1,file=" + vars + "\n", "pc,accel=tcg\n"} {
		if !strings.Contains(args, want) {
			t.Errorf("QEMU's arguments lack %q:\n%s", want, args)
		}
	}
	if !strings.Contains(msgs.String(), "ssh -p 2222 -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no novasphere@127.0.0.1") {
		t.Errorf("no ssh command printed:\n%s", msgs.String())
	}
	if err := VM(context.Background(), VMOptions{Disk: filepath.Join(dir, "none.raw"), Binary: fake}); err == nil || !strings.Contains(err.Error(), "VERIFY_INSTALL=1 go run magefile.go verify") {
		t.Errorf("missing disk: %v", err)
	}
}
