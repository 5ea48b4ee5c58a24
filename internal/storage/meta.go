package storage

import (
	"io/fs"
	"path"
	"strconv"
)

// ETag is the entity tag of a file, the same for every API and method (GET,
// HEAD, PUT's answer, PROPFIND's getetag). It is strong and changes on every
// write: inode (a replace is a new inode), modification time to the
// nanosecond and size. A weak or second-granular tag would let davfs2's
// If-Match pass over a second write within one second.
func ETag(fi fs.FileInfo) string {
	return string(AppendETag(make([]byte, 0, 48), fi))
}

// AppendETag appends the ETag of fi to b: a listing writes it straight
// into its buffer.
func AppendETag(b []byte, fi fs.FileInfo) []byte {
	b = append(b, '"')
	b = strconv.AppendUint(b, inode(fi), 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.ModTime().UnixNano(), 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.Size(), 16)
	return append(b, '"')
}

// ContentType is the media type of a file, decided from its name alone
// (sniffing would read every file a listing mentions) by davnas's own table
// (mediatypes.go), the same on every host.
func ContentType(name string) string {
	if t := typeByExt(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}
