package storage

import (
	"io"
	"sync"
)

// copyBufSize is the size of the pooled buffers every body is copied
// through. It was chosen by BenchmarkCopyBufferSize (docs/PERFORMANCE.md):
// larger buffers mean fewer read and write system calls per byte, with no
// gain past the point where the socket's receive queue is drained in one read.
const copyBufSize = 256 << 10

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, copyBufSize)
	return &b
}}

// copyBuffer copies src to dst through a pooled buffer. Memory per transfer
// is one buffer, whatever the size of the body.
func copyBuffer(dst io.Writer, src io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	return io.CopyBuffer(dst, readerOnly{src}, *bp)
}

// readerOnly hides a source's WriterTo so the pooled buffer is used.
type readerOnly struct{ r io.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }
