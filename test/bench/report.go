package main

// Samples, medians, the Markdown table, the targets and samples.json.

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Sample is one measurement of one round.
type Sample struct {
	Round    int     `json:"round"`
	Workload string  `json:"workload"`
	Subject  string  `json:"subject"`
	Unit     string  `json:"unit"`
	Value    float64 `json:"value"`
}

type results struct {
	mu      sync.Mutex
	round   int
	Samples []Sample
	Notes   []string
	Meta    map[string]any
}

func newResults() *results { return &results{} }

func (r *results) add(wl, subject string, v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Samples = append(r.Samples, Sample{r.round, wl, subject, unitOf(wl), v})
}

func (r *results) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *results) values(wl, subject string) []float64 {
	var v []float64
	for _, s := range r.Samples {
		if s.Workload == wl && s.Subject == subject {
			v = append(v, s.Value)
		}
	}
	return v
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r *results) median(wl, subject string) (float64, bool) {
	v := r.values(wl, subject)
	if len(v) == 0 {
		return math.NaN(), false
	}
	return median(v), true
}

// paired compares subject a with b round by round: the median over the
// rounds of a's per-round median divided by b's, and in how many rounds
// that ratio reached at (a ratio above at when higher is better; below it
// when lower is: set lowerBetter). Interleaved rounds share the machine's
// drift, which a ratio of the run's medians does not cancel.
func (r *results) paired(wl, a, b string, at float64, lowerBetter bool) (med float64, won, n int) {
	perRound := func(subject string) map[int][]float64 {
		m := map[int][]float64{}
		for _, s := range r.Samples {
			if s.Workload == wl && s.Subject == subject {
				m[s.Round] = append(m[s.Round], s.Value)
			}
		}
		return m
	}
	av, bv := perRound(a), perRound(b)
	var ratios []float64
	for round, x := range av {
		y, ok := bv[round]
		if !ok || median(y) == 0 {
			continue
		}
		q := median(x) / median(y)
		ratios = append(ratios, q)
		if (!lowerBetter && q >= at) || (lowerBetter && q <= at) {
			won++
		}
	}
	if len(ratios) == 0 {
		return math.NaN(), 0, 0
	}
	return median(ratios), won, len(ratios)
}

// pairedNote is paired's answer for a verdict's measured column.
func (r *results) pairedNote(wl, a, b string, at float64, lowerBetter bool) string {
	med, won, n := r.paired(wl, a, b, at, lowerBetter)
	if n < 2 {
		return ""
	}
	return fmt.Sprintf(" (round by round: median %.2fx, %d of %d rounds meet %.1fx)", med, won, n, at)
}

// subjects of a workload, in the order they first appeared.
func (r *results) subjects(wl string) []string {
	var out []string
	for _, s := range r.Samples {
		if s.Workload == wl && !slices.Contains(out, s.Subject) {
			out = append(out, s.Subject)
		}
	}
	return out
}

// --- the workloads of the table ---

type ref struct{ wl, subject, short string }

type workload struct {
	key, title, unit string
	refs             []ref
}

var (
	refXnetPut  = ref{"", "x/net PUT", "x/net"}
	refNginxPut = ref{"", "nginx PUT", "nginx"}
	refXnetGet  = ref{"", "x/net GET", "x/net"}
	refNginxGet = ref{"", "nginx GET", "nginx"}
	refDD       = ref{"upload", "pipe → dd conv=fdatasync (limit)", "dd-fdatasync"}
	refFloorPut = ref{"", floorName + ", atomic PUT (limit)", "floor"}
	refFloorRSS = ref{"", floorName + " (limit)", "floor"}
)

// tableWorkloads lists the table's sections; a ref with an empty wl refers
// to the same workload.
func (b *bench) tableWorkloads() []workload {
	big, conc := sizeLabel(b.cfg.big), sizeLabel(b.cfg.concSize)
	return []workload{
		{"upload", "1. " + big + " upload, curl -T - chunked from a pipe", "MB/s", []ref{refXnetPut, refDD}},
		{"download", "2. " + big + " download, curl -o /dev/null", "MB/s", []ref{refNginxGet, refXnetGet}},
		{"upload16", "3. 16 × " + conc + " uploads at once, aggregate", "MB/s", []ref{refXnetPut, refNginxPut}},
		{"peak_upload16", "3. peak RSS during 16 × " + conc, "MiB", []ref{refXnetPut, refNginxPut}},
		{"put4k", fmt.Sprintf("4. 4 KiB PUT of new files, %d Go clients, keep-alive", b.cfg.putClients), "req/s", []ref{refNginxPut, refXnetPut, refFloorPut}},
		{"get4k", "5. 4 KiB GET, wrk -t2 -c32 -d" + b.cfg.wrkDur.String(), "req/s", []ref{refXnetGet, refNginxGet}},
		{"propfind", fmt.Sprintf("6. PROPFIND Depth 1 of %d files", b.cfg.nFiles), "s", []ref{{"", "nginx PROPFIND", "nginx"}, {"", "x/net PROPFIND", "x/net"}}},
		{"propfind_all", fmt.Sprintf("6. PROPFIND Depth 1 of %d files, allprop (empty body)", b.cfg.nFiles), "s", []ref{{"", "nginx PROPFIND", "nginx"}, {"", "x/net PROPFIND", "x/net"}}},
		{"append", fmt.Sprintf("7. 4 KiB appends to one file, %d clients", b.cfg.putClients), "req/s", nil},
		{"wc", "8. line count of " + big, "s", []ref{{"", "wc -l (limit)", "wc -l"}}},
		{"idle_rss", "9. idle RSS after start", "MiB", []ref{{"", "x/net", "x/net"}, {"", "nginx", "nginx"}, refFloorRSS}},
		{"rss_10k", fmt.Sprintf("9. RSS after %d + %d small requests", b.cfg.memWarmup, b.cfg.memN), "MiB", []ref{{"", "x/net", "x/net"}, {"", "nginx", "nginx"}}},
		{"rss_growth", fmt.Sprintf("9. RSS growth over the last %d", b.cfg.memN), "MiB", nil},
		{"peak_upload", "9. peak RSS, one " + big + " upload", "MiB", []ref{refXnetPut, refNginxPut}},
		{"peak_download", "9. peak RSS, one " + big + " download", "MiB", []ref{refXnetGet, refNginxGet}},
		{"cpu_upload", "9. server CPU per GiB uploaded", "CPU s/GiB", []ref{refXnetPut, refNginxPut}},
		{"cpu_download", "9. server CPU per GiB downloaded", "CPU s/GiB", []ref{refXnetGet, refNginxGet}},
	}
}

func unitOf(wl string) string {
	switch {
	case strings.HasPrefix(wl, "upload"), strings.HasPrefix(wl, "download"), strings.HasPrefix(wl, "conc"):
		return "MB/s"
	case wl == "put4k", wl == "get4k", wl == "append":
		return "req/s"
	case wl == "propfind", wl == "propfind_all", wl == "wc":
		return "s"
	case strings.HasPrefix(wl, "cpu"):
		return "CPU s/GiB"
	}
	return "MiB"
}

func format(v float64, unit string) string {
	switch unit {
	case "s":
		return fmt.Sprintf("%.3f", v)
	case "MiB":
		return fmt.Sprintf("%.1f", v)
	case "CPU s/GiB":
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func (b *bench) table() string {
	var t strings.Builder
	fmt.Fprintf(&t, "Medians of %d round(s). Ratio = value ÷ reference measured in the same run "+
		"(MB/s, req/s: higher is better; s, MiB, CPU s/GiB: lower is better). MB = 10^6 bytes.\n\n", b.cfg.rounds)
	t.WriteString("| workload | subject | median | unit | min–max | vs reference |\n|---|---|--:|---|---|---|\n")
	for _, w := range b.tableWorkloads() {
		subjects := b.res.subjects(w.key)
		if len(subjects) == 0 {
			fmt.Fprintf(&t, "| %s | (skipped) | | | | |\n", w.title)
			continue
		}
		for i, s := range subjects {
			v := b.res.values(w.key, s)
			title := ""
			if i == 0 {
				title = w.title
			}
			var ratios []string
			if !strings.HasSuffix(s, "(limit)") {
				for _, r := range w.refs {
					wl := orDefault(r.wl, w.key)
					if wl == w.key && r.subject == s {
						continue
					}
					if rv, ok := b.res.median(wl, r.subject); ok && rv != 0 {
						ratios = append(ratios, fmt.Sprintf("%.2fx %s", median(v)/rv, r.short))
					}
				}
			}
			fmt.Fprintf(&t, "| %s | %s | %s | %s | %s–%s (%d) | %s |\n", title, s, format(median(v), w.unit), w.unit,
				format(slices.Min(v), w.unit), format(slices.Max(v), w.unit), len(v), strings.Join(ratios, ", "))
		}
	}
	return t.String()
}

func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sweepTable is the plot's data as a table: MB/s by size and concurrency.
func (b *bench) sweepTable() string {
	var t strings.Builder
	sizes := append(slices.Clone(b.cfg.sweep), b.cfg.big)
	for _, dir := range []struct {
		name string
		key  func(int64) string
	}{{"upload", b.upKey}, {"download", b.downKey}} {
		fmt.Fprintf(&t, "| %s MB/s by size |", dir.name)
		for _, n := range sizes {
			fmt.Fprintf(&t, " %s |", sizeLabel(n))
		}
		t.WriteString("\n|---|" + strings.Repeat("--:|", len(sizes)) + "\n")
		for _, s := range b.res.subjects(dir.key(b.cfg.big)) {
			fmt.Fprintf(&t, "| %s |", s)
			for _, n := range sizes {
				v, ok := b.res.median(dir.key(n), s)
				if !ok {
					t.WriteString(" – |")
					continue
				}
				fmt.Fprintf(&t, " %.0f |", v)
			}
			t.WriteString("\n")
		}
		t.WriteString("\n")
	}
	levels := append(slices.Clone(b.cfg.concSweep), 16)
	fmt.Fprintf(&t, "| concurrent %s uploads, aggregate MB/s |", sizeLabel(b.cfg.concSize))
	for _, c := range levels {
		fmt.Fprintf(&t, " %d |", c)
	}
	t.WriteString("\n|---|" + strings.Repeat("--:|", len(levels)) + "\n")
	for _, s := range b.res.subjects("upload16") {
		fmt.Fprintf(&t, "| %s |", s)
		for _, c := range levels {
			if v, ok := b.res.median(concKey(c), s); ok {
				fmt.Fprintf(&t, " %.0f |", v)
			} else {
				t.WriteString(" – |")
			}
		}
		t.WriteString("\n")
	}
	return t.String()
}

// --- targets ---

type verdict struct {
	target, result, measured string
}

func (b *bench) targets() []verdict {
	m := func(wl, s string) float64 { v, _ := b.res.median(wl, s); return v } // NaN when not measured
	var out []verdict
	add := func(target string, ok bool, measured string, inputs ...float64) {
		res := "FAIL"
		if ok {
			res = "PASS"
		}
		for _, v := range inputs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				res, measured = "SKIP", "not measured (see notes)"
			}
		}
		out = append(out, verdict{target, res, measured})
	}
	ratio := func(a, b float64) float64 { return a / b }

	xUp := m("upload", "x/net PUT")
	nfPost, nfPut := ratio(m("upload", "davnas --fsync=false POST /file"), xUp), ratio(m("upload", "davnas --fsync=false PUT /dav"), xUp)
	add("upload --fsync=false ≥ 1.0x x/net", min(nfPost, nfPut) >= 1.0,
		fmt.Sprintf("POST /file %.2fx%s, PUT /dav %.2fx%s",
			nfPost, b.res.pairedNote("upload", "davnas --fsync=false POST /file", "x/net PUT", 1, false),
			nfPut, b.res.pairedNote("upload", "davnas --fsync=false PUT /dav", "x/net PUT", 1, false)), nfPost, nfPut)

	dd := m("upload", refDD.subject)
	fPost, fPut := ratio(m("upload", "davnas POST /file"), dd), ratio(m("upload", "davnas PUT /dav"), dd)
	// When curl cannot push bytes into a server that discards them as
	// fast as dd makes them durable, no server reaches the target: the
	// verdict says so next to the ratio.
	curlDD := ratio(m("upload", "curl → discard (limit)"), dd)
	add("upload --fsync on ≥ 0.9x dd conv=fdatasync", min(fPost, fPut) >= 0.9,
		fmt.Sprintf("POST /file %.2fx, PUT /dav %.2fx (curl → discard, what any server can receive from curl: %.2fx)", fPost, fPut, curlDD), fPost, fPut)

	dl := ratio(m("download", "davnas GET /file"), m("download", "nginx GET"))
	add("download ≥ 1.0x nginx", dl >= 1.0, fmt.Sprintf("%.2fx%s", dl,
		b.res.pairedNote("download", "davnas GET /file", "nginx GET", 1, false)), dl)

	idle := m("idle_rss", "davnas")
	add("idle RSS ≤ 8 MiB", idle <= 8, fmt.Sprintf("%.1f MiB (the floor of davnas's libraries: %.1f MiB)",
		idle, m("idle_rss", refFloorRSS.subject)), idle)

	peak := max(m("peak_upload", "davnas POST /file"), m("peak_upload", "davnas PUT /dav"), m("peak_download", "davnas GET /file"))
	add("peak RSS ≤ 16 MiB for one "+sizeLabel(b.cfg.big)+" transfer", peak <= 16,
		fmt.Sprintf("%.1f MiB (max of POST, PUT /dav, GET)", peak), peak)

	p16 := m("peak_upload16", "davnas POST /file")
	add("peak RSS ≤ 24 MiB for 16 × "+sizeLabel(b.cfg.concSize), p16 <= 24, fmt.Sprintf("%.1f MiB", p16), p16)

	growth := m("rss_growth", "davnas")
	add(fmt.Sprintf("no RSS growth over %d requests (≤ 2 MiB)", b.cfg.memN), growth <= 2,
		fmt.Sprintf("%+.1f MiB", growth), growth)

	cu := ratio(m("cpu_upload", "davnas --fsync=false POST /file"), m("cpu_upload", "x/net PUT"))
	cd := ratio(m("cpu_download", "davnas GET /file"), m("cpu_download", "x/net GET"))
	add("CPU s/GiB ≤ x/net's (upload with --fsync=false; download)", cu <= 1 && cd <= 1,
		fmt.Sprintf("upload %.2fx%s, download %.2fx%s",
			cu, b.res.pairedNote("cpu_upload", "davnas --fsync=false POST /file", "x/net PUT", 1, true),
			cd, b.res.pairedNote("cpu_download", "davnas GET /file", "x/net GET", 1, true)), cu, cd)

	pf := ratio(m("propfind", "davnas PROPFIND /dav"), m("propfind", "nginx PROPFIND"))
	add(fmt.Sprintf("PROPFIND %d files ≤ nginx's time", b.cfg.nFiles), pf <= 1, fmt.Sprintf("%.2fx nginx's time", pf), pf)

	put := ratio(m("put4k", "davnas --fsync=false PUT /dav"), m("put4k", "nginx PUT"))
	putOn := ratio(m("put4k", "davnas PUT /dav"), m("put4k", "nginx PUT"))
	floorPut := ratio(m("put4k", refFloorPut.subject), m("put4k", "nginx PUT"))
	add("4 KiB PUT (--fsync=false) ≥ nginx's rate", put >= 1,
		fmt.Sprintf("%.2fx (with fsync on: %.2fx; the floor, a Go server with davnas's libraries creating atomically: %.2fx)", put, putOn, floorPut), put)

	get := ratio(m("get4k", "davnas GET /file"), m("get4k", "x/net GET"))
	add("4 KiB GET ≥ 1.0x x/net", get >= 1, fmt.Sprintf("%.2fx", get), get)

	wc := ratio(m("wc", "wc -l (limit)"), m("wc", "davnas GET /file/NAME/wc"))
	add("wc ≥ 0.9x wc -l (speed)", wc >= 0.9, fmt.Sprintf("%.2fx", wc), wc)
	return out
}

func (b *bench) targetList(v []verdict) string {
	var t strings.Builder
	t.WriteString("| target | result | measured |\n|---|---|---|\n")
	for _, x := range v {
		fmt.Fprintf(&t, "| %s | %s | %s |\n", x.target, x.result, x.measured)
	}
	return t.String()
}

func (b *bench) report() {
	var doc strings.Builder
	mode := "full"
	if b.cfg.quick {
		mode = "quick"
	}
	fmt.Fprintf(&doc, "# davnas benchmark (%s run, %v, %d CPUs, %s)\n\n", mode, b.res.Meta["date"], b.res.Meta["cpus"], b.res.Meta["kernel"])
	doc.WriteString(b.table())
	doc.WriteString("\n## Targets\n\n")
	doc.WriteString(b.targetList(b.targets()))
	doc.WriteString("\n## Scaling (medians; plotted in scaling.svg)\n\n")
	doc.WriteString(b.sweepTable())
	if len(b.res.Notes) > 0 {
		doc.WriteString("\n## Notes\n\n")
		for _, n := range b.res.Notes {
			fmt.Fprintf(&doc, "- %s\n", n)
		}
	}
	fmt.Fprintf(&doc, "\nRun time: %.0f s.\n", b.res.Meta["duration_s"])
	fmt.Print(doc.String())

	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(b.cfg.out, name), data, 0o644); err != nil {
			fatalf("%v", err)
		}
	}
	write("results.md", []byte(doc.String()))
	type med struct {
		Workload string  `json:"workload"`
		Subject  string  `json:"subject"`
		Unit     string  `json:"unit"`
		Median   float64 `json:"median"`
		N        int     `json:"n"`
	}
	var meds []med
	seen := map[[2]string]bool{}
	for _, s := range b.res.Samples {
		k := [2]string{s.Workload, s.Subject}
		if !seen[k] {
			seen[k] = true
			v := b.res.values(s.Workload, s.Subject)
			meds = append(meds, med{s.Workload, s.Subject, s.Unit, median(v), len(v)})
		}
	}
	js, _ := json.MarshalIndent(map[string]any{
		"meta": b.res.Meta, "notes": b.res.Notes, "medians": meds, "samples": b.res.Samples,
	}, "", "  ")
	write("samples.json", js)
	write("scaling.svg", []byte(b.plot()))
	abs, _ := filepath.Abs(b.cfg.out)
	logf("wrote results.md, samples.json and scaling.svg to %s", abs)
}
