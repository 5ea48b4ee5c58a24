// Package server assembles davnas: it opens the store, routes requests to
// the /file/ API, WebDAV and the probes, wraps them in the middleware chain
// (proxy headers, request log, panic recovery) and runs the http.Server
// with its lifecycle: listen, serve, drain on shutdown.
//
// It owns no protocol logic of its own.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync"
	"time"

	"github.com/davnas/davnas/internal/auth"
	"github.com/davnas/davnas/internal/config"
	"github.com/davnas/davnas/internal/dav"
	"github.com/davnas/davnas/internal/fileapi"
	"github.com/davnas/davnas/internal/locking"
	"github.com/davnas/davnas/internal/metrics"
	"github.com/davnas/davnas/internal/storage"
	"github.com/davnas/davnas/internal/version"
)

// HTTP server limits. There is deliberately no ReadTimeout or WriteTimeout:
// a whole-request deadline would cut multi-GiB transfers.
const (
	handlerCleanupWait = 10 * time.Second
	readHeaderTimeout  = 10 * time.Second
	idleTimeout        = 2 * time.Minute
	maxHeaderBytes     = 64 << 10
)

// Server is one davnas instance.
type Server struct {
	cfg        config.Config
	log        *slog.Logger
	store      *storage.Store
	locks      *locking.System
	auth       *auth.Authenticator
	certs      *certReloader // nil without TLS
	metrics    *metrics.Metrics
	progress   progressReporter
	metricsSrv *http.Server // nil unless --metrics-listen
	metricsLn  net.Listener
	accessOut  io.Writer // the combined access log (stdout; tests set it)
	handler    http.Handler
	http       *http.Server
	ln         net.Listener
	bg         sync.WaitGroup

	mu   sync.Mutex
	apis map[string]*apiSet // by principal root

	// inflight counts handlers still running, so that after the grace
	// period their cleanup (a temp file removed, an append rolled back)
	// finishes before the store closes and the process exits.
	inflight sync.WaitGroup
}

// apiSet is the two APIs over one root: the volume's, or a user's own.
type apiSet struct {
	files *fileapi.Handler
	dav   *dav.Handler
}

// New opens the storage root and builds the handler chain. It does not
// listen yet.
func New(cfg config.Config, log *slog.Logger) (*Server, error) {
	cfg, err := cfg.Validated()
	if err != nil {
		return nil, err
	}
	a, err := auth.New(auth.Config{AuthFile: cfg.AuthFile, TokenFile: cfg.TokenFile}, log)
	if err != nil {
		return nil, err
	}
	var certs *certReloader
	if cfg.TLSCert != "" {
		if certs, err = newCertReloader(cfg.TLSCert, cfg.TLSKey, log); err != nil {
			return nil, err
		}
	}
	store, err := storage.Open(cfg.Root, storage.Options{Fsync: cfg.Fsync, MinFree: cfg.MinFreeSpace, ReadOnly: cfg.ReadOnly})
	if err != nil {
		return nil, err
	}
	for _, r := range store.RolledBack() {
		// The journal undid an append a crash cut: the client was never
		// answered, but the operator should know which file it was.
		log.Warn("interrupted append rolled back", "path", r.Name, "size", r.Size, "torn_size", r.Torn)
	}
	s := &Server{cfg: cfg, log: log, store: store, locks: locking.New(), auth: a, certs: certs, apis: map[string]*apiSet{}}
	ver, commit, gover := version.Info()
	s.metrics = metrics.New(metrics.Sources{
		Usage:   store.Space,
		Appends: store.AppendStats,
		Locks:   s.locks.Count,
		Version: ver, Commit: commit, GoVersion: gover,
	})
	s.handler = s.middleware(s.routes())
	if cfg.MetricsListen != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.metrics.Handler())
		s.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	}
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ConnContext:       rawConnContext,
	}
	if certs != nil {
		s.http.TLSConfig = tlsConfig(certs, cfg.TLSMinVersion)
	}
	return s, nil
}

// apiFor returns the handlers confined to root ("" for the whole volume),
// made on first use: a user's own root is an os.Root of its own, with a
// view of the one lock system.
func (s *Server) apiFor(root string) (*apiSet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.apis[root]; a != nil {
		return a, nil
	}
	store, locks := s.store, s.locks
	if root != "" {
		sub, err := s.store.Sub(root)
		if err != nil {
			return nil, err
		}
		store, locks = sub, s.locks.Sub("/"+root)
	}
	a := &apiSet{
		files: fileapi.New(store, locks, s.log),
		dav:   dav.New(s.cfg.DAVPrefix, store, locks, dav.Options{AllowInfiniteDepth: s.cfg.AllowInfiniteDepth}, s.log),
	}
	s.apis[root] = a
	return a, nil
}

// Handler is the complete handler chain, for in-process tests.
func (s *Server) Handler() http.Handler { return s.handler }

// Store is the server's storage.
func (s *Server) Store() *storage.Store { return s.store }

// Listen binds the configured address.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			err = oe.Err
		}
		return fmt.Errorf("cannot listen on %s: %w", s.cfg.Listen, err)
	}
	s.ln = ln
	if s.metricsSrv != nil {
		mln, err := net.Listen("tcp", s.cfg.MetricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("cannot listen on %s (--metrics-listen): %w", s.cfg.MetricsListen, err)
		}
		s.metricsLn = mln
	}
	return nil
}

// MetricsAddr is the bound --metrics-listen address, or nil.
func (s *Server) MetricsAddr() net.Addr {
	if s.metricsLn == nil {
		return nil
	}
	return s.metricsLn.Addr()
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until ctx is cancelled, then stops accepting, lets in-flight
// requests finish for the shutdown grace period, closes what is left and
// returns nil.
func (s *Server) Serve(ctx context.Context) error {
	ver, commit, gover := version.Info()
	s.log.Info("davnas listening",
		"addr", s.ln.Addr().String(), "root", s.cfg.Root, "dav_prefix", s.cfg.DAVPrefix,
		"fsync", s.cfg.Fsync, "version", ver, "commit", commit, "go", gover)

	if !s.auth.Enabled() && !loopback(s.ln.Addr()) {
		s.log.Warn("no authentication: anyone who can reach " + s.ln.Addr().String() +
			" can read, overwrite and delete everything under the root (see --auth-file, --token-file, --read-only)")
	}

	bgCtx, stopBg := context.WithCancel(context.Background())
	s.bg.Go(func() { s.sweep(bgCtx) })
	if s.auth.Enabled() {
		s.bg.Go(func() { s.auth.Run(bgCtx) })
	}

	if s.metricsSrv != nil {
		s.log.Info("metrics listening", "addr", s.metricsLn.Addr().String())
		s.bg.Go(func() { s.metricsSrv.Serve(s.metricsLn) })
		s.bg.Go(func() { <-bgCtx.Done(); s.metricsSrv.Close() })
	}
	errc := make(chan error, 1)
	go func() {
		if s.certs != nil {
			errc <- s.http.ServeTLS(s.ln, "", "")
			return
		}
		errc <- s.http.Serve(s.ln)
	}()

	var serveErr error
	select {
	case err := <-errc:
		serveErr = err
	case <-ctx.Done():
		s.log.Info("shutting down: draining in-flight requests", "grace", s.cfg.ShutdownGrace)
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
		err := s.http.Shutdown(sctx)
		cancel()
		if err != nil {
			s.log.Warn("grace period over: closing remaining connections", "err", err)
			s.http.Close()
		}
		<-errc
		// Closed connections make the remaining handlers fail fast; wait
		// for their cleanup, boundedly.
		done := make(chan struct{})
		go func() { s.inflight.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(handlerCleanupWait):
			s.log.Warn("handlers still running after shutdown; exiting anyway")
		}
	}
	stopBg()
	s.bg.Wait()
	s.store.Close()
	FlushLog(s.log) // request lines held for a moment (see lockedWriter)
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	s.log.Info("davnas stopped")
	return nil
}

// sweep removes temporary files left by uploads a crash interrupted. It
// runs in the background: a large volume takes a while to walk, and the
// files it looks for are invisible to clients anyway.
// Temporary files left by a crash moments before this start are too young
// for the first pass; it is repeated once they are old enough.
func (s *Server) sweep(ctx context.Context) {
	start := time.Now()
	allocated := heapAllocated()
	total := 0
	for pass := 0; pass < 3; pass++ {
		n, young, err := s.store.SweepTemp(ctx)
		total += n
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("stale temporary file sweep failed", "err", err, "removed", total)
			}
			return
		}
		if young == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(storage.StaleAfter + 100*time.Millisecond):
		}
	}
	s.log.Info("stale temporary file sweep done", "removed", total, "dur", time.Since(start).Round(time.Millisecond))
	// Garbage the walk made would stay in the heap, counted in RSS, until
	// the runtime's scavenger returned it minutes later. The walk streams
	// and allocates almost nothing (0.3 MB for 50,000 files), and a forced
	// collection in a process that never needed one costs RSS of its own
	// (mark bits, work buffers, the collector's code: 0.75 MiB idle).
	if heapAllocated()-allocated >= sweepGarbage {
		debug.FreeOSMemory()
	}
}

// sweepGarbage is how much the start-up sweep (and whatever ran meanwhile)
// must have allocated for its end to force a collection: the heap's first
// goal, below which the runtime does not collect at all.
var sweepGarbage uint64 = 4 << 20

// heapAllocated is the bytes allocated on the heap since the process began.
func heapAllocated() uint64 {
	s := []rtmetrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	rtmetrics.Read(s)
	if s[0].Value.Kind() != rtmetrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// Run is `davnas serve`: open, listen, serve until ctx ends.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	s, err := New(cfg, log)
	if err != nil {
		return err
	}
	if err := s.Listen(); err != nil {
		s.store.Close()
		return err
	}
	return s.Serve(ctx)
}

// loopback reports whether addr only accepts local connections.
func loopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
