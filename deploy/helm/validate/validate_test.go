package validate

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// renderedEnv names the directory of `helm template` outputs, one NAME.yaml
// per values set; .ci/chart.sh writes them.
const renderedEnv = "DAVNAS_RENDERED"

var clientLabels = map[string]string{"davnas-client": "true"}

// expectations for each render .ci/chart.sh produces, by file name. A render
// without an entry here fails: every values set is checked for what it
// should produce, not only for the invariants.
var expectations = map[string]Expect{
	// helm template davnas deploy/helm/davnas (also deploy/kubernetes/davnas.yaml)
	"default.yaml": {
		ServiceName: "davnas", ClaimName: "davnas", CreatesPVC: true, PDB: true,
	},
	// -f deploy/helm/davnas/ci/all-options-values.yaml
	"all-options.yaml": {
		ServiceName: "davnas", ClaimName: "davnas", CreatesPVC: true,
		AuthSecret: "davnas-auth", AuthFiles: []string{"htpasswd", "tokens"}, CreatesSecret: true,
		TLSSecret: "davnas-server-tls", MetricsPort: 9090, Ingress: true,
		NetworkPolicy: true, ClientLabels: clientLabels, ServiceMonitor: true, PDB: true,
		ReadOnly: true,
	},
	// --set service.name=http-nas --set persistence.existingClaim=http-nas-pvc
	"migration.yaml": {
		ServiceName: "http-nas", ClaimName: "http-nas-pvc", CreatesPVC: false, PDB: true,
	},
	// auth from an existing Secret holding only tokens, a NetworkPolicy,
	// a ServiceMonitor on port 3000, no PDB.
	"existing-secret.yaml": {
		ServiceName: "davnas", ClaimName: "davnas", CreatesPVC: true,
		AuthSecret: "davnas-users", AuthFiles: []string{"tokens"},
		NetworkPolicy: true, ClientLabels: clientLabels, ServiceMonitor: true,
	},
}

func renderedDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(renderedEnv)
	if dir == "" {
		t.Fatalf("%s is not set: run .ci/chart.sh check, which renders the chart into a directory and runs this test", renderedEnv)
	}
	return dir
}

func load(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(renderedDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRendered checks every render in DAVNAS_RENDERED.
func TestRendered(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(renderedDir(t), "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	for name := range expectations {
		if !slices.Contains(names, name) {
			t.Errorf("render %s missing from %s", name, renderedDir(t))
		}
	}
	for _, name := range names {
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			exp, ok := expectations[name]
			if !ok {
				t.Fatalf("no expectations for %s; add them to validate_test.go", name)
			}
			r, err := Decode(name, []byte(load(t, name)))
			if err != nil {
				t.Fatal(err)
			}
			for _, err := range Check(r, exp) {
				t.Error(err)
			}
			t.Logf("%d Deployment, %d Service, %d ConfigMap, %d PVC, %d Secret, %d Ingress, %d NetworkPolicy, %d PDB, %d ServiceMonitor",
				len(r.Deployments), len(r.Services), len(r.ConfigMaps), len(r.PVCs), len(r.Secrets), len(r.Ingresses),
				len(r.NetworkPolicies), len(r.PDBs), len(r.ServiceMonitors))
		})
	}
}

// TestChecksCatchBreakage breaks the real renders in the ways the chart
// must never break and expects each to be caught: proof that the checks
// above are not vacuous. A mutation whose text is not in the render fails
// too, so the test follows the chart's output.
func TestChecksCatchBreakage(t *testing.T) {
	cases := []struct {
		render, name, old, new, want string
	}{
		{"default.yaml", "rolling update", "    type: Recreate\n", "    type: RollingUpdate\n", "Recreate"},
		{"default.yaml", "two replicas", "  replicas: 1\n", "  replicas: 2\n", "replicas must be 1"},
		{"default.yaml", "unknown field", "  replicas: 1\n", "  replicas: 1\n  replica: 1\n", "unknown field"},
		{"default.yaml", "duplicate key", "  replicas: 1\n", "  replicas: 1\n  replicas: 1\n", "strict decoding"},
		{"default.yaml", "unknown kind", "kind: PodDisruptionBudget", "kind: PodDisruptionBudgets", "unexpected apiVersion/kind"},
		{"default.yaml", "root uid", "        runAsUser: 2000\n", "        runAsUser: 0\n", "runAsUser must be 2000"},
		{"default.yaml", "fsGroup", "        fsGroup: 2000\n", "        fsGroup: 1000\n", "fsGroup must be 2000"},
		{"default.yaml", "non-root off", "        runAsNonRoot: true\n", "        runAsNonRoot: false\n", "runAsNonRoot"},
		{"default.yaml", "seccomp", "type: RuntimeDefault", "type: Unconfined", "seccompProfile"},
		{"default.yaml", "writable root", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem"},
		{"default.yaml", "escalation", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "allowPrivilegeEscalation"},
		{"default.yaml", "capabilities kept", "              - ALL\n", "              - NET_RAW\n", "drop ALL"},
		{"default.yaml", "readiness path", "path: /readyz", "path: /file", "readiness probe path"},
		{"default.yaml", "liveness port", "              path: /healthz\n              port: http\n", "              path: /healthz\n              port: 3000\n", "probe port"},
		{"default.yaml", "short grace", "terminationGracePeriodSeconds: 40", "terminationGracePeriodSeconds: 30", "must exceed the shutdown grace"},
		{"default.yaml", "service port", "      port: 3000\n      targetPort: http\n", "      port: 8080\n      targetPort: http\n", "want 3000"},
		{"default.yaml", "wrong claim", "claimName: davnas", "claimName: other", "claim"},
		{"default.yaml", "misspelt setting", "DAVNAS_FSYNC:", "DAVNAS_FSYNCH:", "not a davnas setting"},
		{"default.yaml", "cpu limit", "            limits:\n", "            limits:\n              cpu: 100m\n", "no CPU limit"},
		{"default.yaml", "service links", "enableServiceLinks: false", "enableServiceLinks: true", "enableServiceLinks"},
		{"migration.yaml", "service renamed", "  name: http-nas\n", "  name: davnas\n", `want "http-nas"`},
		{"migration.yaml", "PVC claim", "claimName: http-nas-pvc", "claimName: davnas", `want "http-nas-pvc"`},
		{"all-options.yaml", "subPath auth", "              mountPath: /etc/davnas/auth\n", "              mountPath: /etc/davnas/auth/htpasswd\n              subPath: htpasswd\n", "subPath"},
		{"all-options.yaml", "tls file", "DAVNAS_TLS_CERT: /etc/davnas/tls/tls.crt", "DAVNAS_TLS_CERT: /etc/tls.crt", "DAVNAS_TLS_CERT"},
		{"all-options.yaml", "http probe with tls", "              scheme: HTTPS\n", "              scheme: HTTP\n", "scheme HTTP, want HTTPS"},
		{"all-options.yaml", "client label", "davnas-client: \"true\"", "davnas-client: \"yes\"", "no rule admits"},
		{"all-options.yaml", "auth file", "DAVNAS_AUTH_FILE: \"/etc/davnas/auth/htpasswd\"", "DAVNAS_AUTH_FILE: \"/etc/davnas/htpasswd\"", "DAVNAS_AUTH_FILE"},
		{"all-options.yaml", "metrics port", "DAVNAS_METRICS_LISTEN: \":9090\"", "DAVNAS_METRICS_LISTEN: \":9091\"", "DAVNAS_METRICS_LISTEN"},
		{"all-options.yaml", "pdb minAvailable", "  maxUnavailable: 0\n", "  minAvailable: 1\n", "minAvailable"},
		{"all-options.yaml", "read-only off", "DAVNAS_READ_ONLY: \"true\"", "DAVNAS_READ_ONLY: \"false\"", "DAVNAS_READ_ONLY"},
	}
	for _, tc := range cases {
		t.Run(strings.TrimSuffix(tc.render, ".yaml")+"/"+tc.name, func(t *testing.T) {
			text := load(t, tc.render)
			if !strings.Contains(text, tc.old) {
				t.Fatalf("%s does not contain %q any more; update this case", tc.render, tc.old)
			}
			text = strings.ReplaceAll(text, tc.old, tc.new)
			r, err := Decode(tc.render, []byte(text))
			errs := []error{err}
			if err == nil {
				errs = Check(r, expectations[tc.render])
			}
			joined := errors.Join(errs...)
			if joined == nil || !strings.Contains(joined.Error(), tc.want) {
				t.Fatalf("breakage not caught: want an error containing %q, got %v", tc.want, joined)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	in := "# header\n---\n# Source: a\napiVersion: v1\n---\n# only a comment\n---   \nkind: X\n"
	docs := Split([]byte(in))
	if len(docs) != 2 || !strings.Contains(string(docs[0]), "apiVersion") || !strings.Contains(string(docs[1]), "kind: X") {
		t.Fatalf("Split: got %q", docs)
	}
}
