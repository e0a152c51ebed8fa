package tool

import "syscall"

// procAttr asks the kernel to kill a tool when the pipeline dies. Mage exits
// as soon as a -t timeout or Ctrl-C ends the context, without waiting for
// the goroutines that would stop running tools; without this a QEMU guest
// (or an xorriso run) would go on after mage has gone.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
