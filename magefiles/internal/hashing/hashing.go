// Package hashing computes the checksums of a file in one read: its SHA-256
// and MD5 and, when asked, the SHA-256 of each fixed-size part of it (the
// parts a release attaches instead of an ISO too large for one GitHub
// asset). A reader goroutine fills pooled buffers and every hash consumes
// each buffer on its own goroutine, so the time is that of the slowest
// hash, not the sum of all of them.
package hashing

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
	// Parts are the lowercase hex SHA-256 of each part, in order, when a
	// part size was given: every part has that size but the last, which
	// may be shorter. Nil without a part size or for empty input.
	Parts []string
}

const (
	// chunkSize is the read size. 1 MiB keeps the syscall count low without
	// hurting cache locality.
	chunkSize = 1 << 20
	// chunksInFlight bounds how far the reader may run ahead of the slowest
	// hash (MD5).
	chunksInFlight = 8
)

// File hashes the file at path; see Reader. partSize > 0 also computes
// the SHA-256 of each partSize section (Digests.Parts).
func File(ctx context.Context, path string, partSize int64) (Digests, error) {
	f, err := os.Open(path)
	if err != nil {
		return Digests{}, fmt.Errorf("hashing: %w", err)
	}
	defer f.Close()
	d, err := Reader(ctx, f, partSize)
	if err != nil {
		return Digests{}, fmt.Errorf("hashing %s: %w", path, err)
	}
	return d, nil
}

// Reader computes the SHA-256 and MD5 of everything r yields, reading it
// once; partSize > 0 also computes the SHA-256 of each partSize section.
// It stops with ctx's error when ctx is done.
func Reader(ctx context.Context, r io.Reader, partSize int64) (Digests, error) {
	if partSize < 0 {
		return Digests{}, fmt.Errorf("part size %d is negative", partSize)
	}
	sha, md := sha256.New(), md5.New()
	consumers := []io.Writer{sha, md}
	var parts *partHasher
	if partSize > 0 {
		parts = &partHasher{size: partSize}
		consumers = append(consumers, parts)
	}
	pool := make(chan *chunk, chunksInFlight)
	for range chunksInFlight {
		pool <- &chunk{buf: make([]byte, chunkSize)}
	}
	ins := make([]chan *chunk, len(consumers))
	var wg sync.WaitGroup
	for i, w := range consumers {
		ins[i] = make(chan *chunk, chunksInFlight)
		wg.Go(func() { consume(w, ins[i], pool) })
	}
	size, err := produce(ctx, r, pool, ins)
	for _, in := range ins {
		close(in)
	}
	wg.Wait()
	if err != nil {
		return Digests{}, err
	}
	d := Digests{SHA256: hex.EncodeToString(sha.Sum(nil)), MD5: hex.EncodeToString(md.Sum(nil)), Size: size}
	if parts != nil {
		d.Parts = parts.finish()
	}
	return d, nil
}

// chunk is one buffer shared by every hash; the last one to finish with it
// returns it to the pool.
type chunk struct {
	buf  []byte
	data []byte
	refs atomic.Int32
}

// produce reads r into pooled chunks and hands each to every consumer.
func produce(ctx context.Context, r io.Reader, pool chan *chunk, outs []chan *chunk) (int64, error) {
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

// consume writes every chunk to w and hands it back to the pool once
// every consumer is done with it.
func consume(w io.Writer, in <-chan *chunk, pool chan<- *chunk) {
	for c := range in {
		_, _ = w.Write(c.data) // a hash.Hash never returns an error
		if c.refs.Add(-1) == 0 {
			pool <- c
		}
	}
}

// partHasher is a writer that hashes each size bytes with a fresh SHA-256.
type partHasher struct {
	size   int64
	cur    hash.Hash
	inPart int64
	sums   []string
}

// Write hashes p, starting a new part at every size boundary. It never
// fails.
func (p *partHasher) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		if p.cur == nil {
			p.cur, p.inPart = sha256.New(), 0
		}
		take := min(int64(len(b)), p.size-p.inPart)
		p.cur.Write(b[:take])
		p.inPart += take
		b = b[take:]
		if p.inPart == p.size {
			p.sums = append(p.sums, hex.EncodeToString(p.cur.Sum(nil)))
			p.cur = nil
		}
	}
	return n, nil
}

// finish closes the last, shorter part and returns every part's digest.
func (p *partHasher) finish() []string {
	if p.cur != nil {
		p.sums = append(p.sums, hex.EncodeToString(p.cur.Sum(nil)))
		p.cur = nil
	}
	return p.sums
}
