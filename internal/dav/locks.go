package dav

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/webdav"

	"github.com/davnas/davnas/internal/httperr"
	"github.com/davnas/davnas/internal/storage"
)

// lockName is the name a cleaned storage name has in the lock system
// (x/net/webdav's slash-rooted form, "/" for the root).
func lockName(clean string) string {
	if clean == "." {
		return "/"
	}
	return "/" + clean
}

// confirm claims what a write to the cleaned name needs from the lock
// system, for the requests davnas handles itself (PUT). RFC 4918 §10.4.1:
// "If this header is evaluated and all state lists fail, then the request
// MUST fail with a 412 (Precondition Failed) status." Without an If header,
// or when the list that holds names no lock of the resource, the resource
// must not be locked by anyone (§7.5: 423 Locked); a short lock taken and
// released around the write proves it, as x/net/webdav does.
func (h *Handler) confirm(r *http.Request, clean string) (release func(), err error) {
	self := lockName(clean)
	hdr := r.Header.Get("If")
	if hdr == "" {
		return h.tempLock(self)
	}
	lists, ok := parseIf(hdr)
	if !ok {
		return nil, httperr.New(http.StatusBadRequest, "invalid If header")
	}
	for _, l := range lists {
		target := self
		if l.tag != "" {
			t, ok := h.tagName(l.tag)
			if !ok {
				continue
			}
			target = t
		}
		held, ok := h.evalList(target, l.conds)
		if !ok {
			continue
		}
		if held != nil && target == self {
			return held, nil
		}
		rel, err := h.tempLock(self)
		if err != nil {
			if held != nil {
				held()
			}
			return nil, err
		}
		return func() {
			rel()
			if held != nil {
				held()
			}
		}, nil
	}
	return nil, httperr.New(http.StatusPreconditionFailed, "precondition failed: no If list holds")
}

// evalList reports whether every condition of a list holds for target. A
// lock token that holds is claimed (held) until the returned release runs.
func (h *Handler) evalList(target string, conds []webdav.Condition) (func(), bool) {
	var held []func()
	release := func() {
		for _, f := range held {
			f()
		}
	}
	for _, c := range conds {
		var ok bool
		if c.Token != "" {
			rel, err := h.locks.Confirm(time.Now(), target, "", webdav.Condition{Token: c.Token})
			ok = err == nil
			if ok && c.Not {
				rel()
			} else if ok {
				held = append(held, rel)
			}
		} else {
			ok = h.etagMatches(target, c.ETag)
		}
		if ok == c.Not {
			release()
			return nil, false
		}
	}
	if len(held) == 0 {
		return nil, true
	}
	return release, true
}

func (h *Handler) etagMatches(target, etag string) bool {
	fi, err := h.store.Stat(strings.TrimPrefix(target, "/"))
	if err != nil {
		return false
	}
	return strings.TrimPrefix(storage.ETag(fi), "W/") == strings.TrimPrefix(etag, "W/")
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

// tempLock registers a write to name with the shared lock system, which
// refuses it (423) when a lock the request did not name is in the way.
func (h *Handler) tempLock(name string) (func(), error) {
	release, err := h.locks.BeginWrite(name, false)
	if err == webdav.ErrLocked {
		return nil, httperr.New(http.StatusLocked, "Locked")
	}
	return release, err
}
