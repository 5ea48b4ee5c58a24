package locking

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/net/webdav"
)

func TestWritesShareButExcludeLocks(t *testing.T) {
	s := New()
	now := time.Now()
	end1, err := s.BeginWrite(Write{Name: "/a/f"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	end2, err := s.BeginWrite(Write{Name: "/a/f"}, nil)
	if err != nil {
		t.Fatalf("a second write to the same name was refused: %v", err)
	}
	// No LOCK on the file, nor a deep one on its parent, while it is written.
	for _, ld := range []webdav.LockDetails{
		{Root: "/a/f", ZeroDepth: true, Duration: time.Minute},
		{Root: "/a", ZeroDepth: false, Duration: time.Minute},
		{Root: "/", ZeroDepth: false, Duration: time.Minute},
	} {
		if _, err := s.LockView().Create(now, ld); err != webdav.ErrLocked {
			t.Errorf("Create(%+v) during a write = %v, want ErrLocked", ld, err)
		}
	}
	// A zero-depth lock on the parent or a sibling does not cover the file.
	for _, root := range []string{"/a", "/a/g"} {
		tok, err := s.LockView().Create(now, webdav.LockDetails{Root: root, ZeroDepth: true, Duration: time.Minute})
		if err != nil {
			t.Errorf("Create(%s) = %v", root, err)
			continue
		}
		s.Unlock(now, tok)
	}
	end1()
	end2()
	tok, err := s.LockView().Create(now, webdav.LockDetails{Root: "/a/f", ZeroDepth: true, Duration: time.Minute})
	if err != nil {
		t.Fatalf("Create after the writes ended = %v", err)
	}
	if _, err := s.BeginWrite(Write{Name: "/a/f"}, nil); err != webdav.ErrLocked {
		t.Errorf("BeginWrite on a locked file = %v, want ErrLocked", err)
	}
	if _, err := s.BeginWrite(Write{Name: "/a", Deep: true}, nil); err != webdav.ErrLocked {
		t.Errorf("deep BeginWrite above a locked file = %v, want ErrLocked", err)
	}
	if end, err := s.BeginWrite(Write{Name: "/a"}, nil); err != nil {
		t.Errorf("shallow BeginWrite on the parent = %v", err)
	} else {
		end()
	}
	s.Unlock(now, tok)

	// A deep write (directory delete) keeps locks off everything below.
	end, err := s.BeginWrite(Write{Name: "/d", Deep: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.LockView().Create(now, webdav.LockDetails{Root: "/d/x/y", ZeroDepth: true, Duration: time.Minute}); err != webdav.ErrLocked {
		t.Errorf("Create below a deep write = %v", err)
	}
	end()
	if len(s.writes) != 0 {
		t.Errorf("%d writes left registered", len(s.writes))
	}
}

func TestTokensAndMembership(t *testing.T) {
	s := New()
	l, err := s.Lock(webdav.LockDetails{Root: "/c", ZeroDepth: true, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// A depth-0 lock on a collection protects its membership, not the
	// content of its members.
	if _, err := s.BeginWrite(Write{Name: "/c/new", Member: true}, nil); err != webdav.ErrLocked {
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
	short, _ := s.Lock(webdav.LockDetails{Root: "/t", ZeroDepth: true, Duration: time.Second})
	clock = clock.Add(2 * time.Second)
	if _, ok := s.Get(short.Token); ok {
		t.Error("an expired lock is still live")
	}
	deep, _ := s.Lock(webdav.LockDetails{Root: "/d/e", Duration: -1})
	s.Release("/d")
	if _, ok := s.Get(deep.Token); ok {
		t.Error("Release kept a lock below the released name")
	}
	if _, ok := s.Get(l.Token); !ok {
		t.Error("Release removed an unrelated lock")
	}
}
