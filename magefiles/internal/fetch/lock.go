package fetch

import (
	"errors"
	"fmt"
	"io"

	"github.com/novasphere/novasphere-iso/magefiles/internal/bases"
	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// Lock is a base's state in configs/bases.lock, as fetch uses it.
type Lock struct {
	// Path is the lock file, Name how messages call it
	// (configs/bases.lock).
	Path, Name string
	// Base is the base being fetched.
	Base bases.Base
	// Entry is its line; Locked is false when it has none.
	Entry  bases.Entry
	Locked bool
	// CI refuses an unlocked base (CI=true): a release never trusts a base
	// on first use unseen.
	CI bool
}

// LockFromConfig is the lock of c's base, or nil when BASE_ISO_URL or
// BASE_ISO_SHA256 replace it.
func LockFromConfig(c config.Config) *Lock {
	if c.BasePinned {
		return nil
	}
	return &Lock{Path: c.BaseLock.Path, Name: c.BaseLock.Name, Base: c.Base, Entry: c.BaseLocked, Locked: c.BaseIsLocked, CI: c.CI}
}

// withLock applies the lock to o: a locked base's digest becomes the pin;
// an unlocked one must be verified by a signed SHA256SUMS alone.
func (o Options) withLock() (Options, error) {
	l := o.Lock
	if l == nil {
		return o, nil
	}
	if l.Locked {
		if o.SHA256 != "" && o.SHA256 != l.Entry.SHA256 {
			return o, fmt.Errorf("the pin %s is not the digest %s locks", o.SHA256, l.Entry.Where(l.Name))
		}
		o.SHA256 = l.Entry.SHA256
		return o, nil
	}
	if l.CI {
		return o, fmt.Errorf("base %s has no line in %s and CI=true: a release never trusts a base on first use. "+
			"Fetch it once on a maintainer's machine (BASE=%s go run magefile.go fetch), review the line it adds to %s and commit it",
			l.Base.ID, l.Name, l.Base.ID, l.Name)
	}
	if o.KeyringPath == "" {
		return o, fmt.Errorf("base %s is not locked yet and no keyring is configured: its first fetch takes the digest from a signed SHA256SUMS only", l.Base.ID)
	}
	for _, loc := range o.Locations {
		if loc.SumsURL == "" {
			return o, fmt.Errorf("base %s is not locked yet and %s has no SHA256SUMS: its first fetch takes the digest from a signed SHA256SUMS only", l.Base.ID, loc.ISOURL)
		}
	}
	o.SHA256 = ""
	return o, nil
}

// record writes the digest of a base fetched for the first time to the
// lock file.
func (l *Lock) record(res Result, log io.Writer) error {
	if res.SignedBy == "" {
		return errors.New("refusing to lock " + l.Base.ID + ": its digest did not come from a signed SHA256SUMS")
	}
	e, err := bases.Record(l.Path, l.Name, l.Base, res.Digest.Encoded())
	if err != nil {
		return err
	}
	if log != nil {
		fmt.Fprintf(log, "fetch: locked %s at %s (from the SHA256SUMS signed by %s): review and commit it\n", l.Base.ID, e.Where(l.Name), res.SignedBy)
	}
	l.Entry, l.Locked = e, true
	return nil
}

// pinFrom says where the pin came from, for messages.
func (o Options) pinFrom() string {
	if l := o.Lock; l != nil && l.Locked {
		return l.Entry.Where(l.Name)
	}
	return "the pinned SHA-256 (BASE_ISO_SHA256)"
}
