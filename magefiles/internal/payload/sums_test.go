package payload

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestManifestPassesSha256sumCheck(t *testing.T) {
	root := writeTree(t, map[string]string{
		"charts/app/Chart.yaml": "name: app\n",
		"scripts/install.sh":    "#!/bin/sh\necho hi\n",
		"configs/Zeta.yaml":     "z\n",
		"configs/alpha.yaml":    "a\n",
		"VERSION":               "v1.0.0\n",
	})
	tree, err := Walk(root, Dirs)
	if err != nil {
		t.Fatal(err)
	}
	refs := append(Refs(tree.Files()), FileRef{Rel: VersionName, Path: filepath.Join(root, "VERSION")})
	digests, err := HashFiles(refs)
	if err != nil {
		t.Fatal(err)
	}
	manifest := Manifest(digests)
	lines := strings.Split(strings.TrimSuffix(string(manifest), "\n"), "\n")
	var paths []string
	for _, l := range lines {
		paths = append(paths, l[66:])
	}
	want := "VERSION charts/app/Chart.yaml configs/Zeta.yaml configs/alpha.yaml scripts/install.sh"
	if strings.Join(paths, " ") != want {
		t.Errorf("manifest order %q, want %q (byte order)", strings.Join(paths, " "), want)
	}
	if err := os.WriteFile(filepath.Join(root, ManifestName), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sha256sum", "--strict", "-c", ManifestName)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
	// And it notices a changed file.
	if err := os.WriteFile(filepath.Join(root, "configs/alpha.yaml"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command("sha256sum", "--quiet", "-c", ManifestName)
	cmd.Dir = root
	if err := cmd.Run(); err == nil {
		t.Error("sha256sum -c passed after a change")
	}
}

const baseMD5Sum = `3b4d9c1d5f6c2c2a1f1f0f2e5c7a8b9c  ./.disk/info
11111111111111111111111111111111  ./boot/grub/grub.cfg
22222222222222222222222222222222  ./boot/grub/loopback.cfg
33333333333333333333333333333333  ./casper/vmlinuz
44444444444444444444444444444444  ./boot/grub/i386-pc/eltorito.img
55555555555555555555555555555555  ./novasphere/OLD
66666666666666666666666666666666  ./pool/main/z/zlib.deb
77777777777777777777777777777777  ./Zfile
`

func TestRegenerateMD5Sum(t *testing.T) {
	out, err := RegenerateMD5Sum([]byte(baseMD5Sum), MD5Update{
		Replaced: map[string]string{
			"/boot/grub/grub.cfg": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			"/boot/grub/font.pf2": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", // not listed by the base: stays out
		},
		Added: map[string]string{
			"/novasphere/VERSION": "cccccccccccccccccccccccccccccccc",
			"/nocloud/user-data":  "dddddddddddddddddddddddddddddddd",
		},
		RemovedTrees: []string{"/novasphere", "/nocloud"},
		Excluded:     []string{"/md5sum.txt", "/boot/grub/i386-pc/eltorito.img", "/boot.catalog"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `3b4d9c1d5f6c2c2a1f1f0f2e5c7a8b9c  ./.disk/info
77777777777777777777777777777777  ./Zfile
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  ./boot/grub/grub.cfg
22222222222222222222222222222222  ./boot/grub/loopback.cfg
33333333333333333333333333333333  ./casper/vmlinuz
dddddddddddddddddddddddddddddddd  ./nocloud/user-data
cccccccccccccccccccccccccccccccc  ./novasphere/VERSION
66666666666666666666666666666666  ./pool/main/z/zlib.deb
`
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

// A base that is itself an installer lists /nocloud/user-data; the remaster
// removes /nocloud and maps a new one. Files given as Replaced there are new
// files of a new tree: they get a line although the old one is gone.
func TestRegenerateMD5SumListsReplacedFilesOfRemovedTrees(t *testing.T) {
	base := baseMD5Sum + "88888888888888888888888888888888  ./nocloud/user-data\n" +
		"99999999999999999999999999999999  ./nocloud/meta-data\n"
	out, err := RegenerateMD5Sum([]byte(base), MD5Update{
		Replaced: map[string]string{
			"/nocloud/user-data":  "dddddddddddddddddddddddddddddddd",
			"/nocloud/meta-data":  "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
			"/boot/grub/font.pf2": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", // outside the removed trees, unlisted: stays out
		},
		RemovedTrees: []string{"/novasphere", "/nocloud"},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines, err := ParseMD5Sum(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/nocloud/user-data": "dddddddddddddddddddddddddddddddd", "/nocloud/meta-data": "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"}
	for p, sum := range want {
		if lines[p] != sum {
			t.Errorf("%s: line %q, want %s in:\n%s", p, lines[p], sum, out)
		}
	}
	if _, ok := lines["/boot/grub/font.pf2"]; ok {
		t.Errorf("a replaced file the base does not list got a line:\n%s", out)
	}
	if _, ok := lines["/novasphere/OLD"]; ok {
		t.Errorf("a file of a removed tree kept its line:\n%s", out)
	}
}

func TestParseMD5SumRefusesGarbage(t *testing.T) {
	if _, err := ParseMD5Sum([]byte("not a checksum line\n")); err == nil {
		t.Fatal("garbage accepted")
	}
	m, err := ParseMD5Sum([]byte("0123456789ABCDEF0123456789abcdef *.disk/info\r\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m["/.disk/info"] != "0123456789abcdef0123456789abcdef" {
		t.Errorf("parsed %v", m)
	}
}
