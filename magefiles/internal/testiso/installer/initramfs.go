package main

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// The installed system boots the ISO's kernel and initramfs (standing in
// for the kernel package curtin installs). For a root on LVM its initramfs
// also needs LVM, as initramfs-tools' lvm2 hook gives Ubuntu's: the
// installer appends a second cpio archive to the ISO's initramfs holding the
// installed system's own /sbin/lvm with every shared library it loads and
// its lvm.conf (what the hook's copy_exec does), and the initramfs' /init
// activates the root LV with it ("lvm vgchange -aay --sysinit", the lvm2
// local-top script's call). Running update-initramfs in the target under
// TCG would cost far more than this copy; the kernel unpacks the two
// archives one after the other.

// initramfsLibDirs are where the dynamic loader of a Debian amd64 system
// looks for libraries without /etc/ld.so.cache.
var initramfsLibDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/lib", "/usr/lib"}

// lvmInitramfsFiles are the installed system's files the initramfs gets:
// lvm and its libraries and loader (paths inside root).
func lvmInitramfsFiles(root string) ([]string, error) {
	files := []string{"/sbin/lvm"}
	if _, err := os.Stat(resolveIn(root, "/etc/lvm/lvm.conf", 0)); err == nil {
		files = append(files, "/etc/lvm/lvm.conf")
	}
	libs, err := elfClosure(root, "/sbin/lvm")
	if err != nil {
		return nil, err
	}
	return append(files, libs...), nil
}

// elfClosure lists the loader and every library an executable inside root
// needs, directly or through other libraries (DT_NEEDED), as found in
// initramfsLibDirs.
func elfClosure(root, exe string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	var visit func(p string) error
	visit = func(p string) error {
		f, err := elf.Open(resolveIn(root, p, 0))
		if err != nil {
			return fmt.Errorf("%s in %s: %w", p, root, err)
		}
		defer f.Close()
		for _, prog := range f.Progs {
			if prog.Type != elf.PT_INTERP {
				continue
			}
			data, err := io.ReadAll(prog.Open())
			if err != nil {
				return err
			}
			interp := strings.TrimRight(string(data), "\x00")
			if !seen[interp] {
				seen[interp] = true
				out = append(out, interp)
			}
		}
		needed, err := f.ImportedLibraries()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, lib := range needed {
			found := ""
			for _, dir := range initramfsLibDirs {
				if _, err := os.Stat(resolveIn(root, path.Join(dir, lib), 0)); err == nil {
					found = path.Join(dir, lib)
					break
				}
			}
			if found == "" {
				return fmt.Errorf("%s needs %s, which is in none of %s under %s", p, lib, strings.Join(initramfsLibDirs, " "), root)
			}
			if seen[lib] {
				continue
			}
			seen[lib] = true
			out = append(out, found)
			if err := visit(found); err != nil {
				return err
			}
		}
		return nil
	}
	if err := visit(exe); err != nil {
		return nil, err
	}
	return out, nil
}

// cpioArchive writes the files (paths inside root, their contents read
// through symbolic links) as a newc cpio archive with their parent
// directories, owned by root, time 0, in a stable order.
func cpioArchive(w io.Writer, root string, files []string) error {
	dirs := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f); d != "/" && d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var dirList []string
	for d := range dirs {
		dirList = append(dirList, d)
	}
	sort.Strings(dirList) // parents before children
	cw := &cpioWriter{w: w, ino: 1}
	for _, d := range dirList {
		if err := cw.entry(strings.TrimPrefix(d, "/"), 0o040755, nil); err != nil {
			return err
		}
	}
	sorted := append([]string(nil), files...)
	sort.Strings(sorted)
	for _, f := range sorted {
		host := resolveIn(root, f, 0)
		data, err := os.ReadFile(host)
		if err != nil {
			return err
		}
		st, err := os.Stat(host)
		if err != nil {
			return err
		}
		if err := cw.entry(strings.TrimPrefix(f, "/"), 0o100000|uint32(st.Mode().Perm()), data); err != nil {
			return err
		}
	}
	return cw.entry("TRAILER!!!", 0, nil)
}

type cpioWriter struct {
	w   io.Writer
	ino uint32
	n   int64
}

func (c *cpioWriter) write(p []byte) error {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return err
}

func (c *cpioWriter) pad() error {
	if r := c.n % 4; r != 0 {
		return c.write(make([]byte, 4-r))
	}
	return nil
}

// entry writes one newc header ("070701", thirteen 8-digit hex fields),
// the name with its NUL, and the data, each padded to 4 bytes.
func (c *cpioWriter) entry(name string, mode uint32, data []byte) error {
	nlink := uint32(1)
	if mode&0o040000 != 0 {
		nlink = 2
	}
	ino := c.ino
	if name == "TRAILER!!!" {
		ino = 0
	}
	c.ino++
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	if err := c.write([]byte(hdr + name + "\x00")); err != nil {
		return err
	}
	if err := c.pad(); err != nil {
		return err
	}
	if err := c.write(data); err != nil {
		return err
	}
	return c.pad()
}

// installedInitramfs is the ISO's initramfs followed, at a 512-byte
// boundary (the kernel wants the next archive 4-byte aligned), by the
// archive of files from root.
func installedInitramfs(isoInitrd []byte, root string, files []string) ([]byte, error) {
	var b bytes.Buffer
	b.Write(isoInitrd)
	if r := b.Len() % 512; r != 0 {
		b.Write(make([]byte, 512-r))
	}
	if err := cpioArchive(&b, root, files); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
