package dav

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/davnas/davnas/internal/httperr"
	"github.com/davnas/davnas/internal/locking"
	"github.com/davnas/davnas/internal/storage"
)

// lockName is the lock system's name for a cleaned storage name.
func lockName(clean string) string {
	if clean == "." {
		return "/"
	}
	return "/" + clean
}

// target is one resource a request modifies.
type target struct {
	clean  string
	deep   bool // everything below it too
	member bool // it is added to or removed from its parent collection
}

// authorize does what RFC 4918 asks of every request that modifies
// resources, for the methods davnas serves itself:
//
//  1. The If header (§10.4) is a precondition: its lists are alternatives,
//     untagged lists apply to the Request-URI, tagged ones to the resource
//     they name, and "If this header is evaluated and all state lists fail,
//     then the request MUST fail with a 412 (Precondition Failed) status"
//     (§10.4.1). A state token holds when it names a live lock covering the
//     resource; an entity tag when it matches; Not inverts.
//  2. Every lock in the way of a modified resource must have been
//     submitted, i.e. its token appears in the If header (§7.5, §10.4.1);
//     otherwise 423 Locked.
//
// The writes are registered with the lock system until the returned func
// runs, so no client is granted a LOCK on them meanwhile.
func (h *Handler) authorize(r *http.Request, self string, targets ...target) (func(), error) {
	var tokens []string
	if hdr := r.Header.Get("If"); hdr != "" {
		lists, ok := parseIf(hdr)
		if !ok {
			return nil, httperr.New(http.StatusBadRequest, "invalid If header")
		}
		holds := false
		for _, l := range lists {
			for _, c := range l.conds {
				if c.Token != "" && !c.Not {
					tokens = append(tokens, c.Token)
				}
			}
			name := lockName(self)
			if l.tag != "" {
				n, ok := h.tagName(l.tag)
				if !ok {
					continue
				}
				name = n
			}
			if !holds && h.listHolds(name, l.conds) {
				holds = true
			}
		}
		if !holds {
			return nil, httperr.New(http.StatusPreconditionFailed, "precondition failed: no list of the If header holds")
		}
	}
	var ends []func()
	release := func() {
		for _, end := range ends {
			end()
		}
	}
	for _, t := range targets {
		end, err := h.locks.BeginWrite(locking.Write{Name: lockName(t.clean), Deep: t.deep, Member: t.member}, tokens)
		if err != nil {
			release()
			if errors.Is(err, locking.ErrLocked) {
				return nil, httperr.New(http.StatusLocked, "Locked")
			}
			return nil, err
		}
		ends = append(ends, end)
	}
	return release, nil
}

// listHolds reports whether every condition of an If list holds for name.
func (h *Handler) listHolds(name string, conds []condition) bool {
	for _, c := range conds {
		var ok bool
		if c.Token != "" {
			ok = h.locks.Covers(c.Token, name)
		} else {
			cur, exists := h.etagOf(name)
			ok = exists && strings.TrimPrefix(cur, "W/") == strings.TrimPrefix(c.ETag, "W/")
		}
		if ok == c.Not {
			return false
		}
	}
	return true
}

// etagOf returns the current ETag of a lock name's resource.
func (h *Handler) etagOf(name string) (string, bool) {
	fi, err := h.store.Stat(strings.TrimPrefix(name, "/"))
	if err != nil {
		return "", false
	}
	return storage.ETag(fi), true
}

// tagName turns a Resource-Tag into a lock name. Hosts are not compared:
// behind a reverse proxy the client's host is not ours (hacdias/webdav#59).
func (h *Handler) tagName(tag string) (string, bool) {
	u, err := url.Parse(tag)
	if err != nil {
		return "", false
	}
	name, ok := h.strip(u.Path)
	if !ok {
		return "", false
	}
	clean, err := storage.Clean(name)
	if err != nil {
		return "", false
	}
	return lockName(clean), true
}
