// Package storage owns the volume: it is the only package that touches the
// files under the storage root.
//
// Every request name, from the /file/ API and from WebDAV alike, is turned
// into a place on disk by one function, [Clean], and every operation goes
// through an [os.Root], so neither "..", absolute names nor symbolic links can
// reach outside the root. On top of that confined root the package provides
// the guarantees the HTTP layers promise: atomic create-or-replace
// ([Store.Create], temp file + rename), serialized appends that roll back when
// the body is cut short ([Store.Append]), moves, deletes, listings and line
// counts, all streaming through pooled buffers.
//
// The package knows nothing of HTTP. Errors are *fs.PathError values whose
// Path is the root-relative name (never a server path) and whose Err is one of
// the sentinels in errors.go, so callers map them with errors.Is and code that
// uses os.IsNotExist/os.IsExist (golang.org/x/net/webdav) sees what it expects.
package storage
