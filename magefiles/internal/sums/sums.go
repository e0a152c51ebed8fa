// Package sums reads checksum lists in the format of coreutils' sha256sum and
// md5sum: "<hex digest>  <name>", or "<hex digest> *<name>" in binary mode.
// Ubuntu's SHA256SUMS and /md5sum.txt, our /novasphere/MANIFEST.sha256 and
// dist/SHA256SUMS and MD5SUMS all use it, so it is parsed in one place.
package sums

import (
	"fmt"
	"sort"
	"strings"
)

// Digest lengths in hex digits.
const (
	SHA256 = 64
	MD5    = 32
)

// Line is one non-empty line of a checksum list.
type Line struct {
	// N is the line number, from 1.
	N int
	// Sum is the digest in lowercase hex; Name the file name as written.
	Sum, Name string
	// Err says why the line is not "<digest>  <name>"; Sum and Name are
	// then empty.
	Err error
}

// ParseLine splits one line (a trailing "\r" is dropped) into its digest, in
// lowercase hex, and its file name. hexLen is the digest's length in hex
// digits (SHA256 or MD5). ok is false for any other shape.
func ParseLine(line string, hexLen int) (sum, name string, ok bool) {
	line = strings.TrimSuffix(line, "\r")
	if len(line) < hexLen+3 || line[hexLen] != ' ' || (line[hexLen+1] != ' ' && line[hexLen+1] != '*') {
		return "", "", false
	}
	sum = strings.ToLower(line[:hexLen])
	if !isHex(sum) {
		return "", "", false
	}
	return sum, line[hexLen+2:], true
}

// Lines parses every non-empty line of data. A malformed line is returned
// with Err set, so that a checker can report it and go on.
func Lines(data []byte, hexLen int) []Line {
	var out []Line
	for i, text := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(text) == "" {
			continue
		}
		sum, name, ok := ParseLine(text, hexLen)
		l := Line{N: i + 1, Sum: sum, Name: name}
		if !ok {
			l.Err = fmt.Errorf("not \"<%d hex digits>  <file>\": %q", hexLen, clip(strings.TrimSuffix(text, "\r")))
		}
		out = append(out, l)
	}
	return out
}

// Map returns file name -> digest for the well-formed lines of data; a
// name listed twice keeps its last digest.
func Map(data []byte, hexLen int) map[string]string {
	m := map[string]string{}
	for _, l := range Lines(data, hexLen) {
		if l.Err == nil {
			m[l.Name] = l.Sum
		}
	}
	return m
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// clip shortens a line for an error message.
func clip(s string) string {
	const maxShown = 120
	if len(s) > maxShown {
		return s[:maxShown] + "..."
	}
	return s
}

// Format writes a sha256sum/md5sum list of the files (name -> lowercase
// hex digest), one "<digest>  <name>" line each, sorted by name so the file
// does not depend on map order. Names must be plain base names.
func Format(files map[string]string) ([]byte, error) {
	names := make([]string, 0, len(files))
	for name := range files {
		if name == "" || strings.ContainsAny(name, "/\\\n\r") {
			return nil, fmt.Errorf("file name %q cannot be written in sha256sum's format; use a plain base name", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		b.WriteString(files[name] + "  " + name + "\n")
	}
	return []byte(b.String()), nil
}
