package verify

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/novasphere/novasphere-iso/magefiles/internal/hashing"
)

// inputs are what the checks share: the ISO and the base ISO, each listed by
// xorriso once, on first use.
type inputs struct {
	o       Options
	iso     *lazyImage
	base    *lazyImage
	digests *hashing.Digests // set by checkChecksums
}

func newInputs(ctx context.Context, o Options) *inputs {
	return &inputs{
		o:   o,
		iso: &lazyImage{open: func() (*isoImage, error) { return openISO(ctx, o.ISO) }},
		base: &lazyImage{open: func() (*isoImage, error) {
			if o.BaseISO == "" {
				return nil, errors.New("no base ISO given to compare the boot equipment with")
			}
			im, err := openISO(ctx, o.BaseISO)
			if err != nil {
				return nil, fmt.Errorf("base ISO: %w", err)
			}
			return im, nil
		}},
	}
}

// close closes whichever images were opened. Call it after every check.
func (in *inputs) close() {
	in.iso.close()
	in.base.close()
}

// lazyImage opens an image on first use and shares it.
type lazyImage struct {
	once sync.Once
	open func() (*isoImage, error)
	im   *isoImage
	err  error
}

func (l *lazyImage) get() (*isoImage, error) {
	l.once.Do(func() { l.im, l.err = l.open() })
	return l.im, l.err
}

func (l *lazyImage) close() {
	if l.im != nil {
		l.im.Close()
	}
}
