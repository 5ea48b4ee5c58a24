package storage

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"sort"

	"golang.org/x/sys/unix"
)

// PropName names a dead property: an XML namespace and local name.
type PropName struct {
	Space string
	Local string
}

// Props are a resource's dead properties (RFC 4918 §4): name → the
// property element's content as self-contained XML (every namespace it uses
// declared inside it). The store keeps them opaque.
type Props map[PropName]string

// Where dead properties live. One extended attribute holds them all; when
// the file system refuses extended attributes (or the set is too large for
// them, ext4 allows one block), a hidden sidecar file next to the resource
// holds them instead. Both travel with MOVE and COPY and go with DELETE;
// both survive a PUT that replaces the content (properties belong to the
// resource, not to one version of its bytes).
const (
	propsXattr    = "user.davnas.props"
	sidecarPrefix = ReservedPrefix + "props."
)

// sidecarName is the hidden file holding the properties of name when
// extended attributes cannot.
func sidecarName(name string) string {
	if name == "." {
		return sidecarPrefix
	}
	return joinName(parent(name), sidecarPrefix+baseName(name))
}

type propRecord struct {
	Space string `json:"ns"`
	Local string `json:"n"`
	Value string `json:"v"`
}

func encodeProps(p Props) ([]byte, error) {
	recs := make([]propRecord, 0, len(p))
	for n, v := range p {
		recs = append(recs, propRecord{n.Space, n.Local, v})
	}
	sort.Slice(recs, func(i, j int) bool {
		if recs[i].Space != recs[j].Space {
			return recs[i].Space < recs[j].Space
		}
		return recs[i].Local < recs[j].Local
	})
	return json.Marshal(recs)
}

func decodeProps(b []byte) (Props, error) {
	var recs []propRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, err
	}
	p := make(Props, len(recs))
	for _, r := range recs {
		p[PropName{r.Space, r.Local}] = r.Value
	}
	return p, nil
}

// Props returns the dead properties of name (an empty set when it has none).
func (s *Store) Props(name string) (Props, error) {
	clean, err := resolve("props", name)
	if err != nil {
		return nil, err
	}
	return s.readProps(clean)
}

func (s *Store) readProps(clean string) (Props, error) {
	f, err := s.openMeta(clean)
	if err != nil {
		return nil, wrap("props", clean, err)
	}
	defer f.Close()
	if b, err := getXattr(f, propsXattr); err == nil {
		return decodeProps(b)
	} else if !errors.Is(err, unix.ENODATA) && !xattrUnsupported(err) {
		return nil, wrap("props", clean, err)
	}
	b, err := s.root.ReadFile(sidecarName(clean))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENAMETOOLONG) {
		// No sidecar; or the name is too long to have one (242 bytes and
		// more), and its properties, if any, are in the attribute.
		return Props{}, nil
	}
	if err != nil {
		return nil, wrap("props", clean, err)
	}
	return decodeProps(b)
}

// PatchProps changes the dead properties of name: fn edits the current set
// and the result is stored, or nothing is when fn fails. Patches of one
// name are serialized, so two PROPPATCHes never lose each other's changes.
func (s *Store) PatchProps(ctx context.Context, name string, fn func(Props) error) error {
	clean, err := resolve("proppatch", name)
	if err != nil {
		return err
	}
	if fi, err := s.root.Stat(clean); err != nil {
		return wrap("proppatch", clean, err)
	} else if !fi.IsDir() && !fi.Mode().IsRegular() {
		// Another program's FIFO or socket: it takes no attribute, and a
		// sidecar for it would outlive it.
		return pathErr("proppatch", clean, ErrNotRegular)
	}
	unlock, err := s.sh.commits.lock(ctx, "props:"+s.volumeName(clean))
	if err != nil {
		return pathErr("proppatch", clean, err)
	}
	defer unlock()
	p, err := s.readProps(clean)
	if err != nil {
		return err
	}
	if err := fn(p); err != nil {
		return err
	}
	return s.writeProps(clean, p)
}

// writeProps stores p as the dead properties of clean, in the extended
// attribute when it can and in the sidecar otherwise.
func (s *Store) writeProps(clean string, p Props) error {
	f, err := s.openMeta(clean)
	if err != nil {
		return wrap("proppatch", clean, err)
	}
	defer f.Close()
	side := sidecarName(clean)
	if len(p) == 0 {
		removeXattr(f, propsXattr)
		s.root.Remove(side)
		return nil
	}
	b, err := encodeProps(p)
	if err != nil {
		return pathErr("proppatch", clean, err)
	}
	if err := setXattr(f, propsXattr, b); err == nil {
		if rerr := s.root.Remove(side); rerr == nil {
			s.syncDir(parent(clean))
		}
		return nil
	} else if !xattrUnsupported(err) {
		return wrap("proppatch", clean, err)
	}
	if err := s.writeSmallFile(side, b); err != nil {
		return wrap("proppatch", clean, err)
	}
	removeXattr(f, propsXattr)
	return nil
}

// writeSmallFile replaces name with data atomically.
func (s *Store) writeSmallFile(name string, data []byte) error {
	tmp := joinName(parent(name), tempPrefix+randomSuffix())
	f, err := s.openNB(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && s.fsync {
		err = fdatasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.root.Rename(tmp, name)
	}
	if err != nil {
		s.root.Remove(tmp)
		return err
	}
	return s.syncDir(parent(name))
}

// openMeta opens a file or directory only to reach its metadata.
func (s *Store) openMeta(clean string) (*os.File, error) {
	return s.openNB(clean, os.O_RDONLY, 0)
}

// moveSidecar makes the sidecar properties follow a rename from → to (the
// extended attribute follows by itself): to's old sidecar goes, from's
// comes. Errors are ignored: no sidecar is the common case.
func (s *Store) moveSidecar(from, to string) {
	s.root.Remove(sidecarName(to))
	s.root.Rename(sidecarName(from), sidecarName(to))
}

// copyProps gives to the dead properties of from.
func (s *Store) copyProps(from, to string) error {
	p, err := s.readProps(from)
	if err != nil || len(p) == 0 {
		return err
	}
	return s.writeProps(to, p)
}

// copyXattrs copies davnas's extended attributes from src to dst: a replace
// (PUT over a file) keeps the resource's properties and checksum cache.
func copyXattrs(src, dst *os.File) {
	if b, err := getXattr(src, propsXattr); err == nil {
		setXattr(dst, propsXattr, b)
	}
}

func xattrUnsupported(err error) bool {
	return errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) ||
		errors.Is(err, unix.E2BIG) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.ERANGE) ||
		errors.Is(err, unix.EPERM)
}

func getXattr(f *os.File, attr string) ([]byte, error) {
	var out []byte
	err := control(f, "fgetxattr", func(fd int) error {
		buf := make([]byte, 4096)
		for {
			n, err := unix.Fgetxattr(fd, attr, buf)
			if errors.Is(err, unix.ERANGE) {
				sz, err := unix.Fgetxattr(fd, attr, nil)
				if err != nil {
					return err
				}
				buf = make([]byte, sz)
				continue
			}
			if err != nil {
				return err
			}
			out = buf[:n]
			return nil
		}
	})
	return out, err
}

func setXattr(f *os.File, attr string, data []byte) error {
	return control(f, "fsetxattr", func(fd int) error { return unix.Fsetxattr(fd, attr, data, 0) })
}

func removeXattr(f *os.File, attr string) error {
	return control(f, "fremovexattr", func(fd int) error { return unix.Fremovexattr(fd, attr) })
}
