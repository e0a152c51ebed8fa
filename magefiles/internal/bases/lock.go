package bases

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/atomicfile"
)

// Entry is one line of bases.lock: "<id> <iso file name> sha256:<hex>".
type Entry struct {
	// ID is the base's id, ISO its ISO's file name.
	ID, ISO string
	// SHA256 is the ISO's digest, 64 lowercase hex characters.
	SHA256 string
	// Line is the entry's line in the file (0 for a new entry).
	Line int
}

// String is the entry as the file holds it.
func (e Entry) String() string { return e.ID + " " + e.ISO + " sha256:" + e.SHA256 }

// Where is the entry's place and text, for messages:
// "configs/bases.lock:3: ubuntu-22.04.3 ubuntu-...iso sha256:…".
func (e Entry) Where(name string) string { return fmt.Sprintf("%s:%d: %s", name, e.Line, e) }

// Lock is bases.lock as read.
type Lock struct {
	// Path is the file on disk; Name how messages call it.
	Path, Name string
	// Entries are the lines, in file order.
	Entries []Entry
}

// lockHeader starts a new lock file.
const lockHeader = "# SHA-256 of each base ISO, taken from Ubuntu's signed SHA256SUMS at its first fetch\n" +
	"# (like go.sum: committed and reviewed in the diff; never edit a line by hand).\n" +
	"# <base id> <ISO file name> sha256:<digest>\n"

// ReadLock reads the lock file at path; a missing file is an empty lock.
// Every malformed line is refused with name:line.
func ReadLock(path, name string) (Lock, error) {
	l := Lock{Path: path, Name: name}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return l, fmt.Errorf("reading %s: %w", name, err)
	}
	var errs []error
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := parseEntry(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", name, n, err))
			continue
		}
		if first, dup := seen[e.ID]; dup {
			errs = append(errs, fmt.Errorf("%s:%d: %s is locked twice (first at line %d)", name, n, e.ID, first))
			continue
		}
		e.Line = n
		seen[e.ID] = n
		l.Entries = append(l.Entries, e)
	}
	if len(errs) > 0 {
		return Lock{}, fmt.Errorf("%w\n%s is written by fetch; restore it with git checkout %s", errors.Join(errs...), name, name)
	}
	return l, nil
}

func parseEntry(line string) (Entry, error) {
	f := strings.Fields(line)
	if len(f) != 3 {
		return Entry{}, fmt.Errorf("%q: expected \"<base id> <ISO file name> sha256:<digest>\"", line)
	}
	hex, ok := strings.CutPrefix(f[2], "sha256:")
	if !ok || !IsSHA256(hex) {
		return Entry{}, fmt.Errorf("%q: %q is not sha256: and 64 lowercase hexadecimal characters", line, f[2])
	}
	return Entry{ID: f[0], ISO: f[1], SHA256: hex}, nil
}

// IsSHA256 reports whether s is 64 lowercase hex characters.
func IsSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// Find returns the entry of base b. An entry for b's id whose ISO name
// differs from b's is an error: the entry was made for another file.
func (l Lock) Find(b Base) (Entry, bool, error) {
	for _, e := range l.Entries {
		if e.ID != b.ID {
			continue
		}
		if e.ISO != b.ISO {
			return e, false, fmt.Errorf("%s locks %s, but %s names %s for %s: a base's ISO never changes; add a new base instead",
				e.Where(l.Name), e.ISO, File, b.ISO, b.ID)
		}
		return e, true, nil
	}
	return Entry{}, false, nil
}

// Record adds the entry for b with digest sha256 and writes the file
// atomically (a temporary file renamed over it), keeping every other line
// as it was. An entry of b with the same digest (another fetch recorded it
// meanwhile) is returned as it is; one with another digest is never
// replaced.
func Record(path, name string, b Base, sha256 string) (Entry, error) {
	if !IsSHA256(sha256) {
		return Entry{}, fmt.Errorf("refusing to lock %s: %q is not a SHA-256", b.ID, sha256)
	}
	l, err := ReadLock(path, name)
	if err != nil {
		return Entry{}, err
	}
	if e, ok, err := l.Find(b); err != nil || ok {
		if err == nil && e.SHA256 == sha256 {
			return e, nil
		}
		if err == nil {
			err = fmt.Errorf("%s already locks %s with another digest than sha256:%s", e.Where(name), b.ID, sha256)
		}
		return Entry{}, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = []byte(lockHeader), nil
	}
	if err != nil {
		return Entry{}, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		data = append(data, '\n')
	}
	e := Entry{ID: b.ID, ISO: b.ISO, SHA256: sha256, Line: bytes.Count(data, []byte("\n")) + 1}
	data = append(data, e.String()+"\n"...)
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return Entry{}, fmt.Errorf("writing %s: %w", name, err)
	}
	return e, nil
}
