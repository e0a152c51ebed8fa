package verify

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Environment variables that configure the boot checks.
const (
	// EnvBoot is "1" to require the QEMU boots, "0" to skip them; unset
	// boots when qemu is installed.
	EnvBoot = "VERIFY_BOOT"
	// EnvBootTimeout is the timeout per boot: a Go duration ("3m", "90s")
	// or a number of seconds.
	EnvBootTimeout = "VERIFY_BOOT_TIMEOUT"
	// EnvBootMarker is a regular expression (Go syntax) that proves a boot
	// when a serial console line matches it.
	EnvBootMarker = "VERIFY_BOOT_MARKER"
)

// WithEnv returns o with the boot settings read from the environment
// through getenv (os.Getenv in the Verify target). A bad value is an error
// naming the variable and what it accepts.
func (o Options) WithEnv(getenv func(string) string) (Options, error) {
	switch v := strings.ToLower(strings.TrimSpace(getenv(EnvBoot))); v {
	case "":
		o.Boot = BootAuto
	case "1", "true", "yes", "on":
		o.Boot = BootOn
	case "0", "false", "no", "off":
		o.Boot = BootOff
	default:
		return o, fmt.Errorf("%s=%q: use 1 to require the QEMU boots or 0 to skip them (unset: boot when qemu is installed)", EnvBoot, v)
	}
	if v := strings.TrimSpace(getenv(EnvBootTimeout)); v != "" {
		d, err := parseTimeout(v)
		if err != nil {
			return o, fmt.Errorf("%s=%q: %w", EnvBootTimeout, v, err)
		}
		o.BootTimeout = d
	}
	if v := getenv(EnvBootMarker); v != "" {
		re, err := regexp.Compile(v)
		if err != nil {
			return o, fmt.Errorf("%s: not a regular expression: %w", EnvBootMarker, err)
		}
		o.BootMarker = re
	}
	return o, nil
}

func parseTimeout(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.Atoi(v)
		if nerr != nil {
			return 0, fmt.Errorf("not a duration: use for example 3m, 90s or a number of seconds")
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 {
		return 0, fmt.Errorf("the timeout must be positive")
	}
	return d, nil
}
