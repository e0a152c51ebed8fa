package verify

import (
	"context"
	"fmt"
	"github.com/novasphere/novasphere-iso/magefiles/internal/atomicfile"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/hashing"
	"github.com/novasphere/novasphere-iso/magefiles/internal/sums"
	"path/filepath"
)

// checkChecksums hashes the ISO (SHA-256 and MD5 from one read) and writes
// SHA256SUMS and MD5SUMS beside the report.
func checkChecksums(ctx context.Context, in *inputs) (string, error) {
	d, err := hashing.File(ctx, in.o.ISO, 0)
	if err != nil {
		return "", err
	}
	in.digests = &d
	if err := WriteSums(in.o.DistDir, filepath.Base(in.o.ISO), d); err != nil {
		return "", err
	}
	l := in.o.dist()
	return fmt.Sprintf("sha256 %s, md5 %s, %d bytes; wrote %s and %s", d.SHA256, d.MD5, d.Size, l.SHA256Sums(), l.MD5Sums()), nil
}

// WriteSums writes dir/SHA256SUMS and dir/MD5SUMS for the file name (a
// base name in dir), each in the format `sha256sum -c` and `md5sum -c`
// accept: "<hex>  <name>". Each file is written to a temporary name and
// renamed when complete.
func WriteSums(dir, name string, d hashing.Digests) error {
	for _, f := range []struct{ file, sum string }{{dist.SHA256SumsName, d.SHA256}, {dist.MD5SumsName, d.MD5}} {
		data, err := sums.Format(map[string]string{name: f.sum})
		if err != nil {
			return fmt.Errorf("writing checksums: %w", err)
		}
		if err := atomicfile.Write(filepath.Join(dir, f.file), data, 0o644); err != nil {
			return fmt.Errorf("writing checksums: %w", err)
		}
	}
	return nil
}
