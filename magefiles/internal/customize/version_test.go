package customize

import (
	"errors"
	"strings"
	"testing"
)

func TestVolumeID(t *testing.T) {
	for _, v := range []string{"20261127", "v1.2.3", "v10.20.30-rc.4"} {
		id, err := VolumeID(v)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if id != "NOVASPHERE "+v || len(id) > 32 {
			t.Errorf("%s: volume id %q", v, id)
		}
	}
}

func TestVolumeIDRefusesBadVersions(t *testing.T) {
	for _, v := range []string{"", "1.2.3", "v1.2", "2026-11-27", "20261399", "v1.2.3-beta", "latest", "v1000000.2000000.3000000-rc.1"} {
		_, err := VolumeID(v)
		if !errors.Is(err, ErrBadVersion) {
			t.Errorf("%q: got %v, want ErrBadVersion", v, err)
			continue
		}
		if !strings.Contains(err.Error(), v) {
			t.Errorf("%q: error does not name the version: %v", v, err)
		}
	}
}

func TestVolumeIDTooLongNamesLimit(t *testing.T) {
	_, err := VolumeID("v1000000.2000000.3000000-rc.1")
	if err == nil || !strings.Contains(err.Error(), "32") {
		t.Fatalf("error should name the 32-character limit: %v", err)
	}
}

func TestVersionFile(t *testing.T) {
	if got := string(VersionFile("v1.0.0")); got != "v1.0.0\n" {
		t.Errorf("got %q", got)
	}
}

func TestDiskInfo(t *testing.T) {
	base := []byte(`Ubuntu-Server 22.04.3 LTS "Jammy Jellyfish" - Release amd64 (20230807.2)`)
	once := DiskInfo(base, "v1.0.0")
	want := string(base) + "\nNovaSphere installer v1.0.0"
	if string(once) != want {
		t.Fatalf("got %q, want %q", once, want)
	}
	if again := DiskInfo(once, "v1.0.1"); string(again) != string(base)+"\nNovaSphere installer v1.0.1" {
		t.Errorf("re-applying gave %q", again)
	}
	if withNL := DiskInfo(append(base, '\n'), "v1.0.0"); string(withNL) != want+"\n" {
		t.Errorf("trailing newline not kept: %q", withNL)
	}
}
