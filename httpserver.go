// This file owns the http.Server settings a WebSocket server needs.

package websocket

import (
	"net/http"
	"time"
)

// Timeouts NewHTTPServer sets.
const (
	// DefaultReadHeaderTimeout bounds reading a request's head: without it
	// a client sending one byte a second holds a connection (and its
	// goroutine) forever (slowloris).
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout bounds how long a kept-alive HTTP connection may
	// sit between requests. Upgraded WebSocket connections are not
	// affected: Upgrade clears the server's deadlines.
	DefaultIdleTimeout = 120 * time.Second
	// DefaultMaxHeaderBytes caps a request's head.
	DefaultMaxHeaderBytes = 64 << 10
)

// NewHTTPServer returns an http.Server for addr and h with the settings a
// server facing the Internet needs: ReadHeaderTimeout (a bare
// http.ListenAndServe has none, so slow clients can hold connections
// forever), IdleTimeout and MaxHeaderBytes. It sets no ReadTimeout or
// WriteTimeout: those would also cut off requests that are not WebSockets
// and take long; WebSocket connections are bounded by Options
// (WriteTimeout, PingInterval) instead. Serve it with ListenAndServe or
// ListenAndServeTLS, and stop it with Shutdown.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
	}
}
