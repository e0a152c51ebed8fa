package customize

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// MaxVolumeIDLen is the ISO 9660 limit on the volume identifier, in bytes.
const MaxVolumeIDLen = 32

// VolumeIDPrefix starts the installer ISO's volume id; the version follows.
const VolumeIDPrefix = "NOVASPHERE "

// DiskInfoPrefix starts the line Customize adds to /.disk/info.
const DiskInfoPrefix = "NovaSphere installer "

// ErrBadVersion marks a version that is refused: not one of the accepted
// forms, or too long for the volume id.
var ErrBadVersion = errors.New("bad version")

// ValidateVersion accepts what config.ValidateVersion accepts (YYYYMMDD or
// vX.Y.Z[-rc.N]) when the volume id made from it also fits ISO 9660.
func ValidateVersion(version string) error {
	if err := config.ValidateVersion(version); err != nil {
		return fmt.Errorf("%w: %w", ErrBadVersion, err)
	}
	if n := len(VolumeIDPrefix + version); n > MaxVolumeIDLen {
		return fmt.Errorf("%w: version %q makes the volume id %q %d characters long; ISO 9660 allows %d, so the version may have at most %d characters",
			ErrBadVersion, version, VolumeIDPrefix+version, n, MaxVolumeIDLen, MaxVolumeIDLen-len(VolumeIDPrefix))
	}
	return nil
}

// VolumeID is the installer ISO's volume id for version, "NOVASPHERE
// <version>", checked against the ISO 9660 limit of 32 characters.
func VolumeID(version string) (string, error) {
	if err := ValidateVersion(version); err != nil {
		return "", err
	}
	return VolumeIDPrefix + version, nil
}

// VersionFile is the content of /novasphere/VERSION: the version and a
// newline, nothing else.
func VersionFile(version string) []byte {
	return []byte(version + "\n")
}

// DiskInfo returns the base ISO's /.disk/info with one line naming the
// installer version added at the end. A line added by an earlier run is
// replaced, so the result does not depend on how often it is applied. The
// base's convention for a final newline is kept (Ubuntu writes none).
func DiskInfo(base []byte, version string) []byte {
	trailingNL := bytes.HasSuffix(base, []byte("\n"))
	var kept [][]byte
	for _, line := range bytes.Split(bytes.TrimRight(base, "\n"), []byte("\n")) {
		if bytes.HasPrefix(line, []byte(DiskInfoPrefix)) || len(bytes.TrimSpace(line)) == 0 && len(kept) == 0 {
			continue
		}
		kept = append(kept, line)
	}
	kept = append(kept, []byte(DiskInfoPrefix+version))
	out := bytes.Join(kept, []byte("\n"))
	if trailingNL {
		out = append(out, '\n')
	}
	return out
}
