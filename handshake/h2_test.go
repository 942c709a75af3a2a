package handshake

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// validH2Request is an RFC 8441 request as net/http's HTTP/2 server hands
// it to a handler: CONNECT, HTTP/2.0, :protocol in the header, a body (the
// stream), no Upgrade, Connection or Sec-WebSocket-Key.
func validH2Request() *http.Request {
	r := httptest.NewRequest(http.MethodConnect, "/chat", io.NopCloser(strings.NewReader("")))
	r.Host = "example.com" // the :authority
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
	r.ContentLength = -1
	r.TLS = &tls.ConnectionState{}
	r.Header.Set(HeaderProtocol, "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	return r
}

func TestServerExtendedConnect(t *testing.T) {
	deflate := &DeflateOptions{}
	for _, tc := range []struct {
		name    string
		edit    func(r *http.Request)
		cfg     *ServerConfig
		want    http.Header // nil: rejected
		status  int
		errIs   error
		sub     string
		deflate bool
	}{
		{name: "minimal", want: http.Header{}},
		{name: "protocol case-insensitive", edit: func(r *http.Request) { r.Header[HeaderProtocol] = []string{"WebSocket"} },
			want: http.Header{}},
		{name: "key ignored", edit: func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "not a key") },
			want: http.Header{}},
		{name: "same origin over TLS", edit: func(r *http.Request) { r.Header.Set("Origin", "https://example.com") },
			want: http.Header{}},
		{name: "subprotocol and deflate",
			edit: func(r *http.Request) {
				r.Header.Set("Sec-WebSocket-Protocol", "a, chat")
				r.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")
			},
			cfg: &ServerConfig{Subprotocols: []string{"chat"}, Deflate: deflate},
			want: http.Header{"Sec-Websocket-Protocol": {"chat"},
				"Sec-Websocket-Extensions": {"permessage-deflate; server_no_context_takeover"}},
			sub: "chat", deflate: true},

		{name: "plain CONNECT", edit: func(r *http.Request) { delete(r.Header, HeaderProtocol) },
			status: 400, errIs: ErrNotUpgrade},
		{name: "other protocol", edit: func(r *http.Request) { r.Header[HeaderProtocol] = []string{"connect-udp"} },
			status: 400, errIs: ErrNotUpgrade},
		{name: "two protocols", edit: func(r *http.Request) { r.Header[HeaderProtocol] = []string{"websocket", "websocket"} },
			status: 400, errIs: ErrNotUpgrade},
		{name: "no version", edit: func(r *http.Request) { r.Header.Del("Sec-WebSocket-Version") },
			status: 426, errIs: ErrBadVersion},
		{name: "version 8", edit: func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "8") },
			status: 426, errIs: ErrBadVersion},
		{name: "no host", edit: func(r *http.Request) { r.Host = "" },
			status: 400, errIs: ErrMissingHost},
		{name: "cross origin", edit: func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") },
			status: 403, errIs: ErrOriginNotAllowed},
		{name: "http origin over TLS", edit: func(r *http.Request) { r.Header.Set("Origin", "http://example.com") },
			status: 403, errIs: ErrOriginNotAllowed},
		{name: "host not allowed", cfg: &ServerConfig{AllowedHosts: []string{"other.example"}},
			status: 421, errIs: ErrHostNotAllowed},
		{name: "bad subprotocols", edit: func(r *http.Request) { r.Header.Set("Sec-WebSocket-Protocol", "a b") },
			status: 400, errIs: ErrMalformedSubprotocols},
		{name: "bad extensions", edit: func(r *http.Request) { r.Header.Set("Sec-WebSocket-Extensions", ";") },
			status: 400, errIs: ErrMalformedExtensions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := validH2Request()
			if tc.edit != nil {
				tc.edit(r)
			}
			res, err := Server(r, tc.cfg)
			if tc.want == nil {
				var re *RejectError
				if !errors.As(err, &re) || re.Status != tc.status || !errors.Is(err, tc.errIs) {
					t.Fatalf("Server = %v, %v; want status %d, %v", res, err, tc.status, tc.errIs)
				}
				return
			}
			if err != nil {
				t.Fatalf("Server: %v", err)
			}
			if !res.ExtendedConnect || res.Accept != "" || res.Subprotocol != tc.sub || (res.Deflate != nil) != tc.deflate {
				t.Fatalf("result %+v", res)
			}
			if diff := cmp.Diff(tc.want, res.Header()); diff != "" {
				t.Errorf("Header() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServerHTTP2Get: a GET over HTTP/2 (no extended CONNECT) cannot
// upgrade; it gets the HTTP/1.1 rules' 426.
func TestServerHTTP2Get(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "https://example.com/chat", nil)
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
	r.Header.Set("Sec-WebSocket-Version", "13")
	_, err := Server(r, nil)
	var re *RejectError
	if !errors.As(err, &re) || re.Status != http.StatusUpgradeRequired {
		t.Fatalf("Server = %v, want 426", err)
	}
}

// TestServerHTTP1Connect: CONNECT over HTTP/1.1 is not RFC 8441.
func TestServerHTTP1Connect(t *testing.T) {
	r := validH2Request()
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	_, err := Server(r, nil)
	if !errors.Is(err, ErrBadMethod) {
		t.Fatalf("Server = %v, want ErrBadMethod", err)
	}
}

// TestPolicyExtendedConnect: the parsed-policy path decides the same.
func TestPolicyExtendedConnect(t *testing.T) {
	p, err := NewPolicy(&ServerConfig{AllowedOrigins: []string{"https://*.example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	r := validH2Request()
	r.Header.Set("Origin", "https://app.example.org")
	if res, err := p.Server(r); err != nil || !res.ExtendedConnect {
		t.Fatalf("Policy.Server = %+v, %v", res, err)
	}
	r.Header.Set("Origin", "https://example.net")
	if _, err := p.Server(r); !errors.Is(err, ErrOriginNotAllowed) {
		t.Fatalf("Policy.Server = %v, want ErrOriginNotAllowed", err)
	}
}

// FuzzServerExtendedConnect feeds Server HTTP/2-shaped requests: an
// HTTP/1.1 request text parsed by net/http, then turned into what
// net/http's HTTP/2 server hands a handler (HTTP/2.0, CONNECT unless
// opt&1, the X-Protocol header as the :protocol pseudo-header). An
// accepted request must be a CONNECT with :protocol websocket and version
// 13, answered without Upgrade, Connection or Sec-WebSocket-Accept; a
// refusal is a *RejectError with one of the usual statuses; Server and
// Policy.Server agree.
func FuzzServerExtendedConnect(f *testing.F) {
	base := "GET /chat HTTP/1.1\r\nHost: example.com\r\nX-Protocol: websocket\r\nSec-WebSocket-Version: 13\r\n"
	for _, extra := range []string{"", "Origin: https://example.com\r\n", "Origin: http://example.com\r\n",
		"Sec-WebSocket-Protocol: b, a\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
		"X-Protocol: websocket\r\n", "Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Key: x\r\n"} {
		for _, opt := range []uint8{0, 1, 2, 4} {
			f.Add([]byte(base+extra+"\r\n"), opt)
		}
	}
	f.Add([]byte(strings.Replace(base, "websocket", "connect-udp", 1)+"\r\n"), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, opt uint8) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/2.0", 2, 0
		if opt&1 == 0 {
			req.Method = http.MethodConnect
		}
		if p, ok := req.Header["X-Protocol"]; ok {
			req.Header[HeaderProtocol] = p
			delete(req.Header, "X-Protocol")
		}
		if opt&2 != 0 {
			req.TLS = &tls.ConnectionState{}
		}
		cfg := &ServerConfig{Subprotocols: []string{"a"}}
		if opt&4 != 0 {
			cfg.Deflate = &DeflateOptions{}
		}
		res, err := Server(req, cfg)
		pol, _ := NewPolicy(cfg)
		pres, perr := pol.Server(req)
		if (err == nil) != (perr == nil) {
			t.Fatalf("Server: %v, Policy.Server: %v", err, perr)
		}
		if err != nil {
			var re *RejectError
			if !errors.As(err, &re) || re.Reason == "" || !slices.Contains([]int{400, 403, 405, 421, 426}, re.Status) {
				t.Fatalf("bad rejection %#v", err)
			}
			return
		}
		if diff := cmp.Diff(res, pres, cmp.AllowUnexported(ServerResult{})); diff != "" {
			t.Fatalf("Server and Policy.Server accept differently:\n%s", diff)
		}
		p := req.Header[HeaderProtocol]
		if req.Method != http.MethodConnect || len(p) != 1 || !strings.EqualFold(p[0], "websocket") || !res.ExtendedConnect || res.Accept != "" {
			t.Fatalf("accepted %s :protocol %q as %+v", req.Method, p, res)
		}
		if v := req.Header["Sec-Websocket-Version"]; len(v) != 1 || v[0] != "13" {
			t.Fatalf("accepted version %q", v)
		}
		h := res.Header()
		if _, ok := h["Upgrade"]; ok || h.Get("Connection") != "" || h.Get("Sec-WebSocket-Accept") != "" {
			t.Fatalf("HTTP/1.1 headers in the 200: %q", h)
		}
	})
}
