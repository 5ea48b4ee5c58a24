package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the given
// serial, atomically (as cert-manager's Secret update does), and returns it.
func writeCert(t *testing.T, dir string, serial int64) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "davnas test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	for name, block := range map[string]*pem.Block{"tls.crt": {Type: "CERTIFICATE", Bytes: der}, "tls.key": {Type: "EC PRIVATE KEY", Bytes: kb}} {
		tmp := filepath.Join(dir, name+".new")
		os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600)
		os.Rename(tmp, filepath.Join(dir, name))
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

func tlsClient(pool *x509.CertPool, maxVersion uint16) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, MaxVersion: maxVersion},
		ForceAttemptHTTP2: true,
		DisableKeepAlives: true,
	}}
}

func TestTLS(t *testing.T) {
	certs := t.TempDir()
	first := writeCert(t, certs, 1)
	p := testutil.Start(t, "", "--tls-cert", filepath.Join(certs, "tls.crt"), "--tls-key", filepath.Join(certs, "tls.key"), "--tls-min-version", "1.3")
	url := "https://" + p.Addr
	pool := x509.NewCertPool()
	pool.AddCert(first)
	resp, err := tlsClient(pool, 0).Get(url + "/file")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" || resp.TLS.Version != tls.VersionTLS13 {
		t.Errorf("HTTPS: %d %s TLS %x", resp.StatusCode, resp.Proto, resp.TLS.Version)
	}
	// A WebDAV PROPFIND works over HTTP/2 as well.
	req, _ := http.NewRequest("PROPFIND", url+"/dav/", nil)
	req.Header.Set("Depth", "0")
	if resp, err := tlsClient(pool, 0).Do(req); err != nil || resp.StatusCode != 207 {
		t.Errorf("PROPFIND over TLS: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if _, err := tlsClient(pool, tls.VersionTLS12).Get(url + "/file"); err == nil {
		t.Error("TLS 1.2 accepted with --tls-min-version 1.3")
	}
	// Plain HTTP on the TLS port gets Go's "client sent an HTTP request to
	// an HTTPS server" 400, never content.
	if resp, err := http.Get("http://" + p.Addr + "/file"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("plain HTTP on the TLS port = %d", resp.StatusCode)
		}
	}
	// Rotate the certificate in place: new handshakes get it, no restart.
	second := writeCert(t, certs, 2)
	pool.AddCert(second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := tlsClient(pool, 0).Get(url + "/file")
		if err == nil {
			resp.Body.Close()
			if resp.TLS.PeerCertificates[0].SerialNumber.Int64() == 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rotated certificate was not served within 10s (%v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(p.Log(), "TLS certificate reloaded") {
		t.Error("the reload is not logged")
	}
	// A half-written rotation keeps the working certificate.
	os.WriteFile(filepath.Join(certs, "tls.crt"), []byte("garbage"), 0o600)
	time.Sleep(1200 * time.Millisecond)
	resp, err = tlsClient(pool, 0).Get(url + "/file")
	if err != nil || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 2 {
		t.Errorf("after a broken rotation: %v", err)
	} else {
		resp.Body.Close()
	}
}
