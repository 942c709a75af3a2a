//go:build !unix

// This file stands in for transport_unix.go where the buffer-free idle wait
// is not available: connections read with plain blocking reads.

package websocket

import "net"

// useIdleWait leaves rawc unset: fill reads into a pooled buffer, and
// writes arm their deadline with the clock (armWrite).
func (c *Conn) useIdleWait() {}

// awaitReadable returns at once: UpgradeServer takes its head buffer
// before the first byte arrives.
func awaitReadable(net.Conn) error { return nil }
