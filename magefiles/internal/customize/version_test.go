package customize

import "testing"

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
