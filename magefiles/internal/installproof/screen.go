package installproof

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"strconv"

	"github.com/novasphere/novasphere-iso/magefiles/internal/lock"
)

// readPPM decodes a binary PPM (P6, 8 bits a sample), the format of QEMU's
// screendump.
func readPPM(r io.Reader) (image.Image, error) {
	br := bufio.NewReader(r)
	var fields [4]int
	magic, err := ppmToken(br)
	if err != nil {
		return nil, err
	}
	if magic != "P6" {
		return nil, fmt.Errorf("not a binary PPM (magic %q, want P6)", magic)
	}
	for i := 1; i < 4; i++ {
		tok, err := ppmToken(br)
		if err != nil {
			return nil, err
		}
		if fields[i], err = strconv.Atoi(tok); err != nil || fields[i] <= 0 {
			return nil, fmt.Errorf("bad PPM header field %q", tok)
		}
	}
	w, h, maxval := fields[1], fields[2], fields[3]
	if maxval != 255 {
		return nil, fmt.Errorf("PPM with maximum value %d: only 255 is supported", maxval)
	}
	if w > 16384 || h > 16384 {
		return nil, fmt.Errorf("PPM of %dx%d is too large", w, h)
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	row := make([]byte, 3*w)
	for y := 0; y < h; y++ {
		if _, err := io.ReadFull(br, row); err != nil {
			return nil, fmt.Errorf("PPM pixel data ends at row %d of %d: %w", y, h, err)
		}
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{row[3*x], row[3*x+1], row[3*x+2], 255})
		}
	}
	return img, nil
}

// ppmToken reads one header token; the single whitespace byte after the
// last one is consumed, so pixel data follows.
func ppmToken(br *bufio.Reader) (string, error) {
	var tok []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			return "", fmt.Errorf("PPM header: %w", err)
		}
		switch {
		case c == '#' && len(tok) == 0:
			if _, err := br.ReadString('\n'); err != nil {
				return "", fmt.Errorf("PPM header: %w", err)
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if len(tok) > 0 {
				return string(tok), nil
			}
		default:
			tok = append(tok, c)
		}
	}
}

// ppmToPNG converts a PPM file into a PNG file, written under a temporary
// name and renamed when complete.
func ppmToPNG(ppm, out string) error {
	f, err := os.Open(ppm)
	if err != nil {
		return err
	}
	defer f.Close()
	img, err := readPPM(f)
	if err != nil {
		return fmt.Errorf("%s: %w", ppm, err)
	}
	tmp, err := lock.CreateTemp(out)
	if err != nil {
		return err
	}
	if err := png.Encode(tmp, img); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), out)
}
