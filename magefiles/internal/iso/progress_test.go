package iso

import (
	"io"
	"strings"
	"testing"
)

// progressCapture is xorriso 1.5.4's output while writing a 600 MB ISO
// (native commands, as pack runs it).
const progressCapture = `xorriso 1.5.4 : RockRidge filesystem manipulator, libburnia project.

xorriso : NOTE : Loading ISO image tree from LBA 0
xorriso : UPDATE :      42 nodes read in 1 seconds
libisofs: NOTE : Found hidden El-Torito image for EFI.
Drive current: -outdev 'stdio:/tmp/out.iso'
Media summary: 0 sessions, 0 data blocks, 0 data, 73.0g free
xorriso : NOTE : Replayed 24 boot related commands
xorriso : UPDATE :       1 files added in 1 seconds
Added to ISO image: file '/big.bin'='/tmp/big.bin'
xorriso : UPDATE : Thank you for being patient. Working since 0 seconds.
xorriso : UPDATE : Writing:      14799s    4.7%   fifo   0%  buf  50%   23.0xD 
xorriso : UPDATE : Writing:      51686s   16.5%   fifo  60%  buf  50%   56.6xD 
xorriso : UPDATE : Writing:     304176s   97.0%   fifo  99%  buf  50%   47.8xD 
ISO image produced: 313565 sectors
Writing to 'stdio:/tmp/out.iso' completed successfully.
`

// TestProgressWriterPassesOnlyWritingUpdates feeds real xorriso output in
// small pieces (lines arrive split across writes) through the filter pack
// gives Progress.
func TestProgressWriterPassesOnlyWritingUpdates(t *testing.T) {
	var got strings.Builder
	w, flush := progressWriter(&got, "pack: ")
	for rest := progressCapture; rest != ""; {
		n := min(7, len(rest))
		if _, err := io.WriteString(w, rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	flush()
	want := `pack: Thank you for being patient. Working since 0 seconds.
pack: Writing:      14799s    4.7%   fifo   0%  buf  50%   23.0xD 
pack: Writing:      51686s   16.5%   fifo  60%  buf  50%   56.6xD 
pack: Writing:     304176s   97.0%   fifo  99%  buf  50%   47.8xD 
`
	if got.String() != want {
		t.Errorf("progress:\n%s\nwant:\n%s", got.String(), want)
	}
	// The mkisofs-style report of other xorriso runs passes too.
	got.Reset()
	w, flush = progressWriter(&got, "x: ")
	if _, err := io.WriteString(w, "xorriso : UPDATE :  45.51% done\nxorriso : UPDATE :       3 files added in 1 seconds\n"); err != nil {
		t.Fatal(err)
	}
	flush()
	if got.String() != "x: 45.51% done\n" {
		t.Errorf("mkisofs-style progress gave %q", got.String())
	}
}
