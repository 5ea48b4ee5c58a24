package storage

import (
	"errors"
	"strings"
	"testing"
)

func TestClean(t *testing.T) {
	long := strings.Repeat("a", 256)
	tests := []struct {
		in   string
		want string
		err  error
	}{
		{"", ".", nil},
		{"/", ".", nil},
		{".", ".", nil},
		{"./", ".", nil},
		{"a", "a", nil},
		{"/a", "a", nil},
		{"a/", "a", nil},
		{"a//b", "a/b", nil},
		{"//a/./b/", "a/b", nil},
		{"dir/a.txt", "dir/a.txt", nil},
		{`a\b`, `a\b`, nil},                   // a literal backslash, not a separator
		{`..\..\etc`, `..\..\etc`, nil},       // one harmless element on Linux
		{"rem ote$%<>1", "rem ote$%<>1", nil}, // tailscale's hostile name
		{"%2e%2e", "%2e%2e", nil},             // already decoded once: a literal name
		{"...", "...", nil},
		{"a..b", "a..b", nil},
		{"..", "", ErrInvalidName},
		{"../etc/passwd", "", ErrInvalidName},
		{"a/../b", "", ErrInvalidName},
		{"a/..", "", ErrInvalidName},
		{"/../", "", ErrInvalidName},
		{"a\x00b", "", ErrInvalidName},
		{long, "", ErrInvalidName},
		{strings.Repeat("a/", 2049), "", ErrInvalidName},
		{".davnas-tmp-0123", "", ErrReserved},
		{"d/.davnas-anything", "", ErrReserved},
		{".davnas", ".davnas", nil},
	}
	for _, tt := range tests {
		got, err := Clean(tt.in)
		if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
			t.Errorf("Clean(%q) error = %v, want %v", tt.in, err, tt.err)
			continue
		}
		if got != tt.want {
			t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzClean checks Clean's promises on any input: a result is relative,
// has no empty, "." or ".." element, no NUL, no reserved element, and
// cleaning it again changes nothing.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "/", "a/b", "../x", "a/./b//c/", "..%2F", "\x00", ".davnas-tmp-x", `a\..\b`, "…/…"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Clean(in)
		if want, wantErr := cleanByElements(in); got != want || err != wantErr {
			t.Fatalf("Clean(%q) = %q, %v; rebuilt element by element: %q, %v", in, got, err, want, wantErr)
		}
		if err != nil {
			if got != "" {
				t.Fatalf("Clean(%q) = %q with error %v", in, got, err)
			}
			return
		}
		if got == "." {
			return
		}
		if strings.HasPrefix(got, "/") || strings.IndexByte(got, 0) >= 0 || len(got) > MaxPathBytes {
			t.Fatalf("Clean(%q) = %q", in, got)
		}
		for _, e := range strings.Split(got, "/") {
			if e == "" || e == "." || e == ".." || IsReserved(e) || len(e) > MaxNameBytes {
				t.Fatalf("Clean(%q) = %q has element %q", in, got, e)
			}
		}
		if again, err := Clean(got); err != nil || again != got {
			t.Fatalf("Clean(Clean(%q)) = %q, %v; want %q", in, again, err, got)
		}
	})
}

// cleanByElements is Clean without its fast path: every name rebuilt from
// its kept elements.
func cleanByElements(name string) (string, error) {
	if len(name) > MaxPathBytes || strings.IndexByte(name, 0) >= 0 {
		return "", ErrInvalidName
	}
	var kept []string
	for _, e := range strings.Split(name, "/") {
		switch {
		case e == "" || e == ".":
			continue
		case e == ".." || len(e) > MaxNameBytes:
			return "", ErrInvalidName
		case strings.HasPrefix(e, ReservedPrefix):
			return "", ErrReserved
		}
		kept = append(kept, e)
	}
	if len(kept) == 0 {
		return ".", nil
	}
	return strings.Join(kept, "/"), nil
}
