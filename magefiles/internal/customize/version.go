package customize

import "bytes"

// DiskInfoPrefix starts the line Customize adds to /.disk/info.
const DiskInfoPrefix = "NovaSphere installer "

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
