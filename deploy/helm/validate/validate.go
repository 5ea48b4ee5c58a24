// Package validate checks what the davnas Helm chart renders: every
// document decodes strictly (an unknown or misspelt field is an error) into
// the typed Kubernetes object for its kind, and the properties davnas relies
// on hold (one replica replaced with Recreate, uid/gid 2000, a read-only root
// file system, probes on /healthz and /readyz, a termination grace longer
// than the server's shutdown grace, Secrets mounted as directories, ...).
//
// It is its own Go module so the server's module stays free of Kubernetes
// dependencies; .ci/chart.sh renders the chart and runs its test.
package validate

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Constants of the davnas image and server the chart must respect.
const (
	UID          = 2000 // http-nas's uid and fsGroup, kept for its volumes
	Port         = 3000 // http-nas's port
	DataDir      = "/data"
	ProbeLive    = "/healthz"
	ProbeReady   = "/readyz"
	PortName     = "http"
	MetricsName  = "metrics"
	MetricsPath  = "/metrics"
	ContainerArg = "serve"
)

// KnownEnv lists the environment variables `davnas serve` reads (the
// README's Configuration table). A DAVNAS_* variable outside it is a typo
// the server would silently ignore.
var KnownEnv = []string{
	"DAVNAS_ROOT", "DAVNAS_LISTEN", "DAVNAS_DAV_PREFIX", "DAVNAS_FSYNC",
	"DAVNAS_SHUTDOWN_GRACE", "DAVNAS_ALLOW_INFINITE_DEPTH",
	"DAVNAS_TRUST_PROXY_HEADERS", "DAVNAS_AUTH_FILE", "DAVNAS_TOKEN_FILE",
	"DAVNAS_READ_ONLY", "DAVNAS_TLS_CERT", "DAVNAS_TLS_KEY",
	"DAVNAS_TLS_MIN_VERSION", "DAVNAS_CORS_ORIGIN", "DAVNAS_MAX_UPLOAD_SIZE",
	"DAVNAS_MIN_FREE_SPACE", "DAVNAS_STALL_TIMEOUT", "DAVNAS_MAX_CONNECTIONS",
	"DAVNAS_METRICS_LISTEN", "DAVNAS_ACCESS_LOG", "DAVNAS_LOG_FORMAT",
	"DAVNAS_LOG_LEVEL",
}

// ServiceMonitor is the part of monitoring.coreos.com/v1 ServiceMonitor the
// chart renders. The CRD's Go types would pull in the whole
// prometheus-operator; these fields are decoded strictly like the rest, and
// the endpoint's free-form parts (TLS, auth, relabelings) as maps.
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ServiceMonitorSpec `json:"spec"`
}

// ServiceMonitorSpec is ServiceMonitor.spec.
type ServiceMonitorSpec struct {
	JobLabel          string               `json:"jobLabel,omitempty"`
	NamespaceSelector *NamespaceSelector   `json:"namespaceSelector,omitempty"`
	Selector          metav1.LabelSelector `json:"selector"`
	Endpoints         []Endpoint           `json:"endpoints"`
}

// NamespaceSelector is ServiceMonitor.spec.namespaceSelector.
type NamespaceSelector struct {
	Any        bool     `json:"any,omitempty"`
	MatchNames []string `json:"matchNames,omitempty"`
}

// Endpoint is one ServiceMonitor.spec.endpoints entry.
type Endpoint struct {
	Port                     string              `json:"port,omitempty"`
	TargetPort               *intstr.IntOrString `json:"targetPort,omitempty"`
	Path                     string              `json:"path,omitempty"`
	Scheme                   string              `json:"scheme,omitempty"`
	Params                   map[string][]string `json:"params,omitempty"`
	Interval                 string              `json:"interval,omitempty"`
	ScrapeTimeout            string              `json:"scrapeTimeout,omitempty"`
	HonorLabels              bool                `json:"honorLabels,omitempty"`
	HonorTimestamps          *bool               `json:"honorTimestamps,omitempty"`
	TrackTimestampsStaleness *bool               `json:"trackTimestampsStaleness,omitempty"`
	FollowRedirects          *bool               `json:"followRedirects,omitempty"`
	EnableHTTP2              *bool               `json:"enableHttp2,omitempty"`
	FilterRunning            *bool               `json:"filterRunning,omitempty"`
	ProxyURL                 *string             `json:"proxyUrl,omitempty"`
	TLSConfig                map[string]any      `json:"tlsConfig,omitempty"`
	Authorization            map[string]any      `json:"authorization,omitempty"`
	BasicAuth                map[string]any      `json:"basicAuth,omitempty"`
	OAuth2                   map[string]any      `json:"oauth2,omitempty"`
	BearerTokenSecret        map[string]any      `json:"bearerTokenSecret,omitempty"`
	Relabelings              []map[string]any    `json:"relabelings,omitempty"`
	MetricRelabelings        []map[string]any    `json:"metricRelabelings,omitempty"`
}

// Render is one `helm template` output, decoded.
type Render struct {
	Source          string
	Deployments     []*appsv1.Deployment
	Services        []*corev1.Service
	ConfigMaps      []*corev1.ConfigMap
	Secrets         []*corev1.Secret
	PVCs            []*corev1.PersistentVolumeClaim
	Ingresses       []*networkingv1.Ingress
	NetworkPolicies []*networkingv1.NetworkPolicy
	PDBs            []*policyv1.PodDisruptionBudget
	ServiceMonitors []*ServiceMonitor
	all             []metav1.Object
}

// Split returns the YAML documents of a multi-document stream, without
// those holding nothing but comments and blank lines.
func Split(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if hasContent(cur.Bytes()) {
			docs = append(docs, bytes.Clone(cur.Bytes()))
		}
		cur.Reset()
	}
	for line := range bytes.Lines(data) {
		if t := bytes.TrimRight(line, " \t\r\n"); string(t) == "---" || bytes.HasPrefix(t, []byte("--- ")) {
			flush()
			continue
		}
		cur.Write(line)
	}
	flush()
	return docs
}

func hasContent(doc []byte) bool {
	for line := range bytes.Lines(doc) {
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] != '#' {
			return true
		}
	}
	return false
}

// Decode decodes every document of a rendered stream strictly into its
// typed object. Unknown kinds, unknown fields and duplicate keys are errors.
func Decode(source string, data []byte) (*Render, error) {
	r := &Render{Source: source}
	var errs []error
	for i, doc := range Split(data) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			errs = append(errs, fmt.Errorf("%s: document %d: %v", source, i+1, err))
			continue
		}
		where := fmt.Sprintf("%s: document %d (%s %s)", source, i+1, tm.APIVersion, tm.Kind)
		obj, err := r.add(tm)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", where, err))
			continue
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			errs = append(errs, fmt.Errorf("%s: strict decoding: %v", where, err))
			continue
		}
		r.all = append(r.all, obj.(metav1.Object))
	}
	return r, errors.Join(errs...)
}

// add allocates the typed object for a kind and files it in r.
func (r *Render) add(tm metav1.TypeMeta) (any, error) {
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		o := &appsv1.Deployment{}
		r.Deployments = append(r.Deployments, o)
		return o, nil
	case "v1 Service":
		o := &corev1.Service{}
		r.Services = append(r.Services, o)
		return o, nil
	case "v1 ConfigMap":
		o := &corev1.ConfigMap{}
		r.ConfigMaps = append(r.ConfigMaps, o)
		return o, nil
	case "v1 Secret":
		o := &corev1.Secret{}
		r.Secrets = append(r.Secrets, o)
		return o, nil
	case "v1 PersistentVolumeClaim":
		o := &corev1.PersistentVolumeClaim{}
		r.PVCs = append(r.PVCs, o)
		return o, nil
	case "networking.k8s.io/v1 Ingress":
		o := &networkingv1.Ingress{}
		r.Ingresses = append(r.Ingresses, o)
		return o, nil
	case "networking.k8s.io/v1 NetworkPolicy":
		o := &networkingv1.NetworkPolicy{}
		r.NetworkPolicies = append(r.NetworkPolicies, o)
		return o, nil
	case "policy/v1 PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		r.PDBs = append(r.PDBs, o)
		return o, nil
	case "monitoring.coreos.com/v1 ServiceMonitor":
		o := &ServiceMonitor{}
		r.ServiceMonitors = append(r.ServiceMonitors, o)
		return o, nil
	}
	return nil, fmt.Errorf("unexpected apiVersion/kind %q %q", tm.APIVersion, tm.Kind)
}

// Expect is what one render must contain beyond the invariants.
type Expect struct {
	ServiceName    string            // name of the Service
	ClaimName      string            // PVC the data volume uses
	CreatesPVC     bool              // the chart renders that PVC (else it is an existing claim)
	AuthSecret     string            // Secret mounted for auth; "" means auth is off
	AuthFiles      []string          // its keys davnas reads (htpasswd, tokens)
	CreatesSecret  bool              // the chart renders the auth Secret
	TLSSecret      string            // kubernetes.io/tls Secret mounted; "" means plain HTTP
	MetricsPort    int32             // separate metrics port; 0: /metrics on port 3000
	Ingress        bool              // an Ingress is rendered
	NetworkPolicy  bool              // a NetworkPolicy is rendered
	ClientLabels   map[string]string // labels the NetworkPolicy admits
	ServiceMonitor bool              // a ServiceMonitor is rendered
	PDB            bool              // a PodDisruptionBudget is rendered
	ReadOnly       bool              // DAVNAS_READ_ONLY is true
}

// Check returns every way r breaks the invariants or exp.
func Check(r *Render, exp Expect) []error {
	c := &checker{r: r, exp: exp}
	c.counts()
	if len(r.Deployments) != 1 || len(r.Services) != 1 || len(r.ConfigMaps) != 1 {
		return c.errs
	}
	c.metadata()
	c.deployment()
	if len(r.Deployments[0].Spec.Template.Spec.Containers) != 1 {
		return c.errs
	}
	c.service()
	c.persistence()
	c.auth()
	c.tls()
	c.metrics()
	c.ingress()
	c.networkPolicy()
	c.pdb()
	return c.errs
}

type checker struct {
	r    *Render
	exp  Expect
	errs []error
	env  map[string]string // the container's environment: ConfigMap, then env
}

func (c *checker) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

func (c *checker) counts() {
	r, exp := c.r, c.exp
	count := func(kind string, got int, want bool) {
		if want && got != 1 {
			c.fail("want one %s, got %d", kind, got)
		}
		if !want && got != 0 {
			c.fail("want no %s, got %d", kind, got)
		}
	}
	count("Deployment", len(r.Deployments), true)
	count("Service", len(r.Services), true)
	count("ConfigMap", len(r.ConfigMaps), true)
	count("PersistentVolumeClaim", len(r.PVCs), exp.CreatesPVC)
	count("Secret", len(r.Secrets), exp.CreatesSecret)
	count("Ingress", len(r.Ingresses), exp.Ingress)
	count("NetworkPolicy", len(r.NetworkPolicies), exp.NetworkPolicy)
	count("ServiceMonitor", len(r.ServiceMonitors), exp.ServiceMonitor)
	count("PodDisruptionBudget", len(r.PDBs), exp.PDB)
}

// metadata: valid names, the app.kubernetes.io labels, one name per kind.
func (c *checker) metadata() {
	for _, o := range c.r.all {
		kind := fmt.Sprintf("%T", o)
		if errs := validation.IsDNS1123Subdomain(o.GetName()); len(errs) > 0 {
			c.fail("%s name %q: %s", kind, o.GetName(), strings.Join(errs, "; "))
		}
		for _, l := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
			if o.GetLabels()[l] == "" {
				c.fail("%s %s: label %s missing", kind, o.GetName(), l)
			}
		}
		for k, v := range o.GetLabels() {
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				c.fail("%s %s: label key %q: %s", kind, o.GetName(), k, strings.Join(errs, "; "))
			}
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				c.fail("%s %s: label %s=%q: %s", kind, o.GetName(), k, v, strings.Join(errs, "; "))
			}
		}
	}
}

func (c *checker) deployment() {
	d := c.r.Deployments[0]
	spec := d.Spec
	if spec.Replicas == nil || *spec.Replicas != 1 {
		c.fail("Deployment: replicas must be 1 (ReadWriteOnce volume, in-process WebDAV locks)")
	}
	if spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType || spec.Strategy.RollingUpdate != nil {
		c.fail("Deployment: strategy must be Recreate, got %q", spec.Strategy.Type)
	}
	pod := spec.Template
	if spec.Selector == nil || len(spec.Selector.MatchLabels) == 0 || len(spec.Selector.MatchExpressions) > 0 {
		c.fail("Deployment: selector must be matchLabels only")
	} else if !subset(spec.Selector.MatchLabels, pod.Labels) {
		c.fail("Deployment: selector %v does not select the pod labels %v", spec.Selector.MatchLabels, pod.Labels)
	}
	if _, ok := pod.Labels["helm.sh/chart"]; ok {
		c.fail("Deployment: pod labels must not carry helm.sh/chart (every chart release would restart the pod)")
	}
	if sum := pod.Annotations["checksum/config"]; !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(sum) {
		c.fail("Deployment: pod annotation checksum/config missing or not a sha256 (%q)", sum)
	}

	ps := pod.Spec
	if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
		c.fail("pod: automountServiceAccountToken must be false (davnas calls no Kubernetes API)")
	}
	if ps.EnableServiceLinks == nil || *ps.EnableServiceLinks {
		c.fail("pod: enableServiceLinks must be false (a Service named davnas would inject DAVNAS_* variables)")
	}
	sc := ps.SecurityContext
	switch {
	case sc == nil:
		c.fail("pod: securityContext missing")
	default:
		if !isTrue(sc.RunAsNonRoot) {
			c.fail("pod: runAsNonRoot must be true")
		}
		for name, v := range map[string]*int64{"runAsUser": sc.RunAsUser, "runAsGroup": sc.RunAsGroup, "fsGroup": sc.FSGroup} {
			if v == nil || *v != UID {
				c.fail("pod: %s must be %d, got %v", name, UID, deref(v))
			}
		}
		if sc.FSGroupChangePolicy == nil || *sc.FSGroupChangePolicy != corev1.FSGroupChangeOnRootMismatch {
			c.fail("pod: fsGroupChangePolicy must be OnRootMismatch (no recursive chown of a large volume at every start)")
		}
		if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			c.fail("pod: seccompProfile must be RuntimeDefault")
		}
	}
	if len(ps.InitContainers) > 0 {
		c.fail("pod: unexpected init containers")
	}
	if len(ps.Containers) != 1 {
		c.fail("pod: want one container, got %d", len(ps.Containers))
		return
	}
	ct := ps.Containers[0]
	if ct.Image == "" {
		c.fail("container: image missing")
	}
	if len(ct.Command) > 0 {
		c.fail("container: command must be left to the image's entrypoint (davnas)")
	}
	if len(ct.Args) == 0 || ct.Args[0] != ContainerArg {
		c.fail("container: args must start with %q, got %q", ContainerArg, ct.Args)
	}
	csc := ct.SecurityContext
	switch {
	case csc == nil:
		c.fail("container: securityContext missing")
	default:
		if !isTrue(csc.ReadOnlyRootFilesystem) {
			c.fail("container: readOnlyRootFilesystem must be true")
		}
		if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
			c.fail("container: allowPrivilegeEscalation must be false")
		}
		if isTrue(csc.Privileged) {
			c.fail("container: must not be privileged")
		}
		if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 {
			c.fail("container: capabilities must drop ALL and add none")
		}
		if csc.RunAsUser != nil && *csc.RunAsUser != UID {
			c.fail("container: runAsUser %d overrides the pod's %d", *csc.RunAsUser, UID)
		}
	}

	http := findPort(ct.Ports, PortName)
	if http == nil || http.ContainerPort != Port || (http.Protocol != "" && http.Protocol != corev1.ProtocolTCP) {
		c.fail("container: port %q must be %d/TCP", PortName, Port)
	}

	// Resources: requests set, a memory limit, no CPU limit (throttling
	// stalls transfers, and the stall timeout then drops them).
	res := ct.Resources
	if res.Requests.Cpu().IsZero() || res.Requests.Memory().IsZero() {
		c.fail("container: CPU and memory requests must be set")
	}
	if res.Limits.Memory().IsZero() {
		c.fail("container: a memory limit must be set")
	}
	if _, ok := res.Limits[corev1.ResourceCPU]; ok {
		c.fail("container: no CPU limit (throttling stalls transfers)")
	}
	if !res.Limits.Memory().IsZero() && res.Limits.Memory().Cmp(*res.Requests.Memory()) < 0 {
		c.fail("container: memory limit below its request")
	}

	c.environment(ct)

	scheme := corev1.URISchemeHTTP
	if c.exp.TLSSecret != "" {
		scheme = corev1.URISchemeHTTPS
	}
	c.probe("liveness", ct.LivenessProbe, ProbeLive, scheme)
	c.probe("readiness", ct.ReadinessProbe, ProbeReady, scheme)
	c.probe("startup", ct.StartupProbe, ProbeLive, scheme)

	// The grace: Kubernetes must not SIGKILL a server still draining.
	grace, err := time.ParseDuration(c.env["DAVNAS_SHUTDOWN_GRACE"])
	if err != nil {
		grace = 30 * time.Second // the server's default
	}
	if ps.TerminationGracePeriodSeconds == nil {
		c.fail("pod: terminationGracePeriodSeconds missing")
	} else if t := time.Duration(*ps.TerminationGracePeriodSeconds) * time.Second; t < grace+time.Second {
		c.fail("pod: terminationGracePeriodSeconds %s must exceed the shutdown grace %s", t, grace)
	}

	// No mount with subPath: it would freeze a Secret's content.
	for _, m := range ct.VolumeMounts {
		if m.SubPath != "" || m.SubPathExpr != "" {
			c.fail("container: volume %q mounted at %s with subPath (updates would never reach the pod)", m.Name, m.MountPath)
		}
	}
	data := mountAt(ct.VolumeMounts, DataDir)
	if data == nil || data.ReadOnly {
		c.fail("container: a writable volume must be mounted at %s", DataDir)
	}
	// The read-only root needs nothing else writable; /tmp is an emptyDir.
	if m := mountAt(ct.VolumeMounts, "/tmp"); m != nil {
		if v := volume(ps.Volumes, m.Name); v == nil || v.EmptyDir == nil {
			c.fail("pod: /tmp must be an emptyDir")
		}
	}
	for _, m := range ct.VolumeMounts {
		if volume(ps.Volumes, m.Name) == nil {
			c.fail("container: mount %q names no volume", m.Name)
		}
	}
}

// environment assembles the container's environment and checks it.
func (c *checker) environment(ct corev1.Container) {
	cm := c.r.ConfigMaps[0]
	c.env = map[string]string{}
	found := false
	for _, ef := range ct.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil && ef.ConfigMapRef.Name == cm.Name && ef.Prefix == "":
			found = true
			maps := cm.Data
			for k, v := range maps {
				c.env[k] = v
			}
		default:
			c.fail("container: unexpected envFrom %+v", ef)
		}
	}
	if !found {
		c.fail("container: envFrom must reference the ConfigMap %q", cm.Name)
	}
	if len(cm.BinaryData) > 0 {
		c.fail("ConfigMap: unexpected binaryData")
	}
	for _, e := range ct.Env {
		if e.ValueFrom == nil {
			c.env[e.Name] = e.Value
		}
	}
	for k := range c.env {
		if strings.HasPrefix(k, "DAVNAS_") && !slices.Contains(KnownEnv, k) {
			c.fail("environment: %s is not a davnas setting", k)
		}
	}
	if got := c.env["DAVNAS_ROOT"]; got != DataDir {
		c.fail("environment: DAVNAS_ROOT must be %s, got %q", DataDir, got)
	}
	if got := c.env["DAVNAS_LISTEN"]; got != "" && got != ":3000" && got != "3000" && got != "0.0.0.0:3000" {
		c.fail("environment: DAVNAS_LISTEN must be :3000 (the Service and probes use port %d), got %q", Port, got)
	}
	if v, ok := c.env["DAVNAS_SHUTDOWN_GRACE"]; ok {
		if _, err := time.ParseDuration(v); err != nil {
			c.fail("environment: DAVNAS_SHUTDOWN_GRACE %q: %v", v, err)
		}
	}
	for _, k := range []string{"DAVNAS_FSYNC", "DAVNAS_READ_ONLY", "DAVNAS_TRUST_PROXY_HEADERS", "DAVNAS_ALLOW_INFINITE_DEPTH"} {
		if v, ok := c.env[k]; ok {
			if _, err := strconv.ParseBool(v); err != nil {
				c.fail("environment: %s %q is not a boolean", k, v)
			}
		}
	}
	if ro, _ := strconv.ParseBool(c.env["DAVNAS_READ_ONLY"]); ro != c.exp.ReadOnly {
		c.fail("environment: DAVNAS_READ_ONLY is %v, want %v", ro, c.exp.ReadOnly)
	}
}

func (c *checker) probe(name string, p *corev1.Probe, path string, scheme corev1.URIScheme) {
	if p == nil {
		c.fail("container: %s probe missing", name)
		return
	}
	g := p.HTTPGet
	if g == nil {
		c.fail("container: %s probe must be an httpGet", name)
		return
	}
	if g.Path != path {
		c.fail("container: %s probe path %q, want %q", name, g.Path, path)
	}
	if g.Port != intstr.FromString(PortName) {
		c.fail("container: %s probe port %q, want the named port %q", name, g.Port.String(), PortName)
	}
	got := g.Scheme
	if got == "" {
		got = corev1.URISchemeHTTP
	}
	if got != scheme {
		c.fail("container: %s probe scheme %s, want %s", name, got, scheme)
	}
	if p.PeriodSeconds < 1 || p.TimeoutSeconds < 1 || p.FailureThreshold < 1 {
		c.fail("container: %s probe needs periodSeconds, timeoutSeconds and failureThreshold", name)
	}
}

func (c *checker) service() {
	s := c.r.Services[0]
	pod := c.r.Deployments[0].Spec.Template
	if s.Name != c.exp.ServiceName {
		c.fail("Service: name %q, want %q", s.Name, c.exp.ServiceName)
	}
	if len(s.Spec.Selector) == 0 || !subset(s.Spec.Selector, pod.Labels) {
		c.fail("Service: selector %v does not select the pod", s.Spec.Selector)
	}
	var p *corev1.ServicePort
	for i := range s.Spec.Ports {
		if s.Spec.Ports[i].Name == PortName {
			p = &s.Spec.Ports[i]
		}
	}
	switch {
	case p == nil:
		c.fail("Service: no port named %q", PortName)
	default:
		if p.Port != Port {
			c.fail("Service: port %d, want %d (http-nas URLs)", p.Port, Port)
		}
		if p.TargetPort != intstr.FromString(PortName) && p.TargetPort != intstr.FromInt32(Port) {
			c.fail("Service: targetPort %s does not reach the container's port", p.TargetPort.String())
		}
	}
}

func (c *checker) persistence() {
	ps := c.r.Deployments[0].Spec.Template.Spec
	ct := ps.Containers[0]
	m := mountAt(ct.VolumeMounts, DataDir)
	if m == nil {
		return
	}
	v := volume(ps.Volumes, m.Name)
	if v == nil || v.PersistentVolumeClaim == nil {
		c.fail("pod: %s must be a PersistentVolumeClaim", DataDir)
		return
	}
	claim := v.PersistentVolumeClaim
	if claim.ClaimName != c.exp.ClaimName {
		c.fail("pod: %s uses claim %q, want %q", DataDir, claim.ClaimName, c.exp.ClaimName)
	}
	if claim.ReadOnly {
		c.fail("pod: the data claim must be writable")
	}
	if !c.exp.CreatesPVC || len(c.r.PVCs) != 1 {
		return
	}
	pvc := c.r.PVCs[0]
	if pvc.Name != claim.ClaimName {
		c.fail("PVC %q is not the claim the pod mounts (%q)", pvc.Name, claim.ClaimName)
	}
	if len(pvc.Spec.AccessModes) == 0 {
		c.fail("PVC: accessModes missing")
	}
	if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok || q.Cmp(resource.MustParse("1Mi")) < 0 {
		c.fail("PVC: storage request missing or tiny")
	}
}

// secretDir finds the directory a Secret is mounted at, read-only.
func (c *checker) secretDir(secret string) (string, *corev1.Volume) {
	ps := c.r.Deployments[0].Spec.Template.Spec
	for i := range ps.Volumes {
		v := &ps.Volumes[i]
		if v.Secret == nil || v.Secret.SecretName != secret {
			continue
		}
		for _, m := range ps.Containers[0].VolumeMounts {
			if m.Name == v.Name {
				if !m.ReadOnly {
					c.fail("container: Secret %q must be mounted read-only", secret)
				}
				return m.MountPath, v
			}
		}
	}
	return "", nil
}

// secretFile checks that the environment variable names a file of the
// Secret mounted as a directory (so updates reach the pod).
func (c *checker) secretFile(envName, secret, key string) {
	dir, v := c.secretDir(secret)
	if v == nil {
		c.fail("pod: Secret %q is not mounted", secret)
		return
	}
	if len(v.Secret.Items) > 0 {
		c.fail("pod: Secret %q mounted with items; mount all of it", secret)
	}
	if mode := v.Secret.DefaultMode; mode != nil && *mode&0o040 == 0 {
		c.fail("pod: Secret %q files are not readable by the fsGroup (mode %o)", secret, *mode)
	}
	want := path.Join(dir, key)
	if got := c.env[envName]; got != want {
		c.fail("environment: %s %q, want %q (file %q of Secret %q mounted at %s)", envName, got, want, key, secret, dir)
	}
}

func (c *checker) auth() {
	vars := map[string]string{"htpasswd": "DAVNAS_AUTH_FILE", "tokens": "DAVNAS_TOKEN_FILE"}
	if c.exp.AuthSecret == "" {
		for _, k := range vars {
			if c.env[k] != "" {
				c.fail("environment: %s set but auth is expected off", k)
			}
		}
		for _, v := range c.r.Deployments[0].Spec.Template.Spec.Volumes {
			if v.Secret != nil && v.Secret.SecretName != c.exp.TLSSecret {
				c.fail("pod: unexpected Secret volume %q (auth is expected off)", v.Secret.SecretName)
			}
		}
		return
	}
	for key, envName := range vars {
		if slices.Contains(c.exp.AuthFiles, key) {
			c.secretFile(envName, c.exp.AuthSecret, key)
		} else if c.env[envName] != "" {
			c.fail("environment: %s set, but the Secret has no %s", envName, key)
		}
	}
	if !c.exp.CreatesSecret || len(c.r.Secrets) != 1 {
		return
	}
	s := c.r.Secrets[0]
	if s.Name != c.exp.AuthSecret {
		c.fail("Secret %q, want %q", s.Name, c.exp.AuthSecret)
	}
	for _, key := range c.exp.AuthFiles {
		b, ok := s.Data[key]
		if !ok {
			c.fail("Secret %q: no key %q", s.Name, key)
			continue
		}
		for line := range strings.Lines(string(b)) {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			f := strings.Split(line, ":")
			switch {
			case key == "htpasswd" && (len(f) < 2 || !strings.HasPrefix(f[1], "$2")):
				c.fail("Secret %q: htpasswd line for %q is not bcrypt", s.Name, f[0])
			case key == "tokens" && (len(f) < 3 || f[1] != "sha256" || len(f[2]) != 64):
				c.fail("Secret %q: token line for %q is not name:sha256:hex", s.Name, f[0])
			}
		}
	}
}

func (c *checker) tls() {
	if c.exp.TLSSecret == "" {
		if c.env["DAVNAS_TLS_CERT"] != "" || c.env["DAVNAS_TLS_KEY"] != "" {
			c.fail("environment: TLS set but expected off")
		}
		return
	}
	c.secretFile("DAVNAS_TLS_CERT", c.exp.TLSSecret, corev1.TLSCertKey)
	c.secretFile("DAVNAS_TLS_KEY", c.exp.TLSSecret, corev1.TLSPrivateKeyKey)
	for _, p := range c.r.Services[0].Spec.Ports {
		if p.Name == PortName && (p.AppProtocol == nil || *p.AppProtocol != "https") {
			c.fail("Service: port %q must have appProtocol https with TLS", PortName)
		}
	}
}

func (c *checker) metrics() {
	ct := c.r.Deployments[0].Spec.Template.Spec.Containers[0]
	listen := c.env["DAVNAS_METRICS_LISTEN"]
	cport := findPort(ct.Ports, MetricsName)
	var sport *corev1.ServicePort
	for i, p := range c.r.Services[0].Spec.Ports {
		if p.Name == MetricsName {
			sport = &c.r.Services[0].Spec.Ports[i]
		}
	}
	if c.exp.MetricsPort == 0 {
		if listen != "" || cport != nil || sport != nil {
			c.fail("metrics: a separate metrics port is not expected")
		}
	} else {
		want := ":" + strconv.Itoa(int(c.exp.MetricsPort))
		if listen != want {
			c.fail("environment: DAVNAS_METRICS_LISTEN %q, want %q", listen, want)
		}
		if cport == nil || cport.ContainerPort != c.exp.MetricsPort {
			c.fail("container: port %q must be %d", MetricsName, c.exp.MetricsPort)
		}
		if sport == nil || sport.TargetPort != intstr.FromString(MetricsName) {
			c.fail("Service: port %q must target the container's %q", MetricsName, MetricsName)
		}
	}
	if len(c.r.ServiceMonitors) != 1 {
		return
	}
	sm := c.r.ServiceMonitors[0]
	s := c.r.Services[0]
	if !subset(sm.Spec.Selector.MatchLabels, s.Labels) || len(sm.Spec.Selector.MatchLabels) == 0 {
		c.fail("ServiceMonitor: selector %v does not select the Service", sm.Spec.Selector.MatchLabels)
	}
	if sm.Namespace != "" && (sm.Spec.NamespaceSelector == nil || len(sm.Spec.NamespaceSelector.MatchNames) == 0) {
		c.fail("ServiceMonitor in namespace %q needs a namespaceSelector for the Service's", sm.Namespace)
	}
	if len(sm.Spec.Endpoints) != 1 {
		c.fail("ServiceMonitor: want one endpoint")
		return
	}
	ep := sm.Spec.Endpoints[0]
	wantPort, wantScheme := PortName, "http"
	if c.exp.MetricsPort != 0 {
		wantPort = MetricsName
	} else if c.exp.TLSSecret != "" {
		wantScheme = "https"
	}
	if ep.Port != wantPort || ep.Path != MetricsPath || ep.Scheme != wantScheme {
		c.fail("ServiceMonitor: endpoint %s %s on port %q, want %s %s on %q", ep.Scheme, ep.Path, ep.Port, wantScheme, MetricsPath, wantPort)
	}
	for _, d := range []string{ep.Interval, ep.ScrapeTimeout} {
		if d != "" && !regexp.MustCompile(`^([0-9]+(ms|s|m|h))+$`).MatchString(d) {
			c.fail("ServiceMonitor: %q is not a Prometheus duration", d)
		}
	}
}

func (c *checker) ingress() {
	if len(c.r.Ingresses) != 1 {
		return
	}
	ing := c.r.Ingresses[0]
	if len(ing.Spec.Rules) == 0 {
		c.fail("Ingress: no rules")
	}
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil || len(rule.HTTP.Paths) == 0 {
			c.fail("Ingress: rule %q has no paths", rule.Host)
			continue
		}
		for _, p := range rule.HTTP.Paths {
			b := p.Backend.Service
			if b == nil || b.Name != c.r.Services[0].Name || (b.Port.Name != PortName && b.Port.Number != Port) {
				c.fail("Ingress: %s%s does not route to Service %q port %q", rule.Host, p.Path, c.r.Services[0].Name, PortName)
			}
			if p.PathType == nil {
				c.fail("Ingress: %s%s has no pathType", rule.Host, p.Path)
			}
		}
	}
}

func (c *checker) networkPolicy() {
	if len(c.r.NetworkPolicies) != 1 {
		return
	}
	np := c.r.NetworkPolicies[0]
	pod := c.r.Deployments[0].Spec.Template
	if len(np.Spec.PodSelector.MatchLabels) == 0 || !subset(np.Spec.PodSelector.MatchLabels, pod.Labels) {
		c.fail("NetworkPolicy: podSelector %v does not select the davnas pod", np.Spec.PodSelector.MatchLabels)
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		c.fail("NetworkPolicy: policyTypes must include Ingress")
	}
	admits := func(rule networkingv1.NetworkPolicyIngressRule, port int32, peer func(networkingv1.NetworkPolicyPeer) bool) bool {
		portOK := len(rule.Ports) == 0
		for _, p := range rule.Ports {
			if p.Port != nil && (p.Port.IntVal == port || (port == Port && p.Port.StrVal == PortName)) {
				portOK = true
			}
		}
		if !portOK {
			return false
		}
		return slices.ContainsFunc(rule.From, peer)
	}
	var clients, scrapers bool
	for _, rule := range np.Spec.Ingress {
		for _, peer := range rule.From {
			if peer.PodSelector == nil && peer.NamespaceSelector == nil && peer.IPBlock == nil {
				c.fail("NetworkPolicy: an empty peer admits everything")
			}
			if peer.NamespaceSelector != nil && peer.PodSelector == nil && len(peer.NamespaceSelector.MatchLabels) == 0 && len(peer.NamespaceSelector.MatchExpressions) == 0 {
				c.fail("NetworkPolicy: an empty namespaceSelector admits every namespace")
			}
		}
		if len(rule.From) == 0 {
			c.fail("NetworkPolicy: a rule without from admits everyone")
		}
		if admits(rule, Port, func(p networkingv1.NetworkPolicyPeer) bool {
			return p.NamespaceSelector == nil && p.PodSelector != nil && mapsEqual(p.PodSelector.MatchLabels, c.exp.ClientLabels) && len(p.PodSelector.MatchExpressions) == 0
		}) {
			clients = true
		}
		if port := c.exp.MetricsPort; c.exp.ServiceMonitor {
			if port == 0 {
				port = Port
			}
			if admits(rule, port, func(p networkingv1.NetworkPolicyPeer) bool { return p.NamespaceSelector != nil }) {
				scrapers = true
			}
		}
	}
	if !clients {
		c.fail("NetworkPolicy: no rule admits pods labelled %v in the release namespace to port %d", c.exp.ClientLabels, Port)
	}
	if c.exp.ServiceMonitor && !scrapers {
		c.fail("NetworkPolicy: Prometheus's namespace is not admitted to the metrics port")
	}
}

func (c *checker) pdb() {
	if len(c.r.PDBs) != 1 {
		return
	}
	p := c.r.PDBs[0]
	pod := c.r.Deployments[0].Spec.Template
	if p.Spec.Selector == nil || len(p.Spec.Selector.MatchLabels) == 0 || !subset(p.Spec.Selector.MatchLabels, pod.Labels) {
		c.fail("PodDisruptionBudget: selector does not select the davnas pod")
	}
	if p.Spec.MinAvailable != nil {
		c.fail("PodDisruptionBudget: use maxUnavailable; minAvailable with one replica blocks every drain")
	}
	if p.Spec.MaxUnavailable == nil {
		c.fail("PodDisruptionBudget: maxUnavailable missing")
	}
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func mapsEqual(a, b map[string]string) bool {
	return len(a) == len(b) && subset(a, b)
}

func isTrue(b *bool) bool { return b != nil && *b }

func deref(p *int64) any {
	if p == nil {
		return "unset"
	}
	return *p
}

func findPort(ports []corev1.ContainerPort, name string) *corev1.ContainerPort {
	for i := range ports {
		if ports[i].Name == name {
			return &ports[i]
		}
	}
	return nil
}

func mountAt(mounts []corev1.VolumeMount, dir string) *corev1.VolumeMount {
	for i := range mounts {
		if path.Clean(mounts[i].MountPath) == dir {
			return &mounts[i]
		}
	}
	return nil
}

func volume(vols []corev1.Volume, name string) *corev1.Volume {
	for i := range vols {
		if vols[i].Name == name {
			return &vols[i]
		}
	}
	return nil
}
