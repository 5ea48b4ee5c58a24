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
