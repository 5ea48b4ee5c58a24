package main

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// countTags finds every tag however the body is cut into reads (a tag
// split between two reads included), counts none twice, and keeps what a
// read returns together with io.EOF.
func TestCountTags(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><D:multistatus xmlns:D="DAV:">`)
	for range 300 {
		b.WriteString("<D:response><D:href>/a/b</D:href></D:response>\n")
	}
	b.WriteString("</D:multistatus>")
	body := b.String()
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"plain":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
	} {
		for _, size := range []int{16, 17, 100, 4096} {
			n, err := countTags(wrap(strings.NewReader(body)), make([]byte, size))
			if err != nil || n != 300 {
				t.Errorf("%s, %d-byte buffer: %d, %v; want 300", name, size, n, err)
			}
		}
	}
}

// TestPaired: per-round ratios pair each round's samples, and the count
// says how many rounds met the mark, whichever way is better.
func TestPaired(t *testing.T) {
	r := newResults()
	for round, v := range [][2]float64{{110, 100}, {90, 100}, {210, 200}, {300, 250}} {
		r.round = round + 1
		r.add("upload", "a", v[0])
		r.add("upload", "b", v[1])
	}
	r.round = 5
	r.add("upload", "a", 50) // b not measured this round: not paired
	med, won, n := r.paired("upload", "a", "b", 1, false)
	if n != 4 || won != 3 || med < 1.074 || med > 1.076 {
		t.Errorf("higher better: median %.3f, %d of %d; want 1.075, 3 of 4", med, won, n)
	}
	if _, won, _ := r.paired("upload", "a", "b", 1, true); won != 1 {
		t.Errorf("lower better: %d rounds at or below 1.0x, want 1", won)
	}
	if note := r.pairedNote("upload", "a", "nobody", 1, false); note != "" {
		t.Errorf("a note without pairs: %q", note)
	}
}
