package main

// scaling.svg, written by hand: MB/s against file size (upload solid,
// download dashed) and aggregate upload MB/s against concurrent uploads,
// for davnas and the references. Both x axes are logarithmic (base 2); the
// size panel's y axis too (base 10), since 1 MiB and 1 GiB differ tenfold.

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

type series struct {
	label, color string
	dashed       bool
	pts          [][2]float64 // x, y
}

type chart struct {
	x, y, w, h       float64 // plot area
	title, ylabel    string
	xs               []float64
	xlabels          []string
	logY             bool
	series           []series
	legendX, legendY float64
}

var esc = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

// colors per subject prefix; limits are grey or black.
func colorOf(subject string) string {
	switch {
	case strings.HasPrefix(subject, "davnas --fsync=false"):
		return "#17becf"
	case strings.HasPrefix(subject, "davnas"):
		return "#1f5fb4"
	case strings.HasPrefix(subject, "x/net"):
		return "#ff7f0e"
	case strings.HasPrefix(subject, "nginx"):
		return "#2ca02c"
	case strings.Contains(subject, "fdatasync"):
		return "#7f7f7f"
	case strings.Contains(subject, "cat > file"):
		return "#bcbd22"
	}
	return "#000000"
}

func (b *bench) plot() string {
	sizes := append(slices.Clone(b.cfg.sweep), b.cfg.big)
	var sizeSeries []series
	for _, dir := range []struct {
		key    func(int64) string
		dashed bool
		suffix string
	}{{b.upKey, false, " (up)"}, {b.downKey, true, " (down)"}} {
		for _, subj := range b.res.subjects(dir.key(b.cfg.big)) {
			if strings.Contains(subj, "PUT /dav") || strings.Contains(subj, "TCP") {
				continue // the plot keeps one way per server; the table has all
			}
			s := series{label: subj + dir.suffix, color: colorOf(subj), dashed: dir.dashed}
			for _, n := range sizes {
				if v, ok := b.res.median(dir.key(n), subj); ok {
					s.pts = append(s.pts, [2]float64{float64(n), v})
				}
			}
			sizeSeries = append(sizeSeries, s)
		}
	}
	levels := append(slices.Clone(b.cfg.concSweep), 16)
	var concSeries []series
	for _, subj := range b.res.subjects("upload16") {
		s := series{label: subj, color: colorOf(subj)}
		for _, c := range levels {
			if v, ok := b.res.median(concKey(c), subj); ok {
				s.pts = append(s.pts, [2]float64{float64(c), v})
			}
		}
		concSeries = append(concSeries, s)
	}
	var xs []float64
	var xl []string
	for _, n := range sizes {
		xs, xl = append(xs, float64(n)), append(xl, sizeLabel(n))
	}
	var cx []float64
	var cl []string
	for _, c := range levels {
		cx, cl = append(cx, float64(c)), append(cl, fmt.Sprint(c))
	}

	rows := (max(len(sizeSeries), len(concSeries)) + 1) / 2
	const W = 1180
	H := 520 + rows*18
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(&sb, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	mode := fmt.Sprintf("medians of %d round(s)", b.cfg.rounds)
	fmt.Fprintf(&sb, `<text x="20" y="26" font-size="16" font-weight="bold">davnas vs references: how throughput scales (%s, %v)</text>`+"\n", esc.Replace(mode), b.res.Meta["date"])
	drawChart(&sb, chart{x: 80, y: 60, w: 480, h: 380, title: "MB/s by file size (curl; solid upload, dashed download)",
		ylabel: "MB/s (log)", xs: xs, xlabels: xl, logY: true, series: sizeSeries, legendX: 20, legendY: 500})
	drawChart(&sb, chart{x: 660, y: 60, w: 460, h: 380, title: fmt.Sprintf("aggregate upload MB/s, concurrent %s uploads", sizeLabel(b.cfg.concSize)),
		ylabel: "MB/s", xs: cx, xlabels: cl, series: concSeries, legendX: 660, legendY: 500})
	sb.WriteString("</svg>\n")
	return sb.String()
}

func drawChart(sb *strings.Builder, c chart) {
	fmt.Fprintf(sb, `<text x="%.0f" y="%.0f" font-size="13" font-weight="bold">%s</text>`+"\n", c.x-40, c.y-14, esc.Replace(c.title))
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range c.series {
		for _, p := range s.pts {
			lo, hi = min(lo, p[1]), max(hi, p[1])
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 1, 10
	}
	var yticks []float64
	var ypos func(float64) float64
	if c.logY {
		lo, hi = nice125(lo, false), nice125(hi, true)
		if hi <= lo {
			hi = lo * 10
		}
		for d := math.Pow(10, math.Floor(math.Log10(lo))); d < hi*1.01; d *= 10 {
			for _, m := range []float64{1, 2, 5} {
				if d*m >= lo*0.999 && d*m <= hi*1.001 {
					yticks = append(yticks, d*m)
				}
			}
		}
		ypos = func(v float64) float64 {
			return c.y + c.h - (math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*c.h
		}
	} else {
		step := niceStep(hi / 5)
		hi = math.Ceil(hi*1.05/step) * step
		for v := 0.0; v <= hi+step/2; v += step {
			yticks = append(yticks, v)
		}
		ypos = func(v float64) float64 { return c.y + c.h - v/hi*c.h }
	}
	x0, x1 := math.Log2(c.xs[0]), math.Log2(c.xs[len(c.xs)-1])
	xpos := func(v float64) float64 {
		if x1 == x0 {
			return c.x + c.w/2
		}
		return c.x + 0.05*c.w + (math.Log2(v)-x0)/(x1-x0)*0.9*c.w
	}
	// axes, grid, ticks
	fmt.Fprintf(sb, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#444"/>`+"\n", c.x, c.y, c.w, c.h)
	for _, t := range yticks {
		y := ypos(t)
		fmt.Fprintf(sb, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n",
			c.x, c.x+c.w, y, y, c.x-6, y+4, trimFloat(t))
	}
	for i, v := range c.xs {
		x := xpos(v)
		fmt.Fprintf(sb, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" stroke="#ddd"/><text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n",
			x, x, c.y, c.y+c.h, x, c.y+c.h+16, esc.Replace(c.xlabels[i]))
	}
	fmt.Fprintf(sb, `<text x="%.0f" y="%.0f" text-anchor="middle" transform="rotate(-90 %.0f %.0f)">%s</text>`+"\n",
		c.x-52, c.y+c.h/2, c.x-52, c.y+c.h/2, esc.Replace(c.ylabel))
	// lines and legend
	for i, s := range c.series {
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		var pts []string
		for _, p := range s.pts {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xpos(p[0]), ypos(p[1])))
		}
		fmt.Fprintf(sb, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", s.color, dash, strings.Join(pts, " "))
		for _, p := range s.pts {
			fmt.Fprintf(sb, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", xpos(p[0]), ypos(p[1]), s.color)
		}
		lx, ly := c.legendX+float64(i%2)*270, c.legendY+float64(i/2)*18
		fmt.Fprintf(sb, `<line x1="%.0f" x2="%.0f" y1="%.0f" y2="%.0f" stroke="%s" stroke-width="2"%s/><text x="%.0f" y="%.0f">%s</text>`+"\n",
			lx, lx+24, ly-4, ly-4, s.color, dash, lx+30, ly, esc.Replace(s.label))
	}
}

// nice125 rounds v down (or up) to 1, 2 or 5 times a power of ten.
func nice125(v float64, up bool) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	if up {
		for _, m := range []float64{1, 2, 5, 10} {
			if v <= m*p*1.0001 {
				return m * p
			}
		}
	}
	for _, m := range []float64{5, 2, 1} {
		if v >= m*p*0.9999 {
			return m * p
		}
	}
	return p
}

func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	if v >= 1 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%g", v)
}
