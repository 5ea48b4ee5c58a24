package locking

import (
	"testing"
	"time"

	"golang.org/x/net/webdav"
)

func TestWritesShareButExcludeLocks(t *testing.T) {
	s := New()
	now := time.Now()
	end1, err := s.BeginWrite("/a/f", false)
	if err != nil {
		t.Fatal(err)
	}
	end2, err := s.BeginWrite("/a/f", false)
	if err != nil {
		t.Fatalf("a second write to the same name was refused: %v", err)
	}
	// No LOCK on the file, nor a deep one on its parent, while it is written.
	for _, ld := range []webdav.LockDetails{
		{Root: "/a/f", ZeroDepth: true, Duration: time.Minute},
		{Root: "/a", ZeroDepth: false, Duration: time.Minute},
		{Root: "/", ZeroDepth: false, Duration: time.Minute},
	} {
		if _, err := s.Create(now, ld); err != webdav.ErrLocked {
			t.Errorf("Create(%+v) during a write = %v, want ErrLocked", ld, err)
		}
	}
	// A zero-depth lock on the parent or a sibling does not cover the file.
	for _, root := range []string{"/a", "/a/g"} {
		tok, err := s.Create(now, webdav.LockDetails{Root: root, ZeroDepth: true, Duration: time.Minute})
		if err != nil {
			t.Errorf("Create(%s) = %v", root, err)
			continue
		}
		s.Unlock(now, tok)
	}
	end1()
	end2()
	tok, err := s.Create(now, webdav.LockDetails{Root: "/a/f", ZeroDepth: true, Duration: time.Minute})
	if err != nil {
		t.Fatalf("Create after the writes ended = %v", err)
	}
	if _, err := s.BeginWrite("/a/f", false); err != webdav.ErrLocked {
		t.Errorf("BeginWrite on a locked file = %v, want ErrLocked", err)
	}
	if _, err := s.BeginWrite("/a", true); err != webdav.ErrLocked {
		t.Errorf("deep BeginWrite above a locked file = %v, want ErrLocked", err)
	}
	if end, err := s.BeginWrite("/a", false); err != nil {
		t.Errorf("shallow BeginWrite on the parent = %v", err)
	} else {
		end()
	}
	s.Unlock(now, tok)

	// A deep write (directory delete) keeps locks off everything below.
	end, err := s.BeginWrite("/d", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(now, webdav.LockDetails{Root: "/d/x/y", ZeroDepth: true, Duration: time.Minute}); err != webdav.ErrLocked {
		t.Errorf("Create below a deep write = %v", err)
	}
	end()
	if len(s.writes) != 0 {
		t.Errorf("%d writes left registered", len(s.writes))
	}
}
