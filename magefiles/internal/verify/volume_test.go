package verify

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// smallISO makes a real ISO 9660 image of about 1.3 MiB with xorriso and
// returns its path and the size of its volume as xorriso reports it
// ("Media summary: 1 session, N data blocks").
func smallISO(t *testing.T) (string, int64) {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1000000)
	_, _ = rand.Read(data)
	if err := os.WriteFile(filepath.Join(tree, "payload"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(dir, "small.iso")
	if _, err := tool.Command("xorriso", "-as", "mkisofs", "-V", "SMALL", "-o", iso, tree).Output(t.Context()); err != nil {
		t.Fatalf("xorriso: %v", err)
	}
	toc, err := tool.Command("xorriso", "-indev", iso, "-toc").Output(t.Context())
	if err != nil {
		t.Fatalf("xorriso -toc: %v", err)
	}
	m := regexp.MustCompile(`Media summary: 1 session, (\d+) data blocks`).FindSubmatch(toc)
	if m == nil {
		t.Fatalf("no media summary in xorriso -toc:\n%s", toc)
	}
	blocks, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return iso, blocks * 2048
}

func TestCheckVolumeFindsATruncatedISO(t *testing.T) {
	t.Parallel()
	iso, volume := smallISO(t)
	if err := checkVolume(iso); err != nil {
		t.Fatalf("complete ISO: %v", err)
	}
	for _, keep := range []int64{volume - 1, volume / 2, 98304} {
		if err := os.Truncate(iso, keep); err != nil {
			t.Fatal(err)
		}
		err := checkVolume(iso)
		want := fmt.Sprintf("the installer ISO %s is truncated: its volume says %d bytes", iso, volume)
		var te *TruncatedError
		if !errors.As(err, &te) || !errors.Is(err, ErrTruncated) || !strings.HasPrefix(err.Error(), want) ||
			!strings.Contains(err.Error(), fmt.Sprintf("the file has %d (", keep)) || !strings.HasSuffix(err.Error(), "; delete it and run pack again") {
			t.Errorf("cut to %d bytes: got %v", keep, err)
		}
		if err := CheckBaseVolume(iso); err == nil || !strings.HasPrefix(err.Error(), "base ISO "+iso+" is truncated: its volume says ") {
			t.Errorf("base, cut to %d bytes: got %v", keep, err)
		}
	}
	err := checkVolume(iso)
	t.Logf("message: %v", err)
}

func TestCheckVolumeAcceptsDataAfterTheVolume(t *testing.T) {
	t.Parallel()
	iso, volume := smallISO(t)
	// GPT partitions and the backup GPT lie after the volume.
	if err := os.Truncate(iso, volume+4<<20); err != nil {
		t.Fatal(err)
	}
	if err := checkVolume(iso); err != nil {
		t.Errorf("ISO with data after its volume: %v", err)
	}
}

func TestCheckVolumeRefusesWhatIsNotAnISO(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	iso, _ := smallISO(t)
	for name, size := range map[string]int64{"empty": 0, "short": 1000, "head only": 32768, "zeros": 1 << 20} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		err := checkVolume(path)
		want := "the installer ISO " + path + " is not an ISO 9660 image: no primary volume descriptor at byte 32768"
		if err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %s", name, err, want)
		}
	}
	// An ISO cut inside its volume descriptors is not readable as one.
	if err := os.Truncate(iso, 32768+1000); err != nil {
		t.Fatal(err)
	}
	if err := CheckBaseVolume(iso); err == nil || !strings.Contains(err.Error(), "is not an ISO 9660 image") {
		t.Errorf("cut in the descriptors: %v", err)
	}
}

// TestCheckVolumeAcceptsTheUbuntuLayout reads the test ISO with Ubuntu's
// boot layout (EFI partition appended as GPT partition 2), whole and cut.
func TestCheckVolumeAcceptsTheUbuntuLayout(t *testing.T) {
	base := testiso.Shared(t)
	if err := CheckBaseVolume(base.ISO); err != nil {
		t.Fatalf("test ISO: %v", err)
	}
	f, err := os.Open(base.ISO)
	if err != nil {
		t.Fatal(err)
	}
	volume, err := volumeSize(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.iso")
	data, err := os.ReadFile(base.ISO)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cut, data[:volume/3], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckBaseVolume(cut); !errors.Is(err, ErrTruncated) {
		t.Errorf("a third of the test ISO: %v", err)
	}
}
