package verify

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/novasphere/novasphere-iso/magefiles/internal/units"
)

// An ISO 9660 volume descriptor set starts at logical block 16 (byte
// 32768), one 2048-byte descriptor per block, and ends with a terminator.
const (
	descriptorSize     = 2048
	firstDescriptorOff = 16 * descriptorSize
	maxVolDescriptors  = 64
	descPrimary        = 1
	descTerminator     = 255
)

// standardID is the "CD001" that every volume descriptor carries.
var standardID = []byte("CD001")

// errNotISO: no primary volume descriptor where ISO 9660 puts it.
var errNotISO = fmt.Errorf("not an ISO 9660 image: no primary volume descriptor at byte %d", firstDescriptorOff)

// volumeSize reads the size in bytes that the primary volume descriptor
// gives the volume: its volume space size times its logical block size
// (both stored in both byte orders; the little-endian halves are read).
func volumeSize(r io.ReaderAt) (int64, error) {
	d := make([]byte, descriptorSize)
	for i := int64(0); i < maxVolDescriptors; i++ {
		if _, err := r.ReadAt(d, firstDescriptorOff+i*descriptorSize); err != nil {
			return 0, errNotISO
		}
		if !bytes.Equal(d[1:6], standardID) {
			return 0, errNotISO
		}
		switch d[0] {
		case descPrimary:
			blocks := int64(binary.LittleEndian.Uint32(d[80:84]))
			blockSize := int64(binary.LittleEndian.Uint16(d[128:130]))
			if blocks == 0 || blockSize < 512 || blockSize&(blockSize-1) != 0 {
				return 0, fmt.Errorf("not an ISO 9660 image: its primary volume descriptor gives %d blocks of %d bytes", blocks, blockSize)
			}
			return blocks * blockSize, nil
		case descTerminator:
			return 0, errNotISO
		}
	}
	return 0, errNotISO
}

// checkVolumeOf compares the size the ISO at path says it has with the
// file's size. what names the image in messages ("the installer ISO").
// A file longer than its volume is fine: GPT partitions and the backup
// GPT are appended after the ISO 9660 volume.
func checkVolumeOf(path, what string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	want, err := volumeSize(f)
	if err != nil {
		return fmt.Errorf("%s %s is %w", what, path, err)
	}
	if have := st.Size(); have < want {
		return &TruncatedError{What: what, Path: path, VolumeSize: want, FileSize: have}
	}
	return nil
}

// ErrTruncated is wrapped by every *TruncatedError.
var ErrTruncated = errors.New("truncated ISO image")

// TruncatedError reports an ISO file shorter than its own volume.
type TruncatedError struct {
	What       string // "the installer ISO", "base ISO"
	Path       string
	VolumeSize int64 // bytes, from the primary volume descriptor
	FileSize   int64
}

// Error reads "the installer ISO dist/x.iso is truncated: its volume says
// 1593278464 bytes (1.5 GiB), the file has 98304 (96.0 KiB)".
func (e *TruncatedError) Error() string {
	return fmt.Sprintf("%s %s is truncated: its volume says %d bytes (%s), the file has %d (%s)",
		e.What, e.Path, e.VolumeSize, units.Bytes(e.VolumeSize), e.FileSize, units.Bytes(e.FileSize))
}

// Unwrap returns ErrTruncated.
func (e *TruncatedError) Unwrap() error { return ErrTruncated }

// checkVolume is verify's first check: the installer ISO is an ISO 9660
// image and holds its whole volume. Later checks would otherwise fail
// with tool errors ("listing the files of …: exit status 5") that hide
// the cause.
func checkVolume(path string) error {
	err := checkVolumeOf(path, "the installer ISO")
	if errors.Is(err, ErrTruncated) {
		return fmt.Errorf("%w; delete it and run pack again", err)
	}
	return err
}

// CheckBaseVolume checks the base ISO before anything reads it: "base ISO
// <path> is truncated: its volume says X bytes (…), the file has Y (…)"
// or "base ISO <path> is not an ISO 9660 image: no primary volume
// descriptor at byte 32768".
func CheckBaseVolume(path string) error {
	return checkVolumeOf(path, "base ISO")
}
