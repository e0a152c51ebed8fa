package payload

import (
	"io/fs"
	"syscall"
	"time"
)

// StatOf reads the inode number, link count and status change time (ctime)
// of fi, which must come from os.Stat or os.Lstat.
func StatOf(fi fs.FileInfo) Stat {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Stat{Links: 1}
	}
	return Stat{
		Inode:      st.Ino,
		Links:      uint64(st.Nlink), //nolint:unconvert // Nlink is uint32 on some architectures
		ChangeTime: time.Unix(st.Ctim.Unix()),
	}
}
