// This file owns the RFC 8441 rule: a WebSocket opened as an extended
// CONNECT stream of HTTP/2 (RFC 8441 section 4; HTTP/3 does the same,
// RFC 9220), instead of an HTTP/1.1 upgrade.

package handshake

import (
	"context"
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

// NewExtendedConnectRequest builds the RFC 8441 opening request for
// rawURL, to be sent over an HTTP/2 connection whose server advertised
// SETTINGS_ENABLE_CONNECT_PROTOCOL (net/http's Transport does, given
// this request, and fails it when the server did not). It is
// NewClientRequest's request (same URL rules, headers and errors) with
// method CONNECT, the :protocol pseudo-header "websocket" under
// HeaderProtocol, and no Upgrade, Connection or Sec-WebSocket-Key. The
// caller sets the body: what it yields is sent on the stream.
func NewExtendedConnectRequest(ctx context.Context, rawURL string, cfg *ClientConfig) (*http.Request, error) {
	req, _, err := NewClientRequest(ctx, rawURL, cfg)
	if err != nil {
		return nil, err
	}
	req.Method = http.MethodConnect
	h := req.Header
	delete(h, hUpgrade)
	delete(h, hConnection)
	delete(h, hKey)
	h[HeaderProtocol] = []string{"websocket"}
	return req, nil
}

// VerifyExtendedConnectResponse checks the response to a request built by
// NewExtendedConnectRequest with the same cfg: a 2xx status (RFC 8441
// section 5; ErrBadStatus), then Sec-WebSocket-Protocol and
// Sec-WebSocket-Extensions as VerifyResponse checks them. It reads only
// resp.StatusCode and resp.Header. Errors are *HandshakeError.
func VerifyExtendedConnectResponse(resp *http.Response, cfg *ClientConfig) (*ClientResult, error) {
	if cfg == nil {
		cfg = &ClientConfig{}
	}
	if resp == nil {
		return nil, hsErr(ErrBadStatus, "no response")
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, hsErr(ErrBadStatus, "got "+itoaStatus(resp.StatusCode))
	}
	return verifyNegotiated(resp.Header, cfg)
}
