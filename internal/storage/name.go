package storage

import (
	"path"
	"strings"
)

const (
	// ReservedPrefix starts every name the server keeps for itself (temporary
	// upload files today). Such names are refused in requests and hidden from
	// listings, so a client can neither see nor touch an upload in progress.
	ReservedPrefix = ".davnas-"

	// tempPrefix names the hidden files uploads are written to before they are
	// renamed over their target.
	tempPrefix = ReservedPrefix + "tmp-"

	// MaxNameBytes is the longest single path element (Linux NAME_MAX).
	MaxNameBytes = 255
	// MaxPathBytes is the longest name accepted (Linux PATH_MAX).
	MaxPathBytes = 4096
)

// Clean turns a request name (slash separated, already percent-decoded) into
// the root-relative name used on disk, or fails with ErrInvalidName or
// ErrReserved. It is the one function that decides which names are allowed:
//
//   - leading, trailing and repeated slashes and "." elements are dropped;
//   - an empty name (or "/") is the root itself and comes back as ".";
//   - ".." elements are refused rather than interpreted, so a name never means
//     something other than what it says (hacdias/webdav's /public/../secret);
//   - NUL bytes, elements over 255 bytes and names over 4096 bytes are refused;
//   - elements starting with ReservedPrefix are refused (ErrReserved).
//
// Backslashes are ordinary characters on Linux and are kept as they are.
func Clean(name string) (string, error) {
	if len(name) > MaxPathBytes {
		return "", ErrInvalidName
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", ErrInvalidName
	}
	if name == "" || name == "/" {
		return ".", nil
	}
	// Most names are clean already: checked in place, they come back as
	// they are, without building a copy.
	asIs := true
	for elem := range strings.SplitSeq(name, "/") {
		switch {
		case elem == "" || elem == ".":
			asIs = false
		case elem == "..":
			return "", ErrInvalidName
		case len(elem) > MaxNameBytes:
			return "", ErrInvalidName
		case strings.HasPrefix(elem, ReservedPrefix):
			return "", ErrReserved
		}
	}
	if asIs {
		return name, nil
	}
	// Every element passed the checks above: only the empty and "."
	// ones are left out.
	var b strings.Builder
	for elem := range strings.SplitSeq(name, "/") {
		if elem == "" || elem == "." {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(elem)
	}
	if b.Len() == 0 {
		return ".", nil
	}
	return b.String(), nil
}

// IsReserved reports whether a directory entry's base name belongs to the
// server (a temporary upload file) and must be hidden from listings.
func IsReserved(base string) bool {
	return strings.HasPrefix(base, ReservedPrefix)
}

// parent returns the directory holding the cleaned name.
func parent(name string) string {
	return path.Dir(name)
}

// joinName joins a cleaned directory and a base name.
func joinName(dir, base string) string {
	if dir == "." {
		return base
	}
	return dir + "/" + base
}

// baseName is the last element of a cleaned name.
func baseName(name string) string {
	return path.Base(name)
}

// IsTemp reports whether a base name is a temporary upload or copy (as
// opposed to the server's other hidden entries: the append journal and
// property sidecars, which persist by design).
func IsTemp(base string) bool {
	return strings.HasPrefix(base, tempPrefix)
}
