// Package locking is the one lock system of both APIs: the WebDAV locks
// clients take with LOCK (RFC 4918 §6, §7: exclusive write locks, depth 0 or
// infinity, with timeouts) and the writes in progress through /file/ and
// WebDAV.
//
// A write must not modify a resource locked by a lock whose token the
// request did not submit (423), and a client must not be granted a LOCK on
// a resource while it is being written. But writes never exclude each
// other: sixteen pipeline pods appending to one file at once are ordered by
// storage, not refused. (x/net/webdav's in-memory lock system proves "no
// other lock" by taking a short exclusive lock around each write, which
// refuses concurrent writes with 423, and marks a confirmed lock "held" for
// a whole request, which fails a refresh or a parallel request of the lock's
// own owner. Neither happens here.)
//
// Names are slash-rooted lock names ("/", "/a/b"), the form x/net/webdav
// uses; the dav package derives them from storage.Clean.
package locking

import (
	"crypto/rand"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

// Errors.
var (
	// ErrLocked: a lock or a write in progress is in the way (423).
	ErrLocked = errors.New("locked")
	// ErrNoSuchLock: the token names no live lock.
	ErrNoSuchLock = errors.New("no such lock")
	// ErrTooManyLocks: maxLocks locks are live (503).
	ErrTooManyLocks = errors.New("too many locks")
)

// maxLocks caps the live locks of a System and its Subs: a lock lives up to
// a day, so without a cap clients could grow the server's memory without
// bound. Ten thousand is far beyond what mounts and sync tools hold (one
// lock per open file); with owners capped at 4 KiB by the WebDAV handler
// they take at most about 50 MiB.
var maxLocks = 10000

// Request asks for a lock.
type Request struct {
	Root     string        // lock name of the resource
	Deep     bool          // depth infinity
	Shared   bool          // a shared lock; exclusive otherwise
	OwnerXML string        // the content of the client's <owner>, as XML
	Duration time.Duration // negative: infinite
}

// Lock is a granted WebDAV lock.
type Lock struct {
	Token    string
	Root     string        // lock name of the locked resource
	Deep     bool          // depth infinity: also locks everything below Root
	Shared   bool          // shared (RFC 4918 §6.2) rather than exclusive
	OwnerXML string        // the content of the client's <owner>, as XML
	Duration time.Duration // negative: infinite
	Expires  time.Time     // zero when infinite
}

// Remaining is the time left before the lock expires (negative: never).
func (l *Lock) Remaining(now time.Time) time.Duration {
	if l.Expires.IsZero() {
		return -1
	}
	return max(l.Expires.Sub(now), 0)
}

// System is a view of one lock store: the whole volume (New), or a
// sub-directory as seen by a user confined to it (Sub). All views of a
// store see the same locks and writes, so users with different roots still
// exclude each other. The zero value is not usable; call New.
type System struct {
	*state
	prefix string // the view's root within the volume ("" for the volume)
}

// state is what all views of a lock store share.
type state struct {
	mu     sync.Mutex
	locks  map[string]*Lock  // by token; Root is a volume name
	writes map[string]*write // by volume name
	now    func() time.Time
}

type write struct {
	n    int // writes in progress on this name
	deep int // how many of them cover everything below it
}

// New returns an empty lock system.
func New() *System {
	return &System{state: &state{locks: make(map[string]*Lock), writes: make(map[string]*write), now: time.Now}}
}

// Sub returns the view of the directory dir (a lock name of this view).
func (s *System) Sub(dir string) *System {
	return &System{state: s.state, prefix: s.in(dir)}
}

// in turns a lock name of this view into a volume name.
func (s *System) in(name string) string {
	name = Name(name)
	if s.prefix == "" || s.prefix == "/" {
		return name
	}
	if name == "/" {
		return s.prefix
	}
	return s.prefix + name
}

// out turns a volume name into a lock name of this view. A lock rooted
// above the view covers all of it and shows as rooted at its root.
func (s *System) out(name string) string {
	if s.prefix == "" || s.prefix == "/" {
		return name
	}
	if rest, ok := strings.CutPrefix(name, s.prefix); ok && (rest == "" || rest[0] == '/') {
		if rest == "" {
			return "/"
		}
		return rest
	}
	return "/"
}

// view returns a copy of l with its root as this view names it.
func (s *System) view(l *Lock) *Lock {
	c := *l
	c.Root = s.out(l.Root)
	return &c
}

// Name canonicalises a lock name: slash-rooted, no "." or empty elements.
func Name(name string) string {
	return path.Clean("/" + name)
}

// under reports whether name is strictly below dir.
func under(name, dir string) bool {
	return dir == "/" && name != "/" || strings.HasPrefix(name, dir+"/")
}

// covers reports whether something rooted at root (with deep: and below)
// includes name.
func covers(root string, deep bool, name string) bool {
	return root == name || (deep && under(name, root))
}

// expire drops locks whose timeout has passed. Callers hold mu.
func (s *System) expire() {
	now := s.now()
	for tok, l := range s.locks {
		if !l.Expires.IsZero() && !now.Before(l.Expires) {
			delete(s.locks, tok)
		}
	}
}

// Write describes what a request modifies.
type Write struct {
	Name string // lock name of the resource written
	// Deep: the write covers everything below Name too (deleting, moving or
	// copying over a collection).
	Deep bool
	// Member: the write adds Name to its parent collection or removes it
	// (create, delete, move). A lock on the parent of any depth then
	// applies too: RFC 4918 §7.5, a lock on a collection protects its
	// membership.
	Member bool
}

// inTheWay lists the locks that w would violate unless their tokens were
// submitted. Callers hold mu.
func (s *System) inTheWay(w Write) []*Lock {
	var out []*Lock
	par := path.Dir(w.Name)
	for _, l := range s.locks {
		if covers(l.Root, l.Deep, w.Name) || (w.Deep && under(l.Root, w.Name)) ||
			(w.Member && w.Name != "/" && l.Root == par) {
			out = append(out, l)
		}
	}
	return out
}

// BeginWrite registers w as in progress. It fails with ErrLocked when a
// lock is in its way whose token the request did not submit (tokens: the
// tokens of its If header). Of several shared locks on one resource, one
// submitted token is enough (RFC 4918 §6.2: any holder may write); every
// exclusive lock needs its own. The returned func ends the write.
func (s *System) BeginWrite(w Write, tokens []string) (func(), error) {
	name := s.in(w.Name)
	w.Name = name
	deep := w.Deep
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	if !satisfied(s.inTheWay(w), tokens) {
		return nil, ErrLocked
	}
	wr := s.writes[name]
	if wr == nil {
		wr = &write{}
		s.writes[name] = wr
	}
	wr.n++
	if deep {
		wr.deep++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			wr.n--
			if deep {
				wr.deep--
			}
			if wr.n == 0 {
				delete(s.writes, name)
			}
		})
	}, nil
}

// satisfied reports whether tokens unlock every lock in the way: each
// exclusive one by its token, the shared ones of a resource by any one of
// theirs.
func satisfied(inTheWay []*Lock, tokens []string) bool {
	sharedOK := map[string]bool{} // resource root -> a shared token there was submitted
	for _, l := range inTheWay {
		if l.Shared && contains(tokens, l.Token) {
			sharedOK[l.Root] = true
		}
	}
	for _, l := range inTheWay {
		if l.Shared && sharedOK[l.Root] {
			continue
		}
		if !contains(tokens, l.Token) {
			return false
		}
	}
	return true
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Lock grants a new write lock, or fails with ErrLocked when it would
// overlap an exclusive lock, or be exclusive and overlap any lock, or cover
// a write in progress.
func (s *System) Lock(req Request) (*Lock, error) {
	root := s.in(req.Root)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	for _, l := range s.locks {
		overlap := covers(l.Root, l.Deep, root) || covers(root, req.Deep, l.Root)
		if overlap && (!l.Shared || !req.Shared) {
			return nil, ErrLocked
		}
	}
	for name, w := range s.writes {
		if covers(root, req.Deep, name) || (w.deep > 0 && under(root, name)) {
			return nil, ErrLocked
		}
	}
	if len(s.locks) >= maxLocks {
		return nil, ErrTooManyLocks
	}
	l := &Lock{Token: newToken(), Root: root, Deep: req.Deep, Shared: req.Shared, OwnerXML: req.OwnerXML, Duration: req.Duration}
	if req.Duration >= 0 {
		l.Expires = s.now().Add(req.Duration)
	}
	s.locks[l.Token] = l
	return s.view(l), nil
}

// newToken returns an RFC 4918 §6.5 lock token: a urn:uuid URI (RFC 9562
// version 4), unique over space and time.
func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Get returns the live lock with token.
func (s *System) Get(token string) (*Lock, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	l, ok := s.locks[token]
	if !ok {
		return nil, false
	}
	return s.view(l), true
}

// Covers reports whether token names a live lock that covers name: the
// state-token condition of an If header (RFC 4918 §10.4.8).
func (s *System) Covers(token, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	l, ok := s.locks[token]
	return ok && covers(l.Root, l.Deep, s.in(name))
}

// Discover returns the live locks that cover name, for lockdiscovery.
func (s *System) Discover(name string) []Lock {
	name = s.in(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	var out []Lock
	for _, l := range s.locks {
		if covers(l.Root, l.Deep, name) {
			out = append(out, *s.view(l))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Root < out[j].Root })
	return out
}

// Refresh restarts a lock's timeout with a new duration.
func (s *System) Refresh(token string, d time.Duration) (*Lock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	l, ok := s.locks[token]
	if !ok {
		return nil, ErrNoSuchLock
	}
	l.Duration = d
	l.Expires = time.Time{}
	if d >= 0 {
		l.Expires = s.now().Add(d)
	}
	return s.view(l), nil
}

// Unlock removes a lock.
func (s *System) Unlock(token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	if _, ok := s.locks[token]; !ok {
		return ErrNoSuchLock
	}
	delete(s.locks, token)
	return nil
}

// Now is the lock system's clock.
func (s *System) Now() time.Time { return s.now() }

// Release removes every lock rooted at name or below it: what a DELETE
// removed, or a MOVE took away, is no longer locked (RFC 4918 §9.6, §9.9.4;
// x/net/webdav keeps them, golang/go#42839).
func (s *System) Release(name string) {
	name = s.in(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok, l := range s.locks {
		if covers(name, true, l.Root) {
			delete(s.locks, tok)
		}
	}
}

// Count is the number of live locks (all views).
func (s *System) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	return len(s.locks)
}
