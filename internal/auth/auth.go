// Package auth decides who a request comes from: a user of the htpasswd
// file (HTTP Basic, bcrypt) or a bearer token of the token file, each with a
// role (read-write or read-only) and optionally a sub-directory of the
// storage root as their own root. It caches successful bcrypt verifications,
// rate-limits failures per client address, and re-reads both files when
// they change. What a principal may do with a request is decided by the
// server's access middleware, in one place.
package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Principal is who a request comes from.
type Principal struct {
	Name     string // user or token name; "" when authentication is off
	ReadOnly bool
	Root     string // sub-directory of the storage root, cleaned; "" for all of it
}

// Errors of Authenticate.
var (
	ErrNoCredentials  = errors.New("no credentials")
	ErrBadCredentials = errors.New("wrong credentials")
	ErrRateLimited    = errors.New("too many failed attempts")
)

// Config names the credential files.
type Config struct {
	AuthFile  string // htpasswd: user:bcrypt-hash[:role[:root]]
	TokenFile string // name:token-or-sha256:hex[:role[:root]]
}

// Authenticator checks credentials. The zero value is not usable; call New.
type Authenticator struct {
	cfg     Config
	log     *slog.Logger
	users   atomic.Pointer[fileSet[user]]
	tokens  atomic.Pointer[fileSet[token]]
	cache   verifyCache
	limiter failLimiter
	// dummy is a bcrypt hash compared against when the user is unknown, so
	// an unknown name takes as long as a wrong password (nil without an
	// auth file, when no Basic credentials are checked).
	dummy []byte
}

// New loads the credential files. An error in either is fatal at start;
// later, a file that fails to parse keeps the last good version.
func New(cfg Config, log *slog.Logger) (*Authenticator, error) {
	a := &Authenticator{cfg: cfg, log: log}
	if cfg.AuthFile != "" {
		// Made only where Basic credentials are checked: a bcrypt is
		// about 80 ms of CPU, most of a start's.
		a.dummy, _ = bcrypt.GenerateFromPassword([]byte("davnas-unknown-user"), cost)
		fs, err := loadUsers(cfg.AuthFile)
		if err != nil {
			return nil, err
		}
		a.users.Store(fs)
	}
	if cfg.TokenFile != "" {
		fs, err := loadTokens(cfg.TokenFile)
		if err != nil {
			return nil, err
		}
		a.tokens.Store(fs)
	}
	return a, nil
}

// Enabled reports whether any credentials are required.
func (a *Authenticator) Enabled() bool {
	return a.cfg.AuthFile != "" || a.cfg.TokenFile != ""
}

// Challenges are the WWW-Authenticate values of a 401.
func (a *Authenticator) Challenges() []string {
	var out []string
	if a.cfg.AuthFile != "" {
		out = append(out, `Basic realm="davnas", charset="UTF-8"`)
	}
	if a.cfg.TokenFile != "" {
		out = append(out, `Bearer realm="davnas"`)
	}
	return out
}

// reloadEvery is how often the credential files are checked for changes.
var reloadEvery = 2 * time.Second

// Run re-reads the credential files when they change (size, mtime or
// inode: a Kubernetes Secret update swaps a symlink) until ctx ends.
func (a *Authenticator) Run(ctx context.Context) {
	t := time.NewTicker(reloadEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.reload()
	}
}

// reload is one check of the credential files: each one that changed and
// has stayed the same since the previous check is read again (fileSet.
// settled); one that fails to parse keeps the version in use.
func (a *Authenticator) reload() {
	if a.cfg.AuthFile != "" {
		reloadFile(a.log, "auth", "users", a.cfg.AuthFile, &a.users, loadUsers)
	}
	if a.cfg.TokenFile != "" {
		reloadFile(a.log, "token", "tokens", a.cfg.TokenFile, &a.tokens, loadTokens)
	}
}

// reloadFile is reload for one file: kind names it in the log, and count
// the number of entries it holds.
func reloadFile[T any](log *slog.Logger, kind, count, path string, p *atomic.Pointer[fileSet[T]], load func(string) (*fileSet[T], error)) {
	cur := p.Load()
	if !cur.settled() {
		return
	}
	fs, err := load(path)
	if err != nil {
		log.Error(kind+" file not reloaded: keeping the previous version", "file", path, "err", err)
		cur.seen()
		return
	}
	p.Store(fs)
	log.Info(kind+" file reloaded", "file", path, count, len(fs.entries))
}

// Authenticate returns the principal of r. Failures are counted against
// the client's address; past the limit every attempt from it fails with
// ErrRateLimited until the window ends.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	ip := clientIP(r)
	if a.limiter.blocked(ip) {
		return Principal{}, ErrRateLimited
	}
	p, err := a.check(r)
	if errors.Is(err, ErrBadCredentials) {
		a.limiter.fail(ip)
	}
	return p, err
}

func (a *Authenticator) check(r *http.Request) (Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Principal{}, ErrNoCredentials
	}
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "Bearer") && a.cfg.TokenFile != "":
		return a.checkToken(cred)
	case strings.EqualFold(scheme, "Basic") && a.cfg.AuthFile != "":
		name, pass, ok := r.BasicAuth()
		if !ok {
			return Principal{}, ErrBadCredentials
		}
		return a.checkUser(name, pass)
	}
	return Principal{}, ErrNoCredentials
}

func (a *Authenticator) checkToken(tok string) (Principal, error) {
	set := a.tokens.Load()
	sum := sha256.Sum256([]byte(tok))
	t, ok := set.entries[string(sum[:])]
	if !ok || tok == "" {
		return Principal{}, ErrBadCredentials
	}
	return t.principal, nil
}

// checkUser verifies a password with bcrypt (50-100 ms by design), or with
// the cache of recent successes, keyed by a hash of user and password and
// valid only while the user's hash is unchanged.
func (a *Authenticator) checkUser(name, pass string) (Principal, error) {
	set := a.users.Load()
	u, ok := set.entries[name]
	key := cacheKey(name, pass)
	if ok && a.cache.get(key, u.hash) {
		return u.principal, nil
	}
	hash := a.dummy
	if ok {
		hash = u.hash
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(pass)); err != nil || !ok {
		return Principal{}, ErrBadCredentials
	}
	a.cache.put(key, u.hash)
	return u.principal, nil
}

// clientIP is the address failures are counted against.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
