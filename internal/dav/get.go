package dav

import (
	"html/template"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/davnas/davnas/internal/storage"
	"github.com/davnas/davnas/internal/transfer"
)

// get serves a file through the shared download path, or a collection as
// an HTML page for browsers (x/net/webdav answers 405).
func (h *Handler) get(w http.ResponseWriter, r *http.Request, clean string) error {
	f, fi, err := h.store.Open(clean)
	if err != nil {
		return err
	}
	defer f.Close()
	if !fi.IsDir() {
		transfer.ServeFile(w, r, f, fi)
		return nil
	}
	if !strings.HasSuffix(r.URL.Path, "/") {
		// Relative links in the page need the collection's trailing slash.
		// The target is built from the cleaned name, never from the request
		// path: "//evil.example" would otherwise redirect off-site.
		loc := (&url.URL{Path: h.prefix + lockName(clean) + "/"}).EscapedPath()
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusMovedPermanently)
		return nil
	}
	entries, err := h.store.List(r.Context(), clean)
	if err != nil {
		return err
	}
	page := listingPage{Title: r.URL.Path, Parent: clean != "."}
	for _, e := range entries {
		// "./" keeps a name such as "a:b" from reading as a URL scheme.
		href := "./" + url.PathEscape(e.Name)
		if e.IsDir {
			href += "/"
		}
		page.Entries = append(page.Entries, listingEntry{
			Name: e.Name, Href: href, IsDir: e.IsDir, Size: e.Size,
			ModTime: e.ModTime.Format(time.RFC3339),
			Type:    typeOf(e),
		})
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	return listingTemplate().Execute(w, page)
}

func typeOf(e storage.Entry) string {
	if e.IsDir {
		return "directory"
	}
	return storage.ContentType(path.Base(e.Name))
}

type listingPage struct {
	Title   string
	Parent  bool
	Entries []listingEntry
}

type listingEntry struct {
	Name, Href, ModTime, Type string
	IsDir                     bool
	Size                      int64
}

// listingTemplate is parsed on first use: most servers never render a
// listing, and parsing at start costs every process memory.
var listingTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("listing").Parse(listingHTML))
})

const listingHTML = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Index of {{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}
td,th{padding:.2em 1em;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}</style>
</head><body><h1>Index of {{.Title}}</h1>
<table><thead><tr><th>Name</th><th>Size</th><th>Modified</th><th>Type</th></tr></thead><tbody>
{{if .Parent}}<tr><td><a href="../">../</a></td><td></td><td></td><td></td></tr>
{{end}}{{range .Entries}}<tr><td><a href="{{.Href}}">{{.Name}}{{if .IsDir}}/{{end}}</a></td><td class="n">{{if not .IsDir}}{{.Size}}{{end}}</td><td>{{.ModTime}}</td><td>{{.Type}}</td></tr>
{{end}}</tbody></table></body></html>
`
