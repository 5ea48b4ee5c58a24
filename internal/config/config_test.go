package config

import (
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

func TestValidated(t *testing.T) {
	ok := []struct {
		mut  func(*Config)
		want func(Config) bool
	}{
		{func(c *Config) {}, func(c Config) bool { return c.Listen == ":3000" && c.DAVPrefix == "/dav/" }},
		{func(c *Config) { c.Listen = "8080" }, func(c Config) bool { return c.Listen == ":8080" }},
		{func(c *Config) { c.Listen = "[::1]:0" }, func(c Config) bool { return c.Listen == "[::1]:0" }},
		{func(c *Config) { c.DAVPrefix = "/webdav" }, func(c Config) bool { return c.DAVPrefix == "/webdav/" }},
		{func(c *Config) { c.DAVPrefix = "/" }, func(c Config) bool { return c.DAVPrefix == "/" }},
		{func(c *Config) { c.DAVPrefix = "/a/b/" }, func(c Config) bool { return c.DAVPrefix == "/a/b/" }},
		{func(c *Config) { c.LogLevel = "DEBUG" }, func(c Config) bool { return c.LogLevel == "debug" }},
	}
	for i, tc := range ok {
		c := Default()
		tc.mut(&c)
		got, err := c.Validated()
		if err != nil || !tc.want(got) {
			t.Errorf("case %d: %+v, %v", i, got, err)
		}
	}
	bad := []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.Listen = "nope" }, "--listen"},
		{func(c *Config) { c.Listen = ":99999" }, "port must be"},
		{func(c *Config) { c.Listen = "localhost:http" }, "port must be"},
		// Digits and dots are no host name (RFC 1123 forbids an all-numeric
		// top label): refused at once, not after a DNS lookup that may
		// take as long as the resolver's timeouts.
		{func(c *Config) { c.Listen = "256.1.1.1:0" }, "not an IP address"},
		{func(c *Config) { c.Listen = "10.0.1:80" }, "not an IP address"},
		{func(c *Config) { c.DAVPrefix = "dav" }, "must start with /"},
		{func(c *Config) { c.DAVPrefix = "/file/" }, "used by davnas"},
		{func(c *Config) { c.DAVPrefix = "/healthz" }, "used by davnas"},
		{func(c *Config) { c.DAVPrefix = "/a/../b" }, "clean path"},
		{func(c *Config) { c.DAVPrefix = "/a//b" }, "clean path"},
		{func(c *Config) { c.DAVPrefix = "/a?b" }, "plain path"},
		{func(c *Config) { c.LogFormat = "xml" }, "--log-format"},
		{func(c *Config) { c.LogLevel = "loud" }, "--log-level"},
		{func(c *Config) { c.ShutdownGrace = -time.Second }, "negative"},
		{func(c *Config) { c.Root = " " }, "--root"},
	}
	for _, tc := range bad {
		c := Default()
		tc.mut(&c)
		_, err := c.Validated()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("want one-line error containing %q, got %v", tc.want, err)
		}
	}
}

// parse runs the serve flags over args with the given environment.
func parse(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	app := cli.NewApp()
	var cfg Config
	var err error
	cmd := &cli.Command{Name: "serve", Flags: Flags(), Action: func(c *cli.Context) error {
		cfg, err = FromCLI(c, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		return nil
	}}
	app.Commands = []*cli.Command{cmd}
	if runErr := app.Run(append([]string{"davnas", "serve"}, args...)); runErr != nil {
		t.Fatal(runErr)
	}
	return cfg, err
}

func TestHTTPNASEnvironment(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(Config) bool
	}{
		{"http-nas variables", nil, map[string]string{"STORAGE_PATH": "/mnt/storage", "PORT": "4000"},
			func(c Config) bool { return c.Root == "/mnt/storage" && c.Listen == ":4000" }},
		{"DAVNAS_* win over http-nas's", nil, map[string]string{"DAVNAS_ROOT": "/a", "STORAGE_PATH": "/b", "PORT": "4000", "DAVNAS_LISTEN": ":5000"},
			func(c Config) bool { return c.Root == "/a" && c.Listen == ":5000" }},
		{"flags win over the environment", []string{"--listen", "127.0.0.1:6000", "--root", "/c"}, map[string]string{"PORT": "4000", "STORAGE_PATH": "/b"},
			func(c Config) bool { return c.Root == "/c" && c.Listen == "127.0.0.1:6000" }},
		{"defaults", []string{"--fsync=false"}, nil,
			func(c Config) bool {
				return !c.Fsync && c.Root == DefaultRoot && c.Listen == DefaultListen && c.DAVPrefix == DefaultDAVPrefix
			}},
		{"security and limit flags", []string{"--auth-file", "/u", "--token-file", "/t", "--read-only", "--tls-cert", "/c", "--tls-key", "/k",
			"--tls-min-version", "1.3", "--cors-origin", "https://a.example,https://b.example", "--max-upload-size", "2G",
			"--min-free-space", "1G", "--stall-timeout", "30s", "--max-connections", "64", "--allow-infinite-depth"}, nil,
			func(c Config) bool {
				return c.AuthFile == "/u" && c.TokenFile == "/t" && c.ReadOnly && c.TLSCert == "/c" && c.TLSKey == "/k" &&
					c.TLSMinVersion == "1.3" && len(c.CORSOrigins) == 2 && c.MaxUploadSize == 2<<30 && c.MinFreeSpace == 1<<30 &&
					c.StallTimeout == 30*time.Second && c.MaxConnections == 64 && c.AllowInfiniteDepth
			}},
		{"security variables", nil, map[string]string{"DAVNAS_AUTH_FILE": "/u", "DAVNAS_READ_ONLY": "true", "DAVNAS_MAX_UPLOAD_SIZE": "10M"},
			func(c Config) bool { return c.AuthFile == "/u" && c.ReadOnly && c.MaxUploadSize == 10<<20 }},
		{"DAVNAS_* variables", nil, map[string]string{"DAVNAS_FSYNC": "false", "DAVNAS_SHUTDOWN_GRACE": "5s", "DAVNAS_LOG_FORMAT": "json", "DAVNAS_DAV_PREFIX": "/w"},
			func(c Config) bool {
				return !c.Fsync && c.ShutdownGrace == 5*time.Second && c.LogFormat == "json" && c.DAVPrefix == "/w/"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse(t, tt.args, tt.env)
			if err != nil || !tt.check(cfg) {
				t.Errorf("%+v, %v", cfg, err)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "0": 0, "512": 512, "1K": 1024, "1KiB": 1024, "2M": 2 << 20, "20G": 20 << 30, "1Gi": 1 << 30, "3T": 3 << 40, "10 MB": 10 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"x", "1X", "-1", "1.5G", "99999999999T"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
}

func TestUnknownEnv(t *testing.T) {
	got := UnknownEnv([]string{"DAVNAS_ROOT=/d", "DAVNAS_AUTHFILE=x", "DAVNAS_PORT=tcp://1.2.3.4:3000",
		"DAVNAS_PORT_3000_TCP_ADDR=1.2.3.4", "DAVNAS_SERVICE_HOST=1.2.3.4", "PATH=/bin", "DAVNAS_LOG_LEVEL=info"})
	if len(got) != 1 || got[0] != "DAVNAS_AUTHFILE" {
		t.Errorf("UnknownEnv = %v", got)
	}
}
