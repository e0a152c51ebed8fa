package verify

import (
	"context"
	"fmt"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"os"
	"path/filepath"
	"strings"
)

// checkChecksums hashes the ISO (SHA-256 and MD5 from one read) and writes
// SHA256SUMS and MD5SUMS beside the report.
func checkChecksums(ctx context.Context, in *inputs) (string, error) {
	d, err := HashFile(ctx, in.o.ISO)
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
func WriteSums(dir, name string, d Digests) error {
	if name == "" || strings.ContainsAny(name, "/\\\n\r") {
		return fmt.Errorf("writing checksums: file name %q cannot be written in sha256sum's format; use a plain base name", name)
	}
	for _, f := range []struct{ file, sum string }{{dist.SHA256SumsName, d.SHA256}, {dist.MD5SumsName, d.MD5}} {
		line := f.sum + "  " + name + "\n"
		if err := writeFileAtomic(filepath.Join(dir, f.file), []byte(line)); err != nil {
			return fmt.Errorf("writing checksums: %w", err)
		}
	}
	return nil
}

// writeFileAtomic writes data to a temporary file in path's directory and
// renames it over path, so a reader sees the old file or the whole new one.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
