// Command xnetserver is the benchmark's bare golang.org/x/net/webdav
// reference: the library's Handler over webdav.Dir with the in-memory lock
// system, nothing else (no logging, no limits). test/bench builds it into its
// temporary directory and runs it on 127.0.0.1.
package main

import (
	"flag"
	"log"
	"net/http"

	"golang.org/x/net/webdav"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	root := flag.String("root", ".", "directory to serve")
	flag.Parse()
	h := &webdav.Handler{FileSystem: webdav.Dir(*root), LockSystem: webdav.NewMemLS()}
	log.Fatal(http.ListenAndServe(*addr, h))
}
