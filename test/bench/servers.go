package main

// The servers under test and the tools the workloads need: installing
// missing apt packages, building davnas and the two Go helpers, starting
// davnas, x/net/webdav, nginx and the discard server on 127.0.0.1.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const davExtModule = "/usr/lib/nginx/modules/ngx_http_dav_ext_module.so"

// ensureTools installs what is missing (as root, with apt-get) and reports
// what is still missing; the workloads that need it are skipped.
func (b *bench) ensureTools() {
	missing := func() []string {
		var pkgs []string
		if _, err := exec.LookPath("nginx"); err != nil {
			pkgs = append(pkgs, "nginx-extras")
		}
		if _, err := os.Stat(davExtModule); err != nil {
			pkgs = append(pkgs, "libnginx-mod-http-dav-ext")
		}
		for _, c := range []string{"wrk", "curl"} {
			if _, err := exec.LookPath(c); err != nil {
				pkgs = append(pkgs, c)
			}
		}
		return pkgs
	}
	if pkgs := missing(); len(pkgs) > 0 {
		if _, err := exec.LookPath("apt-get"); err == nil && os.Geteuid() == 0 {
			logf("installing %s with apt-get", strings.Join(pkgs, " "))
			os.Setenv("DEBIAN_FRONTEND", "noninteractive")
			if _, err := run("apt-get", append([]string{"install", "-y", "-qq", "--no-install-recommends"}, pkgs...)...); err != nil {
				run("apt-get", "update", "-qq")
				if _, err := run("apt-get", append([]string{"install", "-y", "-qq", "--no-install-recommends"}, pkgs...)...); err != nil {
					logf("apt-get install failed: %v", err)
				}
			}
		}
	}
	_, errNginx := exec.LookPath("nginx")
	_, errWrk := exec.LookPath("wrk")
	_, errCurl := exec.LookPath("curl")
	_, errExt := os.Stat(davExtModule)
	b.have = map[string]bool{"nginx": errNginx == nil, "dav_ext": errExt == nil, "wrk": errWrk == nil, "curl": errCurl == nil}
	for _, t := range []string{"nginx", "dav_ext", "wrk", "curl"} {
		if !b.have[t] {
			b.res.note("%s is not installed (not root, or apt-get failed): the rows that need it are skipped", t)
		}
	}
}

// build compiles davnas as the release does (static, stripped) and the
// helpers into the temporary directory.
func (b *bench) build() {
	for _, t := range []struct{ out, pkg string }{
		{"davnas", "./cmd/davnas"},
		{"xnetserver", "./test/bench/xnetserver"},
		{"discardserver", "./test/bench/discardserver"},
		{"floorserver", "./test/bench/floorserver"},
	} {
		// The release's flags (Makefile, .ci/build-static.sh): the tag
		// leaves out urfave/cli's documentation generators.
		cmd := exec.Command("go", "build", "-trimpath", "-tags", "urfave_cli_no_docs", "-ldflags", "-s -w", "-o", filepath.Join(b.tmp, "bin", t.out), t.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fatalf("go build %s: %v\n%s", t.pkg, err, out)
		}
	}
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// server is one server under test, restarted every round.
type server struct {
	name  string // "davnas", "davnas --fsync=false", "x/net", "nginx", floorName + " (limit)"
	kind  string // davnas, xnet, nginx, floor
	root  string
	extra []string // more davnas flags
	base  string   // http://127.0.0.1:PORT
	p     *proc
}

func (s *server) isDavnas() bool { return s.kind == "davnas" }

// getURL is where a file is downloaded from; putURL where WebDAV PUT writes.
func (s *server) getURL(name string) string {
	if s.isDavnas() {
		return s.base + "/file/" + name
	}
	return s.base + "/" + name
}

func (s *server) davURL(name string) string {
	if s.isDavnas() {
		return s.base + "/dav/" + name
	}
	return s.base + "/" + name
}

// uploadVia lists how a whole file is uploaded: davnas by POST /file/ and
// WebDAV PUT /dav/, the others by PUT.
type via struct{ label, method string }

func (s *server) uploadVias() []via {
	if s.isDavnas() {
		return []via{{"POST /file", "POST"}, {"PUT /dav", "PUT"}}
	}
	return []via{{"PUT", "PUT"}}
}

func (s *server) uploadURL(v via, name string) string {
	if v.method == "POST" {
		return s.base + "/file/" + name
	}
	return s.davURL(name)
}

func (b *bench) startServer(s *server, round int) error {
	port := freePort()
	s.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logPath := filepath.Join(b.tmp, "logs", fmt.Sprintf("%s-r%d.log", strings.NewReplacer("/", "", " ", "", "-", "").Replace(s.name), round))
	var err error
	switch s.kind {
	case "davnas":
		args := append([]string{"serve", "--root", s.root, "--listen", addr}, s.extra...)
		s.p, err = startProc(s.name, logPath, filepath.Join(b.tmp, "bin", "davnas"), args...)
	case "xnet":
		s.p, err = startProc(s.name, logPath, filepath.Join(b.tmp, "bin", "xnetserver"), "-addr", addr, "-root", s.root)
	case "floor":
		s.p, err = startProc(s.name, logPath, filepath.Join(b.tmp, "bin", "floorserver"), "serve", "--addr", addr, "--root", s.root)
	case "nginx":
		prefix := filepath.Join(b.tmp, "nginx")
		conf := filepath.Join(prefix, "nginx.conf")
		if err := os.WriteFile(conf, []byte(b.nginxConf(prefix, s.root, addr)), 0o644); err != nil {
			return err
		}
		s.p, err = startProc(s.name, logPath, "nginx", "-p", prefix, "-e", filepath.Join(prefix, "error.log"),
			"-c", conf, "-g", "daemon off; pid "+filepath.Join(prefix, "nginx.pid")+";")
	}
	if err != nil {
		return err
	}
	return waitReady(s.p, strings.TrimPrefix(s.base, "http://"))
}

// restart stops s and starts it again: a fresh process whose VmHWM is the
// peak of what follows.
func (b *bench) restart(s *server) {
	s.p.stop()
	if err := b.startServer(s, b.res.round); err != nil {
		fatalf("%v", err)
	}
}

// waitReady waits until p accepts connections on addr (host:port). It asks
// nothing: an HTTP probe would make each server do its own work for it
// before the idle RSS is read (davnas rendered the root's HTML listing for
// "GET /"; x/net refused it with a 405).
func waitReady(p *proc, addr string) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if !p.alive() {
			return fmt.Errorf("%s exited at start: %v", p.name, p.err)
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not accept connections within 15 s", p.name)
}

// nginxConf: the dav module for PUT/DELETE/MKCOL/COPY/MOVE, dav_ext for
// PROPFIND, no body size limit, sendfile, every path in the temp dir.
func (b *bench) nginxConf(prefix, root, addr string) string {
	load, ext := "", ""
	if b.have["dav_ext"] {
		load = "load_module " + davExtModule + ";"
		ext = "dav_ext_methods PROPFIND OPTIONS;"
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers must write the root's temp files
	}
	return fmt.Sprintf(`%s
%s
worker_processes auto;
events { worker_connections 1024; }
http {
    access_log %[3]s/access.log;
    client_body_temp_path %[3]s/client_body;
    proxy_temp_path %[3]s/proxy;
    fastcgi_temp_path %[3]s/fastcgi;
    uwsgi_temp_path %[3]s/uwsgi;
    scgi_temp_path %[3]s/scgi;
    sendfile on;
    tcp_nopush on;
    client_max_body_size 0;
    types { text/plain txt; }
    default_type application/octet-stream;
    server {
        listen %[4]s;
        root %[5]s;
        location / {
            dav_methods PUT DELETE MKCOL COPY MOVE;
            %[6]s
            create_full_put_path on;
            dav_access user:rw group:rw all:r;
        }
    }
}
`, load, user, prefix, addr, root, ext)
}

// startDiscard starts the discard server once for the whole run.
func (b *bench) startDiscard() {
	port := freePort()
	b.discardURL = "http://127.0.0.1:" + strconv.Itoa(port)
	p, err := startProc("discard", filepath.Join(b.tmp, "logs", "discard.log"),
		filepath.Join(b.tmp, "bin", "discardserver"), "-addr", "127.0.0.1:"+strconv.Itoa(port))
	if err == nil {
		err = waitReady(p, strings.TrimPrefix(b.discardURL, "http://"))
	}
	if err != nil {
		fatalf("discard server: %v", err)
	}
}

// floorName names floorserver's rows: its idle RSS is "floorName (limit)",
// its 4 KiB PUT rate "floorName, atomic PUT (limit)".
const floorName = "Go server with davnas's libraries"
