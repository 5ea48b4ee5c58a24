package auth

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/davnas/davnas/internal/storage"
)

type user struct {
	hash      []byte
	principal Principal
}

type token struct {
	principal Principal
}

// fileSet is one loaded version of a credential file, with what is needed
// to notice that the file changed.
type fileSet[T any] struct {
	path    string
	entries map[string]T
	mu      sync.Mutex
	stamp   fileStamp // of the version loaded
	pending fileStamp // of a change seen at the last check, not loaded yet
}

type fileStamp struct {
	size  int64
	mtime time.Time
	ino   uint64
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = uint64(st.Ino)
	}
	return fileStamp{size: fi.Size(), mtime: fi.ModTime(), ino: ino}
}

// settled reports whether the file differs from the version loaded and
// has stayed the same since the previous check. A file rewritten in place
// (truncated, then written) is read only once its writer is done: read in
// between, an empty or half-written file would have replaced every user,
// and kept doing so if what the writer finished was then refused.
func (f *fileSet[T]) settled() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := stampOf(f.path)
	if now == f.stamp {
		f.pending = fileStamp{}
		return false
	}
	if now != f.pending {
		f.pending = now
		return false
	}
	return true
}

// seen accepts the file's current state without loading it (after a failed
// reload, so the error is logged once, not every tick).
func (f *fileSet[T]) seen() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stamp = stampOf(f.path)
}

// parseRole reads the optional role and root fields shared by both files.
func parseRole(fields []string, line int) (Principal, error) {
	var p Principal
	if len(fields) > 0 {
		switch strings.ToLower(fields[0]) {
		case "", "rw", "read-write":
		case "ro", "read-only":
			p.ReadOnly = true
		default:
			return p, fmt.Errorf("line %d: role %q: want rw or ro", line, fields[0])
		}
	}
	if len(fields) > 1 && fields[1] != "" {
		clean, err := storage.Clean(fields[1])
		if err != nil {
			return p, fmt.Errorf("line %d: root %q: %v", line, fields[1], err)
		}
		if clean != "." {
			p.Root = clean
		}
	}
	if len(fields) > 2 {
		return p, fmt.Errorf("line %d: too many fields", line)
	}
	return p, nil
}

// eachLine calls fn for every line that is not blank or a # comment.
func eachLine(path string, fn func(line int, text string) error) (fileStamp, error) {
	stamp := stampOf(path)
	data, err := os.ReadFile(path)
	if err != nil {
		return stamp, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if err := fn(n, text); err != nil {
			return stamp, err
		}
	}
	return stamp, sc.Err()
}

// loadUsers reads an htpasswd file of bcrypt hashes (what htpasswd -B and
// davnas passwd write): user:hash, optionally followed by :role and :root.
func loadUsers(path string) (*fileSet[user], error) {
	fs := &fileSet[user]{path: path, entries: map[string]user{}}
	stamp, err := eachLine(path, func(n int, text string) error {
		f := strings.Split(text, ":")
		if len(f) < 2 || f[0] == "" {
			return fmt.Errorf("line %d: want user:bcrypt-hash[:role[:root]]", n)
		}
		if !strings.HasPrefix(f[1], "$2a$") && !strings.HasPrefix(f[1], "$2b$") && !strings.HasPrefix(f[1], "$2y$") {
			return fmt.Errorf("line %d: user %s: only bcrypt hashes are supported (htpasswd -B, or davnas passwd)", n, f[0])
		}
		p, err := parseRole(f[2:], n)
		if err != nil {
			return err
		}
		if _, dup := fs.entries[f[0]]; dup {
			return fmt.Errorf("line %d: user %s listed twice", n, f[0])
		}
		p.Name = f[0]
		fs.entries[f[0]] = user{hash: []byte(f[1]), principal: p}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("auth file %s: %w", path, err)
	}
	fs.stamp = stamp
	return fs, nil
}

// minTokenLen is the shortest raw token accepted: shorter ones are guessable.
const minTokenLen = 16

// loadTokens reads a token file: name:token, where token is either the raw
// token or sha256:<hex> of it (what davnas token writes, so the file holds
// no secret), optionally followed by :role and :root.
func loadTokens(path string) (*fileSet[token], error) {
	fs := &fileSet[token]{path: path, entries: map[string]token{}}
	names := map[string]bool{}
	stamp, err := eachLine(path, func(n int, text string) error {
		f := strings.Split(text, ":")
		if len(f) < 2 || f[0] == "" {
			return fmt.Errorf("line %d: want name:token[:role[:root]] or name:sha256:hex[:role[:root]]", n)
		}
		var digest []byte
		rest := f[2:]
		if f[1] == "sha256" && len(f) >= 3 {
			d, err := hex.DecodeString(f[2])
			if err != nil || len(d) != sha256.Size {
				return fmt.Errorf("line %d: token %s: sha256 must be 64 hex digits", n, f[0])
			}
			digest, rest = d, f[3:]
		} else {
			if len(f[1]) < minTokenLen {
				return fmt.Errorf("line %d: token %s: at least %d characters", n, f[0], minTokenLen)
			}
			sum := sha256.Sum256([]byte(f[1]))
			digest = sum[:]
		}
		p, err := parseRole(rest, n)
		if err != nil {
			return err
		}
		if names[f[0]] {
			return fmt.Errorf("line %d: token name %s listed twice", n, f[0])
		}
		names[f[0]] = true
		p.Name = f[0]
		fs.entries[string(digest)] = token{principal: p}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	fs.stamp = stamp
	return fs, nil
}
