// Command floorserver is the benchmark's floor for davnas: the least a Go
// server can be while linking the libraries davnas's issues require
// (urfave/cli for its command line, prometheus/client_golang for /metrics,
// gorilla/handlers, log/slog, x/crypto's bcrypt for htpasswd users,
// crypto/tls), and the least it can do for a 4 KiB PUT while keeping
// davnas's promise that a reader sees a whole file or none: open the
// directory, write an O_TMPFILE, name it with linkat (no fsync, as davnas
// --fsync=false). It logs and counts nothing per request, and serves
// nothing else (no WebDAV, no locks, no limits, no downloads).
//
// Its idle RSS and its 4 KiB PUT rate, measured in the same run, bound what
// davnas can reach on the machine. test/bench builds it like davnas (static,
// stripped) into its temporary directory and runs it on 127.0.0.1; the
// benchmark's own paths are trusted (no symlink checks).
package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"strconv"
	"sync"

	"github.com/gorilla/handlers"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sys/unix"
)

func main() {
	app := &cli.App{
		Name:  "floorserver",
		Usage: "the benchmark's floor: davnas's libraries, an atomic PUT, nothing else",
		Commands: []*cli.Command{{
			Name: "serve",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "addr", Value: "127.0.0.1:0", Usage: "address to listen on"},
				&cli.StringFlag{Name: "root", Value: ".", Usage: "directory PUTs write into"},
				&cli.StringFlag{Name: "bcrypt-hash", Usage: "require Basic auth with a password of this bcrypt hash"},
				&cli.StringFlag{Name: "tls-cert", Usage: "serve TLS with this certificate (and --tls-key)"},
				&cli.StringFlag{Name: "tls-key", Usage: "the certificate's key"},
			},
			Action: serve,
		}},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "floorserver:", err)
		os.Exit(1)
	}
}

var bufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

func serve(c *cli.Context) error {
	root, err := unix.Open(c.String("root"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	hash := []byte(c.String("bcrypt-hash"))

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if len(hash) > 0 {
			_, pass, ok := r.BasicAuth()
			if !ok || bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		if r.Method != http.MethodPut {
			w.Write([]byte("floor\n"))
			return
		}
		if err := create(root, path.Clean("/" + r.URL.Path)[1:], r.Body); err != nil {
			http.Error(w, "PUT failed", http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	srv := &http.Server{Addr: c.String("addr"), Handler: handlers.RecoveryHandler()(mux)}
	log.Info("listening", "addr", srv.Addr)
	if cert := c.String("tls-cert"); cert != "" {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		return srv.ListenAndServeTLS(cert, c.String("tls-key"))
	}
	return srv.ListenAndServe()
}

// create writes body into an unnamed file in name's directory, under the
// directory descriptor root, and links it under name: a reader sees the
// whole file or none. The directory must exist.
func create(root int, name string, body io.Reader) error {
	dfd, err := unix.Openat(root, path.Dir(name), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	fd, err := unix.Openat(dfd, ".", unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	buf := *bp
	for {
		n, rerr := io.ReadFull(body, buf)
		for p := buf[:n]; len(p) > 0; {
			w, err := unix.Write(fd, p)
			if err != nil {
				return err
			}
			p = p[w:]
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	base := path.Base(name)
	err = unix.Linkat(fd, "", dfd, base, unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPERM) {
		// Without CAP_DAC_READ_SEARCH, through /proc, as davnas does.
		err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), dfd, base, unix.AT_SYMLINK_FOLLOW)
	}
	return err
}
