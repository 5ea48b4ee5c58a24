package locking

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func mustLock(t *testing.T, s *System, r Request) *Lock {
	t.Helper()
	l, err := s.Lock(r)
	if err != nil {
		t.Fatalf("Lock(%+v) = %v", r, err)
	}
	return l
}

func TestWritesShareButExcludeLocks(t *testing.T) {
	s := New()
	end1, err := s.BeginWrite(Write{Name: "/a/f"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	end2, err := s.BeginWrite(Write{Name: "/a/f"}, nil)
	if err != nil {
		t.Fatalf("a second write to the same name was refused: %v", err)
	}
	// No LOCK on the file, nor a deep one on its parent, while it is written.
	for _, r := range []Request{
		{Root: "/a/f", Duration: time.Minute},
		{Root: "/a", Deep: true, Duration: time.Minute},
		{Root: "/", Deep: true, Duration: time.Minute},
		{Root: "/a/f", Shared: true, Duration: time.Minute},
	} {
		if _, err := s.Lock(r); err != ErrLocked {
			t.Errorf("Lock(%+v) during a write = %v, want ErrLocked", r, err)
		}
	}
	// A zero-depth lock on the parent or a sibling does not cover the file.
	for _, root := range []string{"/a", "/a/g"} {
		l := mustLock(t, s, Request{Root: root, Duration: time.Minute})
		s.Unlock(l.Token)
	}
	end1()
	end2()
	l := mustLock(t, s, Request{Root: "/a/f", Duration: time.Minute})
	if _, err := s.BeginWrite(Write{Name: "/a/f"}, nil); err != ErrLocked {
		t.Errorf("BeginWrite on a locked file = %v, want ErrLocked", err)
	}
	if _, err := s.BeginWrite(Write{Name: "/a", Deep: true}, nil); err != ErrLocked {
		t.Errorf("deep BeginWrite above a locked file = %v, want ErrLocked", err)
	}
	if end, err := s.BeginWrite(Write{Name: "/a"}, nil); err != nil {
		t.Errorf("shallow BeginWrite on the parent = %v", err)
	} else {
		end()
	}
	if end, err := s.BeginWrite(Write{Name: "/a/f"}, []string{l.Token}); err != nil {
		t.Errorf("the owner's write = %v", err)
	} else {
		end()
	}
	s.Unlock(l.Token)

	// A deep write (directory delete) keeps locks off everything below.
	end, err := s.BeginWrite(Write{Name: "/d", Deep: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lock(Request{Root: "/d/x/y", Duration: time.Minute}); err != ErrLocked {
		t.Errorf("Lock below a deep write = %v", err)
	}
	end()
	if len(s.writes) != 0 {
		t.Errorf("%d writes left registered", len(s.writes))
	}
}

func TestSharedLocks(t *testing.T) {
	s := New()
	a := mustLock(t, s, Request{Root: "/f", Shared: true, Duration: time.Minute})
	b := mustLock(t, s, Request{Root: "/f", Shared: true, Duration: time.Minute})
	if _, err := s.Lock(Request{Root: "/f", Duration: time.Minute}); err != ErrLocked {
		t.Errorf("exclusive over shared = %v", err)
	}
	if _, err := s.Lock(Request{Root: "/", Deep: true, Duration: time.Minute}); err != ErrLocked {
		t.Errorf("deep exclusive over shared = %v", err)
	}
	if _, err := s.BeginWrite(Write{Name: "/f"}, nil); err != ErrLocked {
		t.Errorf("write without a token = %v", err)
	}
	for _, tok := range []string{a.Token, b.Token} {
		if end, err := s.BeginWrite(Write{Name: "/f"}, []string{tok}); err != nil {
			t.Errorf("a holder of one shared lock may write: %v", err)
		} else {
			end()
		}
	}
	x := mustLock(t, s, Request{Root: "/g", Duration: time.Minute})
	if _, err := s.Lock(Request{Root: "/g", Shared: true, Duration: time.Minute}); err != ErrLocked {
		t.Errorf("shared over exclusive = %v", err)
	}
	s.Unlock(x.Token)
}

func TestTokensAndMembership(t *testing.T) {
	s := New()
	l := mustLock(t, s, Request{Root: "/c", Duration: time.Minute})
	// A depth-0 lock on a collection protects its membership, not the
	// content of its members.
	if _, err := s.BeginWrite(Write{Name: "/c/new", Member: true}, nil); err != ErrLocked {
		t.Errorf("create in a locked collection without the token = %v", err)
	}
	if end, err := s.BeginWrite(Write{Name: "/c/new", Member: true}, []string{l.Token}); err != nil {
		t.Errorf("with the token = %v", err)
	} else {
		end()
	}
	if end, err := s.BeginWrite(Write{Name: "/c/existing"}, nil); err != nil {
		t.Errorf("rewrite a member = %v", err)
	} else {
		end()
	}
	if !s.Covers(l.Token, "/c") || s.Covers(l.Token, "/c/x") || s.Covers("urn:uuid:nope", "/c") {
		t.Error("Covers")
	}
	if !strings.HasPrefix(l.Token, "urn:uuid:") || len(l.Token) != len("urn:uuid:")+36 {
		t.Errorf("token %q", l.Token)
	}
	// Timeouts expire; Refresh extends; Release drops what is below.
	clock := time.Now()
	s.now = func() time.Time { return clock }
	short := mustLock(t, s, Request{Root: "/t", Duration: time.Second})
	clock = clock.Add(500 * time.Millisecond)
	if _, err := s.Refresh(short.Token, time.Second); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(800 * time.Millisecond)
	if _, ok := s.Get(short.Token); !ok {
		t.Error("a refreshed lock expired early")
	}
	clock = clock.Add(time.Second)
	if _, ok := s.Get(short.Token); ok {
		t.Error("an expired lock is still live")
	}
	deep := mustLock(t, s, Request{Root: "/d/e", Deep: true, Duration: -1})
	s.Release("/d")
	if _, ok := s.Get(deep.Token); ok {
		t.Error("Release kept a lock below the released name")
	}
	if _, ok := s.Get(l.Token); !ok {
		t.Error("Release removed an unrelated lock")
	}
	if got := s.Discover("/c"); len(got) != 1 || got[0].Token != l.Token {
		t.Errorf("Discover = %+v", got)
	}
	if err := s.Unlock("urn:uuid:nope"); err != ErrNoSuchLock {
		t.Errorf("Unlock(unknown) = %v", err)
	}
}

// TestViews: a user confined to /u sees and respects locks taken through
// the whole volume, and the reverse, with names in their own terms.
func TestViews(t *testing.T) {
	s := New()
	u := s.Sub("/u")
	l := mustLock(t, u, Request{Root: "/f", Shared: true, Duration: time.Minute})
	if l.Root != "/f" {
		t.Errorf("the view names its lock %s", l.Root)
	}
	if _, err := s.BeginWrite(Write{Name: "/u/f"}, nil); err != ErrLocked {
		t.Errorf("the volume view ignores a lock taken in /u: %v", err)
	}
	if !s.Covers(l.Token, "/u/f") || !u.Covers(l.Token, "/f") || u.Covers(l.Token, "/g") {
		t.Error("Covers across views")
	}
	deep := mustLock(t, s, Request{Root: "/", Deep: true, Shared: true, Duration: time.Minute})
	found := u.Discover("/f")
	if len(found) != 2 {
		t.Fatalf("Discover in the view = %+v", found)
	}
	for _, f := range found {
		if f.Token == deep.Token && f.Root != "/" {
			t.Errorf("a lock above the view shows as %s", f.Root)
		}
	}
	if _, err := u.BeginWrite(Write{Name: "/g", Member: true}, nil); err != ErrLocked {
		t.Errorf("a deep lock above the view does not protect it: %v", err)
	}
	s.Unlock(deep.Token)
	u.Release("/")
	if _, ok := s.Get(l.Token); ok {
		t.Error("Release of the view's root kept its lock")
	}
}

// TestLockCap: live locks are capped, so that clients cannot grow the
// server's memory without bound (a lock lives up to 24 h); an expired or
// released lock frees its place.
func TestLockCap(t *testing.T) {
	defer func(n int) { maxLocks = n }(maxLocks)
	maxLocks = 3
	s := New()
	var held []*Lock
	for i := range 3 {
		l, err := s.Lock(Request{Root: fmt.Sprintf("/f%d", i), Duration: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, l)
	}
	if _, err := s.Lock(Request{Root: "/f3", Duration: time.Hour}); !errors.Is(err, ErrTooManyLocks) {
		t.Fatalf("fourth lock: %v, want ErrTooManyLocks", err)
	}
	if err := s.Unlock(held[0].Token); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lock(Request{Root: "/f3", Duration: time.Hour}); err != nil {
		t.Errorf("a lock after an unlock: %v", err)
	}
}
