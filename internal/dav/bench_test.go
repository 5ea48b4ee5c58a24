package dav

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/davnas/davnas/internal/locking"
	"github.com/davnas/davnas/internal/storage"
	"github.com/davnas/davnas/internal/testutil"
)

// BenchmarkPropfind10k lists a collection of 10,000 files with the
// properties davfs2 and rclone ask for (compare: nginx's dav_ext takes
// about 23 ms for the same listing over HTTP on this kind of machine).
func BenchmarkPropfind10k(b *testing.B) {
	benchPropfind10k(b, `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/><D:getcontenttype/></D:prop></D:propfind>`)
}

// BenchmarkPropfind10kAllprop: an empty body, as curl and litmus send it:
// every live property, creationdate and the dead properties of each member.
func BenchmarkPropfind10kAllprop(b *testing.B) { benchPropfind10k(b, "") }

// BenchmarkPropfind10kFinder: the listing macOS Finder asks for, with
// creationdate (the birth time).
func BenchmarkPropfind10kFinder(b *testing.B) {
	benchPropfind10k(b, `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getlastmodified/><D:getcontentlength/><D:creationdate/><D:resourcetype/></D:prop></D:propfind>`)
}

func benchPropfind10k(b *testing.B, body string) {
	dir := b.TempDir()
	for i := range 10000 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%05d report.csv", i)), nil, 0o644)
	}
	store, err := storage.Open(dir, storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	h := New("/dav/", store, locking.New(), Options{}, nil)
	b.ReportAllocs()
	for b.Loop() {
		r, _ := http.NewRequest("PROPFIND", "/dav/", strings.NewReader(body))
		r.Header.Set("Depth", "1")
		w := testutil.NewNullResponseWriter()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusMultiStatus {
			b.Fatalf("PROPFIND answered %d", w.Code)
		}
	}
}
