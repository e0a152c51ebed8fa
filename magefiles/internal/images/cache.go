package images

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/novasphere/novasphere-iso/magefiles/internal/lock"
)

// Cache is the content-addressed store of image blobs (manifests, indexes,
// configs, layers) under CACHE_DIR/images/blobs/sha256/<hex>: the layout
// of an OCI image layout's blobs, so a blob is stored once for every image
// and every build, and never trusted without its digest.
type Cache struct {
	// Dir is the cache's directory (CACHE_DIR/images).
	Dir string
}

// Path is where the blob with digest d is kept.
func (c Cache) Path(d v1.Hash) string {
	return filepath.Join(c.Dir, "blobs", d.Algorithm, d.Hex)
}

// Has reports whether the blob d is cached whole: its size, when size is
// not negative, and its SHA-256 are checked. A blob that fails is removed
// (and reported by err, a *CorruptError, with what was found) so that it is
// fetched again.
func (c Cache) Has(d v1.Hash, size int64) (bool, error) {
	p := c.Path(d)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return false, fmt.Errorf("reading cached blob %s: %w", p, err)
	}
	got := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if got == d.String() && (size < 0 || n == size) {
		return true, nil
	}
	if err := os.Remove(p); err != nil {
		return false, err
	}
	return false, &CorruptError{Path: p, Want: d.String(), Got: got, Size: n}
}

// CorruptError says a cached blob did not match its digest.
type CorruptError struct {
	Path, Want, Got string
	Size            int64
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("cached blob %s is corrupt (%d bytes with %s, want %s): removed, fetching it again", e.Path, e.Size, e.Got, e.Want)
}

// Read returns a cached blob's content (manifests and configs: small).
func (c Cache) Read(d v1.Hash) ([]byte, error) {
	data, err := os.ReadFile(c.Path(d))
	if err != nil {
		return nil, err
	}
	if got := sha256.Sum256(data); "sha256:"+hex.EncodeToString(got[:]) != d.String() {
		return nil, fmt.Errorf("cached blob %s changed while in use", c.Path(d))
	}
	return data, nil
}

// Put stores r's content as blob d: written to a temporary name, checked
// against d and size (when not negative), then renamed. Two builds that
// store the same blob at once both succeed.
func (c Cache) Put(d v1.Hash, size int64, r io.Reader) error { return c.put(d, size, r, true) }

// PutVerified is Put for a reader that checks the digest itself and fails
// its last Read when the content does not match (go-containerregistry's
// blob readers do): the bytes are not hashed twice.
func (c Cache) PutVerified(d v1.Hash, size int64, r io.Reader) error { return c.put(d, size, r, false) }

func (c Cache) put(d v1.Hash, size int64, r io.Reader, hash bool) error {
	if d.Algorithm != "sha256" {
		return fmt.Errorf("blob %s: only sha256 digests are supported", d)
	}
	p := c.Path(d)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := lock.CreateTemp(p)
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	var w io.Writer = f
	if hash {
		w = io.MultiWriter(f, h)
	}
	n, err := io.Copy(w, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("storing blob %s: %w", d, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("blob %s arrived as %d bytes (want %d): the registry sent other content", d, n, size)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); hash && got != d.String() {
		return fmt.Errorf("blob %s arrived with %s: the registry sent other content", d, got)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

// PutBytes stores data as blob d.
func (c Cache) PutBytes(d v1.Hash, data []byte) error {
	return c.Put(d, int64(len(data)), bytes.NewReader(data))
}
