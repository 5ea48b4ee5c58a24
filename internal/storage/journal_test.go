package storage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// crashMidAppend leaves name as a process killed in the middle of an
// append would: the journal slot recorded, part of the body written, the
// slot's flock released by the process's death (here: closing the file).
func crashMidAppend(t *testing.T, s *Store, name, partial string) {
	t.Helper()
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	defer f.Close()
	fi, _ := f.Stat()
	sl, err := s.sh.journal.begin(s.volumeName(name), f, fi.Size())
	must(t, err)
	_, err = f.WriteString(partial)
	must(t, err)
	sl.f.Close() // dies without clearing
}

func TestJournalRollsBackACrashedAppend(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	must(t, os.WriteFile(filepath.Join(dir, "log"), []byte("whole line\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "u"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "u/sub.log"), []byte("a\n"), 0o644))
	crashMidAppend(t, s, "log", "half a li")
	sub, err := s.Sub("u")
	must(t, err)
	crashMidAppend(t, sub, "sub.log", "partial")
	// A file replaced after the crash is not touched.
	must(t, os.WriteFile(filepath.Join(dir, "other"), []byte("x"), 0o644))
	crashMidAppend(t, s, "other", "yz")
	must(t, os.Remove(filepath.Join(dir, "other")))
	must(t, os.WriteFile(filepath.Join(dir, "other"), []byte("replaced, longer"), 0o644))

	// A live process's slot is not replayed.
	live, err := Open(dir, Options{}) // the restart
	must(t, err)
	// What was rolled back is reported, for the operator's log: the two
	// torn appends (by their names within the volume), not the file
	// replaced since.
	got := map[string]Rollback{}
	for _, r := range live.RolledBack() {
		got[r.Name] = r
	}
	if len(got) != 2 || got["log"] != (Rollback{Name: "log", Size: 11, Torn: 20}) ||
		got["u/sub.log"] != (Rollback{Name: "u/sub.log", Size: 2, Torn: 9}) {
		t.Errorf("RolledBack() = %+v", live.RolledBack())
	}
	must(t, os.WriteFile(filepath.Join(dir, "busy"), []byte("b"), 0o644))
	f, _ := live.root.OpenFile("busy", os.O_WRONLY|os.O_APPEND, 0)
	fi, _ := f.Stat()
	liveSlot, err := live.sh.journal.begin("busy", f, fi.Size())
	must(t, err)
	f.WriteString("in flight")
	f.Close()

	s2, err := Open(dir, Options{Fsync: true}) // a second process
	must(t, err)
	defer s2.Close()
	if r := s2.RolledBack(); len(r) != 0 {
		t.Errorf("a live process's slot was rolled back: %+v", r)
	}
	for name, want := range map[string]string{
		"log": "whole line\n", "u/sub.log": "a\n", "other": "replaced, longer", "busy": "bin flight",
	} {
		if got := readFile(t, filepath.Join(dir, name)); got != want {
			t.Errorf("%s after recovery = %q, want %q", name, got, want)
		}
	}
	liveSlot.end()
	live.Close()
	entries, _ := os.ReadDir(filepath.Join(dir, journalDir))
	if len(entries) != 1 { // only the live process's (now idle) slot
		t.Errorf("journal holds %d slots after recovery", len(entries))
	}
	// Normal appends leave no record to replay.
	for range 3 {
		_, err := s2.Append(ctx, "log", strings.NewReader("more\n"))
		must(t, err)
	}
	s3, err := Open(dir, Options{})
	must(t, err)
	s3.Close()
	if got := readFile(t, filepath.Join(dir, "log")); got != "whole line\nmore\nmore\nmore\n" {
		t.Errorf("committed appends were rolled back: %q", got)
	}
	if list, _ := s2.List(ctx, "."); len(list) != 4 {
		t.Errorf("the journal shows in listings: %v", list)
	}
}

// A file whose append a crash cut, replaced by a FIFO before the restart,
// does not keep the store from opening: the replay's open for writing of
// a FIFO waited for a reader forever.
func TestJournalReplaySkipsFIFO(t *testing.T) {
	s, dir := newStore(t)
	p := filepath.Join(dir, "log")
	must(t, os.WriteFile(p, []byte("line\n"), 0o644))
	crashMidAppend(t, s, "log", "half")
	must(t, os.Remove(p))
	must(t, syscall.Mkfifo(p, 0o644))
	must(t, notStuckOnFIFO(t, p, "opening the store", func() error {
		s2, err := Open(dir, Options{})
		if err == nil {
			s2.Close()
		}
		return err
	}))
}
