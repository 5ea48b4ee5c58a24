package server

import (
	"context"
	"net"
)

// corkSeen, set by tests only, is told of every setCork.
var corkSeen func(on bool)

// rawConnKey is the context key of a plain TCP connection's
// syscall.RawConn.
type rawConnKey struct{}

// rawConnContext (http.Server.ConnContext) keeps a plain TCP connection's
// raw descriptor in its requests' context, for setCork. TLS connections
// are left out: their bodies are encrypted in user space, never sent with
// sendfile.
func rawConnContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*net.TCPConn); ok {
		if rc, err := tc.SyscallConn(); err == nil {
			return context.WithValue(ctx, rawConnKey{}, rc)
		}
	}
	return ctx
}
