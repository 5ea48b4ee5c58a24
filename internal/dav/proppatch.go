package dav

import (
	"encoding/xml"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/davnas/davnas/internal/storage"
)

// patchOp is one property of a PROPPATCH, in document order.
type patchOp struct {
	remove bool
	name   xml.Name
	value  string // self-contained XML
}

// parsePropertyUpdate reads a PROPPATCH body (RFC 4918 §14.19): set and
// remove instructions, which "MUST be processed in document order".
func parsePropertyUpdate(r io.Reader) ([]patchOp, error) {
	x := newXMLDecoder(r)
	root, err := x.root()
	if err != nil {
		return nil, err
	}
	if root.Name != (xml.Name{Space: nsDAV, Local: "propertyupdate"}) {
		return nil, errBadXML
	}
	var ops []patchOp
	err = x.children(func(c xml.StartElement) error {
		if c.Name.Space != nsDAV || (c.Name.Local != "set" && c.Name.Local != "remove") {
			return x.skip()
		}
		remove := c.Name.Local == "remove"
		return x.children(func(p xml.StartElement) error {
			if p.Name != (xml.Name{Space: nsDAV, Local: "prop"}) {
				return x.skip()
			}
			return x.children(func(e xml.StartElement) error {
				v, err := x.inner()
				if err != nil {
					return err
				}
				if remove {
					v = ""
				}
				ops = append(ops, patchOp{remove: remove, name: e.Name, value: v})
				return nil
			})
		})
	})
	if err != nil {
		return nil, err
	}
	if len(ops) == 0 {
		return nil, errBadXML
	}
	return ops, x.end()
}

// timeProps are properties whose value sets the file's modification time
// instead of being stored: DAV:getlastmodified (Finder, and what issue
// trackers ask for), DAV:lastmodified (rclone's SetModTime) and
// Win32LastModifiedTime (Windows Explorer after a copy).
var timeProps = map[xml.Name]bool{pLastModified: true, pLastModifiedOC: true, pWin32Modified: true}

// proppatch answers PROPPATCH (RFC 4918 §9.2). "Instructions MUST either all
// be executed or none executed": a protected property fails the whole
// request (403 for it, 424 for the others) and nothing is stored.
func (h *Handler) proppatch(w http.ResponseWriter, r *http.Request, clean string) error {
	if _, err := h.store.Stat(clean); err != nil {
		return err
	}
	ops, err := parsePropertyUpdate(r.Body)
	if err != nil {
		return badBody("invalid PROPPATCH body", err)
	}
	release, err := h.authorize(r, clean, target{clean: clean})
	if err != nil {
		return err
	}
	defer release()

	status := make([]int, len(ops))
	var mtime time.Time
	failed := false
	for i, op := range ops {
		switch {
		case timeProps[op.name] && !op.remove:
			t, ok := parseTimeValue(op.value)
			if !ok {
				// §9.2.1: 409 Conflict "the client has provided a value
				// whose semantics are not appropriate for the property".
				status[i], failed = http.StatusConflict, true
				continue
			}
			mtime = t
			status[i] = http.StatusOK
		case timeProps[op.name]:
			status[i] = http.StatusOK // removing a time: nothing to remove
		case op.name == pChecksums:
			// rclone sets oc:checksums with the time after an upload (as
			// ownCloud allows). davnas computes checksums from the bytes and
			// keeps no client-supplied ones: acknowledged, not stored.
			status[i] = http.StatusOK
		case computed[op.name]:
			status[i], failed = http.StatusForbidden, true
		default:
			status[i] = http.StatusOK
		}
	}
	if failed {
		for i, s := range status {
			if s == http.StatusOK {
				status[i] = http.StatusFailedDependency
			}
		}
	} else {
		err := h.store.PatchProps(r.Context(), clean, func(p storage.Props) error {
			for _, op := range ops {
				if timeProps[op.name] || op.name == pChecksums {
					continue
				}
				if op.remove {
					delete(p, storage.PropName(op.name))
				} else {
					p[storage.PropName(op.name)] = op.value
				}
			}
			return nil
		})
		if err == nil && !mtime.IsZero() {
			err = h.store.SetModTime(clean, mtime)
		}
		if err != nil {
			return err
		}
	}

	ms := newMultistatus(w)
	b := ms.begin(h.href(clean, strings.HasSuffix(r.URL.Path, "/") && clean != "."))
	for _, code := range []int{http.StatusOK, http.StatusConflict, http.StatusForbidden, http.StatusFailedDependency} {
		var names []xml.Name
		for i, op := range ops {
			if status[i] == code {
				names = append(names, op.name)
			}
		}
		if len(names) == 0 {
			continue
		}
		b.WriteString("<D:propstat><D:prop>")
		for _, n := range names {
			writeProp(b, n, "")
		}
		b.WriteString("</D:prop><D:status>HTTP/1.1 " + strconv.Itoa(code) + " " + statusText(code) + "</D:status>")
		if code == http.StatusForbidden {
			b.WriteString("<D:error><D:cannot-modify-protected-property/></D:error>")
		}
		b.WriteString("</D:propstat>")
	}
	if err := ms.end(); err != nil {
		return ms.abort(r, err)
	}
	return ms.close()
}

func statusText(code int) string {
	if code == http.StatusFailedDependency {
		return "Failed Dependency"
	}
	return http.StatusText(code)
}

// parseTimeValue reads a modification time as clients send it: RFC 1123
// (getlastmodified, Win32LastModifiedTime), RFC 3339, or Unix seconds.
func parseTimeValue(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if t, err := http.ParseTime(v); err == nil {
		return t, true
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC1123, time.RFC1123Z} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0), true
	}
	return time.Time{}, false
}
