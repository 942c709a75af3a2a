// This file owns the RFC 8441 rule: a WebSocket opened as an extended
// CONNECT stream of HTTP/2 (RFC 8441 section 4; HTTP/3 does the same,
// RFC 9220), instead of an HTTP/1.1 upgrade.

package handshake

import (
	"net/http"
	"strings"
)

// HeaderProtocol is the key under which net/http (and golang.org/x/net/http2)
// put the :protocol pseudo-header of an extended CONNECT request in
// Request.Header, and under which their clients take it from a request to
// send one.
const HeaderProtocol = ":protocol"

//go:noinline
func rejectNotWebSocketConnect() *RejectError {
	return reject(http.StatusBadRequest, ErrNotUpgrade, "extended CONNECT with :protocol websocket required")
}

// serverExtendedConnect decides on an RFC 8441 request (the method is
// CONNECT and the protocol HTTP/2 or later).
func serverExtendedConnect(r *http.Request, cfg *ServerConfig, pol *Policy) (*ServerResult, error) {
	h := r.Header
	if p := h[HeaderProtocol]; len(p) != 1 || !strings.EqualFold(p[0], "websocket") {
		return nil, rejectNotWebSocketConnect()
	}
	if r.Host == "" || len(h[hHost]) > 1 || !validHost(r.Host) {
		return nil, reject(http.StatusBadRequest, ErrMissingHost, "missing or invalid Host")
	}
	switch v := h[hVersion]; {
	case len(v) > 1:
		return nil, reject(http.StatusBadRequest, ErrBadVersion, "repeated Sec-WebSocket-Version")
	case len(v) == 0 || v[0] != Version:
		return nil, rejectVersion()
	}
	res, err := decide(r, cfg, pol)
	if err != nil {
		return nil, err
	}
	res.ExtendedConnect = true
	return res, nil
}
