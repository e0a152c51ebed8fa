package verify

import (
	"context"
	"fmt"

	"github.com/novasphere/novasphere-iso/magefiles/internal/hashing"
)

// checkChecksums hashes the ISO, SHA-256 and MD5 from one read. The
// report keeps the digests; the pipeline writes SHA256SUMS and MD5SUMS
// from them.
func checkChecksums(ctx context.Context, in *inputs) (string, error) {
	d, err := hashing.File(ctx, in.o.ISO, 0)
	if err != nil {
		return "", err
	}
	in.digests = &d
	return fmt.Sprintf("sha256 %s, md5 %s, %d bytes", d.SHA256, d.MD5, d.Size), nil
}
