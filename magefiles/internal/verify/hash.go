package verify

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// Digests are the checksums of one file.
type Digests struct {
	// SHA256 is the lowercase hex SHA-256.
	SHA256 string
	// MD5 is the lowercase hex MD5.
	MD5 string
	// Size is the number of bytes hashed.
	Size int64
}

const (
	// hashChunk is the read size. 1 MiB keeps the syscall count low without
	// hurting cache locality.
	hashChunk = 1 << 20
	// hashChunks in flight: the reader may run this far ahead of the slower
	// hash (MD5).
	hashChunks = 8
)

// HashFile computes the SHA-256 and MD5 of the file at path in one read: a
// reader goroutine fills buffers and both hashes consume each buffer
// concurrently on their own goroutines, so the time is that of the slower
// hash, not the sum of both.
func HashFile(ctx context.Context, path string) (Digests, error) {
	f, err := os.Open(path)
	if err != nil {
		return Digests{}, fmt.Errorf("hashing: %w", err)
	}
	defer f.Close()
	d, err := HashReader(ctx, f)
	if err != nil {
		return Digests{}, fmt.Errorf("hashing %s: %w", path, err)
	}
	return d, nil
}

// chunk is one buffer shared by both hashes; the last one to finish with it
// returns it to the pool.
type chunk struct {
	buf  []byte
	data []byte
	refs atomic.Int32
}

// HashReader computes SHA-256 and MD5 of everything r yields, reading it
// once. See HashFile.
func HashReader(ctx context.Context, r io.Reader) (Digests, error) {
	pool := make(chan *chunk, hashChunks)
	for range hashChunks {
		pool <- &chunk{buf: make([]byte, hashChunk)}
	}
	sha, md := sha256.New(), md5.New()
	shaIn, mdIn := make(chan *chunk, hashChunks), make(chan *chunk, hashChunks)
	var wg sync.WaitGroup
	for _, c := range []struct {
		h  hash.Hash
		in chan *chunk
	}{{sha, shaIn}, {md, mdIn}} {
		wg.Go(func() { consume(c.h, c.in, pool) })
	}
	size, err := produce(ctx, r, pool, shaIn, mdIn)
	close(shaIn)
	close(mdIn)
	wg.Wait()
	if err != nil {
		return Digests{}, err
	}
	return Digests{SHA256: hex.EncodeToString(sha.Sum(nil)), MD5: hex.EncodeToString(md.Sum(nil)), Size: size}, nil
}

// produce reads r into pooled chunks and hands each to both hashes.
func produce(ctx context.Context, r io.Reader, pool chan *chunk, outs ...chan *chunk) (int64, error) {
	var size int64
	for {
		if err := ctx.Err(); err != nil {
			return size, err
		}
		c := <-pool
		n, err := io.ReadFull(r, c.buf)
		if n > 0 {
			size += int64(n)
			c.data = c.buf[:n]
			c.refs.Store(int32(len(outs)))
			for _, o := range outs {
				o <- c
			}
		} else {
			pool <- c
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return size, nil
		default:
			return size, err
		}
	}
}

func consume(h hash.Hash, in <-chan *chunk, pool chan<- *chunk) {
	for c := range in {
		h.Write(c.data)
		if c.refs.Add(-1) == 0 {
			pool <- c
		}
	}
}
