package debcheck

import (
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/xi2/xz"
	"pault.ag/go/debian/deb"
)

// Decompressors are pooled: an xz stream from dpkg-deb's default preset
// asks for an 8 MiB dictionary, and allocating (and zeroing) it for each
// control.tar and data.tar made reading 200 small .debs take a second.
// pault.ag/go/debian's own zstd reader is never closed, which leaves the
// decoder's goroutines running; these are single-threaded and reused.
var (
	xzReaders   sync.Pool // *xz.Reader
	zstdReaders sync.Pool // *zstd.Decoder
)

// decompress opens an ar member named "*.tar[.gz|.xz|.zst|.bz2|.lzma]".
// Close returns pooled decoders; it does not close r.
func decompress(name string, r io.Reader) (io.ReadCloser, error) {
	switch ext := path.Ext(name); ext {
	case ".tar":
		return io.NopCloser(r), nil
	case ".gz":
		return gzip.NewReader(r)
	case ".xz":
		return openXZ(r)
	case ".zst":
		return openZstd(r)
	case ".bz2", ".lzma":
		return deb.DecompressorFor(ext)(r)
	default:
		return nil, fmt.Errorf("unknown compression %q", ext)
	}
}

type pooledXZ struct{ *xz.Reader }

func (p pooledXZ) Close() error {
	xzReaders.Put(p.Reader)
	return nil
}

func openXZ(r io.Reader) (io.ReadCloser, error) {
	if z, ok := xzReaders.Get().(*xz.Reader); ok {
		if err := z.Reset(r); err != nil {
			xzReaders.Put(z)
			return nil, err
		}
		return pooledXZ{z}, nil
	}
	z, err := xz.NewReader(r, 0)
	if err != nil {
		return nil, err
	}
	return pooledXZ{z}, nil
}

type pooledZstd struct{ *zstd.Decoder }

func (p pooledZstd) Read(b []byte) (int, error) { return p.Decoder.Read(b) }

func (p pooledZstd) Close() error {
	if err := p.Reset(nil); err == nil {
		zstdReaders.Put(p.Decoder)
	} else {
		p.Decoder.Close()
	}
	return nil
}

func openZstd(r io.Reader) (io.ReadCloser, error) {
	d, ok := zstdReaders.Get().(*zstd.Decoder)
	if !ok {
		var err error
		if d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1)); err != nil {
			return nil, err
		}
	}
	if err := d.Reset(r); err != nil {
		d.Close()
		return nil, err
	}
	return pooledZstd{d}, nil
}
