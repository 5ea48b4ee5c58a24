// Package config holds davnas's settings: the Config struct, its defaults,
// the command-line flags (each with its environment variables) and
// validation. It does no I/O beyond reading the flags it is given.
package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// Config is everything `davnas serve` needs.
type Config struct {
	Root               string        // directory served
	Listen             string        // host:port
	DAVPrefix          string        // URL path of WebDAV, normalised to "/x/" ("/" for the root)
	Fsync              bool          // sync data and directory before acknowledging writes
	LogFormat          string        // text or json
	LogLevel           string        // debug, info, warn or error
	ShutdownGrace      time.Duration // how long SIGTERM waits for transfers
	TrustProxyHeaders  bool          // take client address and scheme from X-Forwarded-*
	AllowInfiniteDepth bool          // PROPFIND Depth: infinity walks the whole tree
	AuthFile           string        // htpasswd users (bcrypt)
	TokenFile          string        // bearer tokens
	ReadOnly           bool          // refuse every write, for everyone
	TLSCert, TLSKey    string        // serve HTTPS (and HTTP/2)
	TLSMinVersion      string        // "1.2" or "1.3"
	CORSOrigins        []string      // origins allowed cross-origin requests
	MaxUploadSize      int64         // bytes per request body; 0: no limit
	MinFreeSpace       int64         // refuse writes that would leave less free space (bytes)
	StallTimeout       time.Duration // drop a transfer that stalls this long; 0: never
	MaxConnections     int           // concurrent requests; beyond: 503; 0: no limit
	MetricsListen      string        // a separate address for /metrics; "" serves it on Listen
	AccessLog          string        // "combined": also an Apache combined log on stdout
}

// Defaults. Port 3000 and ./data keep http-nas's URLs and a run command that
// works from a fresh checkout.
const (
	DefaultRoot          = "./data"
	DefaultListen        = ":3000"
	DefaultDAVPrefix     = "/dav/"
	DefaultShutdownGrace = 30 * time.Second
)

// Default returns the configuration `davnas serve` uses with no flags.
func Default() Config {
	return Config{
		Root:          DefaultRoot,
		Listen:        DefaultListen,
		DAVPrefix:     DefaultDAVPrefix,
		Fsync:         true,
		LogFormat:     "text",
		LogLevel:      "info",
		ShutdownGrace: DefaultShutdownGrace,
		TLSMinVersion: "1.2",
		StallTimeout:  DefaultStallTimeout,
	}
}

// DefaultStallTimeout drops a body that stalls for a minute: long enough
// for a slow pipe, short enough that a stalled client does not pin a
// temporary file and a goroutine for ever.
const DefaultStallTimeout = time.Minute

// Flag names.
const (
	flagRoot        = "root"
	flagListen      = "listen"
	flagDAVPrefix   = "dav-prefix"
	flagFsync       = "fsync"
	flagLogFormat   = "log-format"
	flagLogLevel    = "log-level"
	flagGrace       = "shutdown-grace"
	flagTrustProxy  = "trust-proxy-headers"
	flagInfinite    = "allow-infinite-depth"
	flagAuthFile    = "auth-file"
	flagTokenFile   = "token-file"
	flagReadOnly    = "read-only"
	flagTLSCert     = "tls-cert"
	flagTLSKey      = "tls-key"
	flagTLSMin      = "tls-min-version"
	flagCORS        = "cors-origin"
	flagMaxUpload   = "max-upload-size"
	flagMinFree     = "min-free-space"
	flagStall       = "stall-timeout"
	flagMaxConns    = "max-connections"
	flagMetrics     = "metrics-listen"
	flagAccessLog   = "access-log"
	categorySec     = "Security"
	categoryLimits  = "Limits"
	envPortHTTPNAS  = "PORT"
	envRootHTTPNAS  = "STORAGE_PATH"
	envPrefix       = "DAVNAS_"
	categoryStorage = "Storage"
	categoryHTTP    = "HTTP"
	categoryLog     = "Logging"
)

func env(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Flags returns the flags of `davnas serve`, each readable from DAVNAS_*
// (and, for http-nas users, STORAGE_PATH and PORT).
func Flags() []cli.Flag {
	d := Default()
	return []cli.Flag{
		&cli.StringFlag{Name: flagRoot, Value: d.Root, Category: categoryStorage,
			EnvVars: []string{env(flagRoot), envRootHTTPNAS},
			Usage:   "directory to serve; created if missing"},
		&cli.BoolFlag{Name: flagFsync, Value: d.Fsync, Category: categoryStorage,
			EnvVars: []string{env(flagFsync)},
			Usage:   "sync file data and the directory entry before answering a write (--fsync=false trades durability on power loss for speed)"},
		&cli.StringFlag{Name: flagListen, Value: d.Listen, Category: categoryHTTP,
			EnvVars: []string{env(flagListen)},
			Usage:   "address to listen on, host:port or a port (http-nas's PORT is honoured when this is not set)"},
		&cli.StringFlag{Name: flagDAVPrefix, Value: d.DAVPrefix, Category: categoryHTTP,
			EnvVars: []string{env(flagDAVPrefix)},
			Usage:   "URL path WebDAV is served under"},
		&cli.DurationFlag{Name: flagGrace, Value: d.ShutdownGrace, Category: categoryHTTP,
			EnvVars: []string{env(flagGrace)},
			Usage:   "on SIGTERM/SIGINT, how long in-flight transfers may take to finish"},
		&cli.BoolFlag{Name: flagTrustProxy, Value: false, Category: categoryHTTP,
			EnvVars: []string{env(flagTrustProxy)},
			Usage:   "take the client address and scheme from X-Forwarded-For/-Proto (only behind a proxy you control)"},
		&cli.BoolFlag{Name: flagInfinite, Value: false, Category: categoryHTTP,
			EnvVars: []string{env(flagInfinite)},
			Usage:   "answer WebDAV PROPFIND with Depth: infinity (a walk of the whole tree) instead of 403"},
		&cli.StringFlag{Name: flagAuthFile, Category: categorySec, EnvVars: []string{env(flagAuthFile)},
			Usage: "require HTTP Basic authentication: users in htpasswd format with bcrypt hashes, user:hash[:rw|ro[:root]] (davnas passwd writes lines); re-read when it changes"},
		&cli.StringFlag{Name: flagTokenFile, Category: categorySec, EnvVars: []string{env(flagTokenFile)},
			Usage: "accept bearer tokens: name:sha256:hex[:rw|ro[:root]] (davnas token writes lines); re-read when it changes"},
		&cli.BoolFlag{Name: flagReadOnly, Category: categorySec, EnvVars: []string{env(flagReadOnly)},
			Usage: "refuse every write (403), whoever asks"},
		&cli.StringFlag{Name: flagTLSCert, Category: categorySec, EnvVars: []string{env(flagTLSCert)},
			Usage: "serve HTTPS and HTTP/2 with this certificate (PEM); reloaded when the file changes"},
		&cli.StringFlag{Name: flagTLSKey, Category: categorySec, EnvVars: []string{env(flagTLSKey)},
			Usage: "private key of --tls-cert (PEM)"},
		&cli.StringFlag{Name: flagTLSMin, Value: d.TLSMinVersion, Category: categorySec, EnvVars: []string{env(flagTLSMin)},
			Usage: "oldest TLS version accepted: 1.2 or 1.3"},
		&cli.StringSliceFlag{Name: flagCORS, Category: categorySec, EnvVars: []string{env(flagCORS)},
			Usage: "allow cross-origin requests (CORS) from this origin, e.g. https://app.example.com; repeat or comma-separate; * for any"},
		&cli.StringFlag{Name: flagMaxUpload, Value: "0", Category: categoryLimits, EnvVars: []string{env(flagMaxUpload)},
			Usage: "largest request body (upload, append), e.g. 20G; larger ones get 413 and nothing is kept; 0: no limit"},
		&cli.StringFlag{Name: flagMinFree, Value: "0", Category: categoryLimits, EnvVars: []string{env(flagMinFree)},
			Usage: "refuse writes (507) that would leave less free space than this on the volume, e.g. 1G"},
		&cli.DurationFlag{Name: flagStall, Value: d.StallTimeout, Category: categoryLimits, EnvVars: []string{env(flagStall)},
			Usage: "drop a transfer whose body moves less than 1 KiB/s over this window (a stalled or trickling client); 0: never"},
		&cli.IntFlag{Name: flagMaxConns, Category: categoryLimits, EnvVars: []string{env(flagMaxConns)},
			Usage: "most requests in flight at once; beyond it 503 with Retry-After; 0: no limit"},
		&cli.StringFlag{Name: flagMetrics, Category: categoryLog, EnvVars: []string{env(flagMetrics)},
			Usage: "serve Prometheus /metrics on this address (host:port or a port), without authentication; empty: on --listen, behind authentication"},
		&cli.StringFlag{Name: flagAccessLog, Category: categoryLog, EnvVars: []string{env(flagAccessLog)},
			Usage: "\"combined\": also write an Apache combined access log to stdout"},
		&cli.StringFlag{Name: flagLogFormat, Value: d.LogFormat, Category: categoryLog,
			EnvVars: []string{env(flagLogFormat)},
			Usage:   "log format: text or json"},
		&cli.StringFlag{Name: flagLogLevel, Value: d.LogLevel, Category: categoryLog,
			EnvVars: []string{env(flagLogLevel)},
			Usage:   "log level: debug, info, warn or error"},
	}
}

// FromCLI builds a validated Config from a parsed command line. lookupEnv
// (os.LookupEnv) is consulted for http-nas's PORT, which applies only when
// neither --listen nor DAVNAS_LISTEN is set.
func FromCLI(c *cli.Context, lookupEnv func(string) (string, bool)) (Config, error) {
	cfg := Config{
		Root:               c.String(flagRoot),
		Listen:             c.String(flagListen),
		DAVPrefix:          c.String(flagDAVPrefix),
		Fsync:              c.Bool(flagFsync),
		LogFormat:          c.String(flagLogFormat),
		LogLevel:           c.String(flagLogLevel),
		ShutdownGrace:      c.Duration(flagGrace),
		TrustProxyHeaders:  c.Bool(flagTrustProxy),
		AllowInfiniteDepth: c.Bool(flagInfinite),
		AuthFile:           c.String(flagAuthFile),
		TokenFile:          c.String(flagTokenFile),
		ReadOnly:           c.Bool(flagReadOnly),
		TLSCert:            c.String(flagTLSCert),
		TLSKey:             c.String(flagTLSKey),
		TLSMinVersion:      c.String(flagTLSMin),
		StallTimeout:       c.Duration(flagStall),
		MaxConnections:     c.Int(flagMaxConns),
		MetricsListen:      c.String(flagMetrics),
		AccessLog:          c.String(flagAccessLog),
	}
	for _, o := range c.StringSlice(flagCORS) {
		for part := range strings.SplitSeq(o, ",") {
			if part = strings.TrimSpace(part); part != "" {
				cfg.CORSOrigins = append(cfg.CORSOrigins, part)
			}
		}
	}
	var err error
	if cfg.MaxUploadSize, err = ParseSize(c.String(flagMaxUpload)); err != nil {
		return cfg, fmt.Errorf("--%s: %v", flagMaxUpload, err)
	}
	if cfg.MinFreeSpace, err = ParseSize(c.String(flagMinFree)); err != nil {
		return cfg, fmt.Errorf("--%s: %v", flagMinFree, err)
	}
	if !c.IsSet(flagListen) && lookupEnv != nil {
		if port, ok := lookupEnv(envPortHTTPNAS); ok && port != "" {
			cfg.Listen = port
		}
	}
	return cfg.Validated()
}

// Validated checks cfg and returns it normalised (a bare port becomes
// ":port", the WebDAV prefix gets its slashes).
func (cfg Config) Validated() (Config, error) {
	var errs []error
	if strings.TrimSpace(cfg.Root) == "" {
		errs = append(errs, errors.New("--root must not be empty"))
	}
	listen, err := normalizeListen(cfg.Listen)
	if err != nil {
		errs = append(errs, err)
	}
	cfg.Listen = listen
	prefix, err := normalizePrefix(cfg.DAVPrefix)
	if err != nil {
		errs = append(errs, err)
	}
	cfg.DAVPrefix = prefix
	switch cfg.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("--log-format %q: want text or json", cfg.LogFormat))
	}
	switch strings.ToLower(cfg.LogLevel) {
	case "debug", "info", "warn", "error":
		cfg.LogLevel = strings.ToLower(cfg.LogLevel)
	default:
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", cfg.LogLevel))
	}
	if cfg.ShutdownGrace < 0 {
		errs = append(errs, fmt.Errorf("--shutdown-grace %s: must not be negative", cfg.ShutdownGrace))
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	switch cfg.TLSMinVersion {
	case "", "1.2", "1.3":
	default:
		errs = append(errs, fmt.Errorf("--tls-min-version %q: want 1.2 or 1.3", cfg.TLSMinVersion))
	}
	if cfg.MaxUploadSize < 0 || cfg.MinFreeSpace < 0 {
		errs = append(errs, errors.New("sizes must not be negative"))
	}
	if cfg.StallTimeout < 0 {
		errs = append(errs, fmt.Errorf("--stall-timeout %s: must not be negative", cfg.StallTimeout))
	}
	if cfg.MaxConnections < 0 {
		errs = append(errs, fmt.Errorf("--max-connections %d: must not be negative", cfg.MaxConnections))
	}
	if cfg.MetricsListen != "" {
		ml, err := normalizeListen(cfg.MetricsListen)
		if err != nil {
			errs = append(errs, fmt.Errorf("--metrics-listen: %v", strings.TrimPrefix(err.Error(), "--listen ")))
		}
		cfg.MetricsListen = ml
	}
	switch cfg.AccessLog {
	case "", "combined":
	default:
		errs = append(errs, fmt.Errorf("--access-log %q: want combined (or nothing)", cfg.AccessLog))
	}
	for _, o := range cfg.CORSOrigins {
		if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			errs = append(errs, fmt.Errorf("--cors-origin %q: want an origin such as https://app.example.com, or *", o))
		}
	}
	if len(errs) > 0 {
		return cfg, joinErrs(errs)
	}
	return cfg, nil
}

// joinErrs joins errors on one line: the CLI prints one line per failure
// and a list of them reads better with "; " than with newlines.
func joinErrs(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

func normalizeListen(s string) (string, error) {
	s = strings.TrimSpace(s)
	if _, err := strconv.Atoi(s); err == nil {
		s = ":" + s
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return s, fmt.Errorf("--listen %q: want host:port or a port number", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return s, fmt.Errorf("--listen %q: port must be a number from 0 to 65535", s)
	}
	if strings.ContainsAny(host, " /") {
		return s, fmt.Errorf("--listen %q: invalid host", s)
	}
	if host != "" && strings.Trim(host, "0123456789.") == "" && net.ParseIP(host) == nil {
		// No host name is digits and dots alone: a mistyped address
		// would otherwise wait for the resolver before it failed.
		return s, fmt.Errorf("--listen %q: %s is not an IP address", s, host)
	}
	return net.JoinHostPort(host, port), nil
}

// reservedPaths are served by davnas itself and cannot hold WebDAV.
var reservedPaths = []string{"/file", "/healthz", "/readyz"}

func normalizePrefix(s string) (string, error) {
	if !strings.HasPrefix(s, "/") {
		return s, fmt.Errorf("--dav-prefix %q: must start with /", s)
	}
	if strings.ContainsAny(s, "?#%\\ ") {
		return s, fmt.Errorf("--dav-prefix %q: use plain path characters", s)
	}
	trimmed := strings.Trim(s, "/")
	for elem := range strings.SplitSeq(trimmed, "/") {
		if elem == "." || elem == ".." || (elem == "" && trimmed != "") {
			return s, fmt.Errorf("--dav-prefix %q: must be a clean path", s)
		}
	}
	if trimmed == "" {
		return "/", nil
	}
	p := "/" + trimmed + "/"
	for _, r := range reservedPaths {
		if p == r+"/" || strings.HasPrefix(p, r+"/") {
			return s, fmt.Errorf("--dav-prefix %q: %s is used by davnas itself", s, r)
		}
	}
	return p, nil
}

// ParseSize reads a byte size: a number with an optional unit K, M, G or T
// (powers of 1024; "Ki", "KiB", "KB" all mean the same), e.g. 20G, 512Mi.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	i := len(s)
	for i > 0 && (s[i-1] < '0' || s[i-1] > '9') {
		i--
	}
	num, unit := s[:i], strings.ToUpper(strings.TrimSpace(s[i:]))
	unit = strings.TrimSuffix(strings.TrimSuffix(unit, "B"), "I")
	mult := int64(1)
	switch unit {
	case "":
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	case "T":
		mult = 1 << 40
	default:
		return 0, fmt.Errorf("size %q: unknown unit (use K, M, G or T)", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional K, M, G or T", s)
	}
	return n * mult, nil
}

// UnknownEnv lists the DAVNAS_* variables of environ that no flag reads: a
// typo (DAVNAS_AUTHFILE) would otherwise be silently ignored. The variables
// Kubernetes service links inject for a Service named davnas
// (DAVNAS_PORT..., DAVNAS_SERVICE_...) are not reported.
func UnknownEnv(environ []string) []string {
	known := map[string]bool{}
	for _, f := range Flags() {
		if ev, ok := f.(interface{ GetEnvVars() []string }); ok {
			for _, e := range ev.GetEnvVars() {
				known[e] = true
			}
		}
	}
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, envPrefix) || known[k] {
			continue
		}
		if k == "DAVNAS_BIN" || strings.HasPrefix(k, "DAVNAS_PORT") || strings.HasPrefix(k, "DAVNAS_SERVICE_") ||
			strings.HasPrefix(k, "DAVNAS_ALLOW_MISSING") {
			continue
		}
		out = append(out, k)
	}
	return out
}
