package dav

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/davnas/davnas/internal/httperr"
	"github.com/davnas/davnas/internal/locking"
	"github.com/davnas/davnas/internal/storage"
)

// Lock timeouts. Clients refresh their locks (Finder every few minutes,
// Windows and davfs2 before expiry); a lock nobody refreshes must not
// block a file for ever, since only its token can remove it.
const (
	defaultLockTimeout = time.Hour
	maxLockTimeout     = 24 * time.Hour
)

// maxLockOwner bounds a lock's owner, as stored (self-contained XML).
const maxLockOwner = 4 << 10

// lockInfo is a parsed LOCK body.
type lockInfo struct {
	shared bool
	owner  string // self-contained XML content of <owner>
}

func parseLockInfo(r io.Reader) (lockInfo, error) {
	x := newXMLDecoder(r)
	root, err := x.root()
	if err != nil {
		return lockInfo{}, err
	}
	if root.Name != (xml.Name{Space: nsDAV, Local: "lockinfo"}) {
		return lockInfo{}, errBadXML
	}
	var li lockInfo
	scope, write := false, false
	err = x.children(func(c xml.StartElement) error {
		if c.Name.Space != nsDAV {
			return x.skip()
		}
		switch c.Name.Local {
		case "lockscope":
			return x.children(func(s xml.StartElement) error {
				if s.Name.Space == nsDAV && (s.Name.Local == "exclusive" || s.Name.Local == "shared") {
					scope, li.shared = true, s.Name.Local == "shared"
				}
				return x.skip()
			})
		case "locktype":
			return x.children(func(t xml.StartElement) error {
				if t.Name == (xml.Name{Space: nsDAV, Local: "write"}) {
					write = true
				}
				return x.skip()
			})
		case "owner":
			v, err := x.inner()
			li.owner = v
			return err
		}
		return x.skip()
	})
	if err != nil {
		return lockInfo{}, err
	}
	if !scope || !write {
		return lockInfo{}, errBadXML
	}
	return li, x.end()
}

// parseTimeout reads the Timeout header (RFC 4918 §10.7): a list of
// "Second-N" or "Infinite", most preferred first. The grant is capped.
func parseTimeout(h string) (time.Duration, error) {
	if strings.TrimSpace(h) == "" {
		return defaultLockTimeout, nil
	}
	for part := range strings.SplitSeq(h, ",") {
		p := strings.TrimSpace(part)
		if strings.EqualFold(p, "Infinite") {
			return maxLockTimeout, nil
		}
		if len(p) > 7 && strings.EqualFold(p[:7], "Second-") {
			n, err := strconv.ParseUint(p[7:], 10, 32)
			if err != nil {
				continue
			}
			return min(max(time.Duration(n)*time.Second, time.Second), maxLockTimeout), nil
		}
	}
	return 0, errors.New("invalid Timeout header")
}

// lock answers LOCK (RFC 4918 §9.10): a new exclusive or shared write lock,
// or, with an empty body, a refresh of the lock named in the If header.
func (h *Handler) lock(w http.ResponseWriter, r *http.Request, clean string) error {
	timeout, err := parseTimeout(r.Header.Get("Timeout"))
	if err != nil {
		return httperr.New(http.StatusBadRequest, "invalid Timeout header")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxXMLBody+1))
	if err != nil {
		return httperr.Wrap(http.StatusBadRequest, "request body ended before its announced length", err)
	}
	if len(body) > maxXMLBody {
		return httperr.New(http.StatusRequestEntityTooLarge, "XML request body larger than 1 MiB")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return h.refreshLock(w, r, clean, timeout)
	}
	li, err := parseLockInfo(bytes.NewReader(body))
	if err != nil {
		return badBody("invalid LOCK body", err)
	}
	if len(li.owner) > maxLockOwner {
		// Held in memory for the lock's life and sent in every
		// lockdiscovery: clients send a name or a URL.
		return httperr.New(http.StatusRequestEntityTooLarge, "lock owner larger than 4 KiB")
	}
	deep := true
	switch r.Header.Get("Depth") {
	case "", "infinity":
	case "0":
		deep = false
	default:
		// §9.10.3: "Values other than 0 or infinity MUST NOT be used with
		// the Depth header on a LOCK method."
		return httperr.New(http.StatusBadRequest, "invalid Depth for LOCK")
	}
	if r.Header.Get("If") != "" {
		release, err := h.authorize(r, clean)
		if err != nil {
			return err
		}
		release()
	}
	fi, statErr := h.store.Stat(clean)
	exists := statErr == nil
	if exists && !fi.IsDir() && !fi.Mode().IsRegular() {
		return storage.ErrNotRegular // another program's FIFO or socket
	}
	if !exists {
		if err := h.needParent(clean); err != nil {
			return err
		}
	}
	l, err := h.locks.Lock(locking.Request{
		Root: lockName(clean), Deep: deep && (!exists || fi.IsDir()), Shared: li.shared,
		OwnerXML: li.owner, Duration: timeout,
	})
	if errors.Is(err, locking.ErrLocked) {
		return httperr.New(http.StatusLocked, "Locked")
	}
	if errors.Is(err, locking.ErrTooManyLocks) {
		return httperr.New(http.StatusServiceUnavailable, "too many locks held; try again when some are released")
	}
	if err != nil {
		return err
	}
	created := false
	if !exists {
		// §7.3: a LOCK of an unmapped URL creates an empty resource. If
		// someone created the file meanwhile, theirs stays.
		_, err := h.store.Create(r.Context(), clean, strings.NewReader(""), storage.CreateOptions{
			ExpectedSize: -1,
			Check: func(cur fs.FileInfo) error {
				if cur != nil {
					return errAlreadyThere
				}
				return nil
			},
		})
		switch {
		case err == nil:
			created = true
		case errors.Is(err, errAlreadyThere):
		default:
			h.locks.Unlock(l.Token)
			return err
		}
	}
	w.Header().Set("Lock-Token", "<"+l.Token+">")
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	h.writeLockResponse(w, status, l)
	return nil
}

var errAlreadyThere = errors.New("created concurrently")

// refreshLock restarts the timeout of the lock whose token the If header
// names. The request may name any resource the lock covers (litmus
// indirect_refresh: a collection's lock refreshed through a member).
func (h *Handler) refreshLock(w http.ResponseWriter, r *http.Request, clean string, timeout time.Duration) error {
	lists, ok := parseIf(r.Header.Get("If"))
	if !ok {
		return httperr.New(http.StatusBadRequest, "a LOCK refresh needs an If header with the lock token")
	}
	for _, l := range lists {
		for _, c := range l.conds {
			if c.Token == "" || c.Not || !h.locks.Covers(c.Token, lockName(clean)) {
				continue
			}
			lk, err := h.locks.Refresh(c.Token, timeout)
			if err != nil {
				continue
			}
			h.writeLockResponse(w, http.StatusOK, lk)
			return nil
		}
	}
	// §9.10.2 / §10.4.1: no submitted token applies to this resource.
	return httperr.New(http.StatusPreconditionFailed, "no lock of this resource was named in the If header")
}

func (h *Handler) writeLockResponse(w http.ResponseWriter, status int, l *locking.Lock) {
	var b bytes.Buffer
	b.WriteString(xml.Header + `<D:prop xmlns:D="DAV:"><D:lockdiscovery>`)
	h.writeActiveLock(&b, l, h.locks.Now())
	b.WriteString("</D:lockdiscovery></D:prop>")
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	w.Write(b.Bytes())
}
