// Package locking is the one lock system of both APIs: WebDAV's LOCK/UNLOCK
// state (x/net/webdav's in-memory LockSystem) plus the writes in progress
// through /file/ and WebDAV PUT.
//
// A write must not modify a resource a WebDAV client has locked (423), and a
// client must not be granted a LOCK on a resource being written. But writes
// must not exclude each other: sixteen pipeline pods appending to one file
// at once are serialized by storage, not refused. x/net/webdav's way, a
// short exclusive lock around every write, refuses them with 423; here a
// write is registered as in progress instead, and only Create (new locks)
// checks against it.
package locking

import (
	"strings"
	"sync"
	"time"

	"golang.org/x/net/webdav"
)

// System is a webdav.LockSystem that also knows the writes in progress.
type System struct {
	ls webdav.LockSystem

	mu     sync.Mutex
	writes map[string]*write // by lock name ("/a/b")
}

type write struct {
	n    int // writes in progress on this name
	deep int // how many of them cover everything below (directory delete/move)
}

var _ webdav.LockSystem = (*System)(nil)

// New returns an empty lock system.
func New() *System {
	return &System{ls: webdav.NewMemLS(), writes: make(map[string]*write)}
}

// BeginWrite registers a write to name (a slash-rooted lock name; deep when
// it covers everything below, as deleting or moving a directory does). It
// fails with webdav.ErrLocked when a lock held by a WebDAV client covers
// name (or, for a deep write, anything below it). The returned func ends the
// write.
func (s *System) BeginWrite(name string, deep bool) (func(), error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	// Creating and dropping a lock is the lock system's own test of "could
	// anyone else's lock be in the way"; it checks ancestors, and with
	// ZeroDepth false, descendants too.
	token, err := s.ls.Create(now, webdav.LockDetails{Root: name, Duration: -1, ZeroDepth: !deep})
	if err != nil {
		return nil, err
	}
	s.ls.Unlock(now, token)
	w := s.writes[name]
	if w == nil {
		w = &write{}
		s.writes[name] = w
	}
	w.n++
	if deep {
		w.deep++
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		w.n--
		if deep {
			w.deep--
		}
		if w.n == 0 {
			delete(s.writes, name)
		}
	}, nil
}

// Create grants a lock unless it conflicts with a lock already held or with
// a write in progress.
func (s *System) Create(now time.Time, details webdav.LockDetails) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	root := clean(details.Root)
	for name, w := range s.writes {
		if covers(root, !details.ZeroDepth, name) || (w.deep > 0 && covers(name, true, root)) {
			return "", webdav.ErrLocked
		}
	}
	return s.ls.Create(now, details)
}

// covers reports whether a lock or write at root (with deep: and everything
// below it) includes name.
func covers(root string, deep bool, name string) bool {
	if root == name {
		return true
	}
	if !deep {
		return false
	}
	return root == "/" || strings.HasPrefix(name, root+"/")
}

func clean(name string) string {
	if name == "" || name == "/" {
		return "/"
	}
	name = "/" + strings.Trim(name, "/")
	return name
}

// Confirm, Refresh and Unlock are the lock system's own.

func (s *System) Confirm(now time.Time, name0, name1 string, conditions ...webdav.Condition) (func(), error) {
	return s.ls.Confirm(now, name0, name1, conditions...)
}

func (s *System) Refresh(now time.Time, token string, duration time.Duration) (webdav.LockDetails, error) {
	return s.ls.Refresh(now, token, duration)
}

func (s *System) Unlock(now time.Time, token string) error {
	return s.ls.Unlock(now, token)
}
