package locking

import (
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/webdav"
)

// LockView is the webdav.LockSystem x/net/webdav sees while it serves a
// LOCK request: Create grants a client's lock.
func (s *System) LockView() webdav.LockSystem { return lockView{s} }

type lockView struct{ s *System }

func (v lockView) Create(now time.Time, d webdav.LockDetails) (string, error) {
	l, err := v.s.Lock(d)
	if err != nil {
		return "", err
	}
	return l.Token, nil
}

func (v lockView) Confirm(now time.Time, name0, name1 string, conds ...webdav.Condition) (func(), error) {
	return v.s.confirm(name0, name1, conds)
}

func (v lockView) Refresh(now time.Time, token string, d time.Duration) (webdav.LockDetails, error) {
	return v.s.Refresh(now, token, d)
}

func (v lockView) Unlock(now time.Time, token string) error { return v.s.Unlock(now, token) }

// WriteView is the webdav.LockSystem x/net/webdav sees while it serves any
// other request (PROPPATCH): the short lock it takes to prove that nobody
// else holds one becomes a registered write, so it neither refuses nor is
// refused by other writes.
func (s *System) WriteView(etag func(name string) (string, bool)) webdav.LockSystem {
	return &writeView{s: s, etag: etag, ends: map[string]func(){}}
}

type writeView struct {
	s    *System
	etag func(string) (string, bool)
	mu   sync.Mutex
	seq  int
	ends map[string]func()
}

func (v *writeView) Create(now time.Time, d webdav.LockDetails) (string, error) {
	end, err := v.s.BeginWrite(Write{Name: d.Root, Deep: !d.ZeroDepth}, nil)
	if err != nil {
		return "", err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seq++
	tok := "davnas-write:" + strconv.Itoa(v.seq)
	v.ends[tok] = end
	return tok, nil
}

func (v *writeView) Unlock(now time.Time, token string) error {
	v.mu.Lock()
	end, ok := v.ends[token]
	delete(v.ends, token)
	v.mu.Unlock()
	if ok {
		end()
		return nil
	}
	return v.s.Unlock(now, token)
}

func (v *writeView) Confirm(now time.Time, name0, name1 string, conds ...webdav.Condition) (func(), error) {
	return v.s.confirmWith(name0, name1, conds, v.etag)
}

func (v *writeView) Refresh(now time.Time, token string, d time.Duration) (webdav.LockDetails, error) {
	return v.s.Refresh(now, token, d)
}

// confirm is Confirm without ETag knowledge: an ETag condition never holds.
func (s *System) confirm(name0, name1 string, conds []webdav.Condition) (func(), error) {
	return s.confirmWith(name0, name1, conds, nil)
}

// confirmWith implements webdav.LockSystem.Confirm for one If list: every
// condition must hold for name0 (a state token holds when it names a live
// lock covering the resource, an entity tag when it matches; Not inverts),
// and every lock in the way of writing name0 and name1 must have its token
// in the list.
func (s *System) confirmWith(name0, name1 string, conds []webdav.Condition, etag func(string) (string, bool)) (func(), error) {
	var tokens []string
	for _, c := range conds {
		var ok bool
		if c.Token != "" {
			ok = s.Covers(c.Token, name0)
			if !c.Not {
				tokens = append(tokens, c.Token)
			}
		} else if etag != nil {
			cur, exists := etag(name0)
			ok = exists && cur == c.ETag
		}
		if ok == c.Not {
			return nil, webdav.ErrConfirmationFailed
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	for _, name := range []string{name0, name1} {
		if name == "" {
			continue
		}
		for _, l := range s.inTheWay(Write{Name: Name(name)}) {
			if !contains(tokens, l.Token) {
				return nil, webdav.ErrConfirmationFailed
			}
		}
	}
	return func() {}, nil
}
