package storage

import (
	"errors"
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

// writeAtLeast is the least a copy writes at once, but for the last
// piece: a read from a socket returns what has arrived (a few KiB while a
// writer keeps up), and a 4 KiB body comes in two reads, net/http's 4 KiB
// reader holding the headers too. Reads are gathered in the buffer up to
// this size before one write. See BenchmarkCopyBufferSize.
const writeAtLeast = 64 << 10

// copyBuffer copies src to dst through a pooled buffer, writing at least
// writeAtLeast bytes a call. Memory per transfer is one buffer, whatever the
// size of the body. What was read before an error is written first.
func copyBuffer(dst io.Writer, src io.Reader) (written int64, err error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	return gatherCopy(dst, src, *bp, writeAtLeast)
}

func gatherCopy(dst io.Writer, src io.Reader, buf []byte, least int) (written int64, err error) {
	filled := 0
	for {
		n, rerr := src.Read(buf[filled:])
		if n < 0 || n > len(buf)-filled {
			return written, errInvalidRead
		}
		filled += n
		if filled > 0 && (filled >= least || filled == len(buf) || rerr != nil) {
			w, werr := dst.Write(buf[:filled])
			written += int64(w)
			if werr != nil {
				return written, werr
			}
			if w != filled {
				return written, io.ErrShortWrite
			}
			filled = 0
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, rerr
		}
	}
}

var errInvalidRead = errors.New("invalid read result")

// readerOnly hides a source's WriterTo so the pooled buffer is used.
type readerOnly struct{ r io.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }
