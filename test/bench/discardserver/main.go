// Command discardserver is the benchmark's ceiling for small requests: an
// HTTP server that reads every request body into nothing and answers 200
// "OK", and answers GET /small with 4 KiB from memory. What a client
// reaches against it is the cost of the client and of Go's HTTP server over
// loopback, with no file system behind. test/bench builds it into its
// temporary directory and runs it on 127.0.0.1.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"sync"
)

var bufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	small := make([]byte, 4<<10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/small" {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", "4096")
			w.Write(small)
			return
		}
		bp := bufs.Get().(*[]byte)
		_, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r.Body}, *bp)
		bufs.Put(bp)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "OK")
	})
	log.Fatal(http.ListenAndServe(*addr, h))
}
