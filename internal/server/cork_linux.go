package server

import "syscall"

// setCork sets or clears TCP_CORK: while set, the kernel sends only full
// segments. Errors are ignored: corking only saves segments and wake-ups.
func setCork(rc syscall.RawConn, on bool) {
	v := 0
	if on {
		v = 1
	}
	rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK, v)
	})
	if corkSeen != nil {
		corkSeen(on)
	}
}
