package handshake

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	sampleKey    = "dGhlIHNhbXBsZSBub25jZQ==" // RFC 6455 section 1.3
	sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

func TestAcceptKeyRFCExample(t *testing.T) {
	if got := AcceptKey(sampleKey); got != sampleAccept {
		t.Fatalf("AcceptKey(%q) = %q, want %q", sampleKey, got, sampleAccept)
	}
}

func TestNewKey(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k := NewKey()
		if !validKey(k) {
			t.Fatalf("NewKey() = %q is not base64 of 16 bytes", k)
		}
		if seen[k] {
			t.Fatalf("NewKey() repeated %q", k)
		}
		seen[k] = true
	}
}

func TestValidKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{sampleKey, true},
		{"AAAAAAAAAAAAAAAAAAAAAA==", true},
		{"", false},
		{"dGhlIHNhbXBsZSBub25jZQ", false},    // no padding
		{"dGhlIHNhbXBsZSBub25jZR==", false},  // non-zero padding bits
		{"dGhlIHNhbXBsZSBub25j", false},      // 15 bytes
		{"dGhlIHNhbXBsZSBub25jZQ==A", false}, // trailing garbage
		{"dGhlIHNhbXBsZSBub25jZXg=", false},  // 17 bytes
		{"dGhlIHNhbXBsZSBub25jZ\n==", false},
		{"dGhlIHNhbXBsZSBub25jZQ-_", false}, // URL alphabet
	} {
		if got := validKey(tc.key); got != tc.want {
			t.Errorf("validKey(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

// validRequest is a minimal valid opening handshake for Host example.com.
func validRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://example.com/chat", nil)
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Sec-WebSocket-Key", sampleKey)
	r.Header.Set("Sec-WebSocket-Version", "13")
	return r
}

func acceptHeader(extra ...string) http.Header {
	h := http.Header{
		"Upgrade":              {"websocket"},
		"Connection":           {"Upgrade"},
		"Sec-Websocket-Accept": {sampleAccept},
	}
	for i := 0; i < len(extra); i += 2 {
		h[http.CanonicalHeaderKey(extra[i])] = []string{extra[i+1]}
	}
	return h
}

func TestServerRejects(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(r *http.Request)
		cfg    *ServerConfig
		status int
		err    error
		header http.Header
	}{
		{"POST", func(r *http.Request) { r.Method = "POST" }, nil, 405, ErrBadMethod, http.Header{"Allow": {"GET"}}},
		{"lowercase get", func(r *http.Request) { r.Method = "get" }, nil, 405, ErrBadMethod, http.Header{"Allow": {"GET"}}},
		{"HTTP/1.0", func(r *http.Request) { r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0 }, nil, 400, ErrBadHTTPVersion, nil},
		{"no Host", func(r *http.Request) { r.Host = "" }, nil, 400, ErrMissingHost, nil},
		{"bad Host", func(r *http.Request) { r.Host = "exa mple.com" }, nil, 400, ErrMissingHost, nil},
		{"two Host", func(r *http.Request) { r.Header["Host"] = []string{"a", "b"} }, nil, 400, ErrMissingHost, nil},
		{"body", func(r *http.Request) { r.ContentLength = 5 }, nil, 400, ErrUnexpectedBody, nil},
		{"chunked body", func(r *http.Request) { r.ContentLength = -1; r.TransferEncoding = []string{"chunked"} }, nil, 400, ErrUnexpectedBody, nil},
		{"no Upgrade", func(r *http.Request) { r.Header.Del("Upgrade") }, nil, 426, ErrNotUpgrade,
			http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"13"}}},
		{"Upgrade h2c", func(r *http.Request) { r.Header.Set("Upgrade", "h2c") }, nil, 400, ErrNotUpgrade, nil},
		{"Upgrade websocket2", func(r *http.Request) { r.Header.Set("Upgrade", "websocket2") }, nil, 400, ErrNotUpgrade, nil},
		{"no Connection", func(r *http.Request) { r.Header.Del("Connection") }, nil, 400, ErrNotUpgrade, nil},
		{"Connection keep-alive", func(r *http.Request) { r.Header.Set("Connection", "keep-alive") }, nil, 400, ErrNotUpgrade, nil},
		{"Connection upgrades", func(r *http.Request) { r.Header.Set("Connection", "upgrades") }, nil, 400, ErrNotUpgrade, nil},
		{"no version", func(r *http.Request) { r.Header.Del("Sec-WebSocket-Version") }, nil, 426, ErrBadVersion, http.Header{"Sec-Websocket-Version": {"13"}}},
		{"version 8", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "8") }, nil, 426, ErrBadVersion, http.Header{"Sec-Websocket-Version": {"13"}}},
		{"version list", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "13, 8") }, nil, 426, ErrBadVersion, http.Header{"Sec-Websocket-Version": {"13"}}},
		{"two versions", func(r *http.Request) { r.Header.Add("Sec-WebSocket-Version", "13") }, nil, 400, ErrBadVersion, nil},
		{"no key", func(r *http.Request) { r.Header.Del("Sec-WebSocket-Key") }, nil, 400, ErrMissingKey, nil},
		{"two keys", func(r *http.Request) { r.Header.Add("Sec-WebSocket-Key", sampleKey) }, nil, 400, ErrBadKey, nil},
		{"empty key", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "") }, nil, 400, ErrBadKey, nil},
		{"short key", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25j") }, nil, 400, ErrBadKey, nil},
		{"not base64 key", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "not base64 at all!!!!!!!") }, nil, 400, ErrBadKey, nil},
		{"cross origin", func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") }, nil, 403, ErrOriginNotAllowed, nil},
		{"CheckOrigin false", nil, &ServerConfig{CheckOrigin: func(*http.Request) bool { return false }}, 403, ErrOriginNotAllowed, nil},
		{"protocol not token", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Protocol", "chat; v=1") }, nil, 400, ErrMalformedSubprotocols, nil},
		{"protocol space", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Protocol", "chat super") }, nil, 400, ErrMalformedSubprotocols, nil},
		{"extensions malformed", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate; =1") }, nil, 400, ErrMalformedExtensions, nil},
		{"extensions malformed, deflate on", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Extensions", `permessage-deflate; a="b c"`) },
			&ServerConfig{Deflate: &DeflateOptions{}}, 400, ErrMalformedExtensions, nil},
		{"bad MinWindowBits", nil, &ServerConfig{Deflate: &DeflateOptions{MinWindowBits: 7}}, 500, ErrInvalidConfig, nil},
		{"MinWindowBits 16", nil, &ServerConfig{Deflate: &DeflateOptions{MinWindowBits: 16}}, 500, ErrInvalidConfig, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validRequest()
			if tc.mod != nil {
				tc.mod(r)
			}
			res, err := Server(r, tc.cfg)
			if err == nil {
				t.Fatalf("Server accepted: %+v", res)
			}
			var re *RejectError
			if !errors.As(err, &re) {
				t.Fatalf("error %v (%T) is not a *RejectError", err, err)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("error %v does not wrap %v", err, tc.err)
			}
			if re.Status != tc.status {
				t.Errorf("Status = %d, want %d", re.Status, tc.status)
			}
			if re.Reason == "" {
				t.Error("empty Reason")
			}
			if diff := cmp.Diff(tc.header, re.Header); diff != "" {
				t.Errorf("Header (-want +got):\n%s", diff)
			}
		})
	}
}

// acceptWant is what TestServerAccepts compares: the 101 headers and the
// chosen subprotocol.
type acceptWant struct {
	Header      http.Header
	Subprotocol string
}

func TestServerAccepts(t *testing.T) {
	tests := []struct {
		name string
		mod  func(r *http.Request)
		cfg  *ServerConfig
		want *acceptWant
	}{
		{"minimal", nil, nil, &acceptWant{Header: acceptHeader()}},
		{"HTTP/2.0 proto number", func(r *http.Request) { r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.2", 1, 2 }, nil, &acceptWant{Header: acceptHeader()}},
		{"Upgrade list, mixed case", func(r *http.Request) { r.Header.Set("Upgrade", "h2c, WebSocket") }, nil, &acceptWant{Header: acceptHeader()}},
		{"Connection list", func(r *http.Request) { r.Header.Set("Connection", "keep-alive,  UPGRADE ") }, nil, &acceptWant{Header: acceptHeader()}},
		{"Connection in two headers", func(r *http.Request) {
			r.Header["Connection"] = []string{"keep-alive", "Upgrade"}
		}, nil, &acceptWant{Header: acceptHeader()}},
		{"same origin", func(r *http.Request) { r.Header.Set("Origin", "http://Example.COM") }, nil, &acceptWant{Header: acceptHeader()}},
		{"CheckOrigin overrides", func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") },
			&ServerConfig{CheckOrigin: func(*http.Request) bool { return true }}, &acceptWant{Header: acceptHeader()}},
		{"subprotocol by server preference", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Protocol", "a, b") },
			&ServerConfig{Subprotocols: []string{"b", "a"}},
			&acceptWant{Header: acceptHeader("Sec-WebSocket-Protocol", "b"), Subprotocol: "b"}},
		{"subprotocol across headers", func(r *http.Request) {
			r.Header["Sec-Websocket-Protocol"] = []string{"a", " ,b , c,"}
		}, &ServerConfig{Subprotocols: []string{"x", "c"}},
			&acceptWant{Header: acceptHeader("Sec-WebSocket-Protocol", "c"), Subprotocol: "c"}},
		{"subprotocol case-sensitive", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Protocol", "Chat") },
			&ServerConfig{Subprotocols: []string{"chat"}}, &acceptWant{Header: acceptHeader()}},
		{"no subprotocol match", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Protocol", "c") },
			&ServerConfig{Subprotocols: []string{"a"}}, &acceptWant{Header: acceptHeader()}},
		{"subprotocol offered, server has none", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Protocol", "a") },
			nil, &acceptWant{Header: acceptHeader()}},
		{"deflate offered, not configured", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate") },
			nil, &acceptWant{Header: acceptHeader()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validRequest()
			if tc.mod != nil {
				tc.mod(r)
			}
			got, err := Server(r, tc.cfg)
			if err != nil {
				t.Fatalf("Server: %v", err)
			}
			if diff := cmp.Diff(tc.want, &acceptWant{got.Header(), got.Subprotocol}); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServerDeflate(t *testing.T) {
	const pmd = "permessage-deflate"
	ct := DeflateOptions{ContextTakeover: true}
	full := func(s, c bool, sb, cb int) *Deflate {
		return &Deflate{ServerNoContextTakeover: s, ClientNoContextTakeover: c, ServerMaxWindowBits: sb, ClientMaxWindowBits: cb}
	}
	tests := []struct {
		name     string
		opts     DeflateOptions
		offers   []string // Sec-WebSocket-Extensions header values
		wantResp string   // "" when declined
		want     *Deflate
	}{
		{"default resets server context", DeflateOptions{}, []string{pmd}, pmd + "; server_no_context_takeover", full(true, false, 15, 15)},
		{"context takeover", ct, []string{pmd}, pmd, full(false, false, 15, 15)},
		{"server_no_context_takeover offered", ct, []string{pmd + "; server_no_context_takeover"}, pmd + "; server_no_context_takeover", full(true, false, 15, 15)},
		{"client_no_context_takeover echoed", ct, []string{pmd + "; client_no_context_takeover"}, pmd + "; client_no_context_takeover", full(false, true, 15, 15)},
		{"request peer no context takeover", DeflateOptions{ContextTakeover: true, RequestPeerNoContextTakeover: true}, []string{pmd},
			pmd + "; client_no_context_takeover", full(false, true, 15, 15)},
		{"client_max_window_bits without value", ct, []string{pmd + "; client_max_window_bits"}, pmd, full(false, false, 15, 15)},
		{"client_max_window_bits=10 echoed", ct, []string{pmd + "; client_max_window_bits=10"}, pmd + "; client_max_window_bits=10", full(false, false, 15, 10)},
		{"quoted value", ct, []string{pmd + `; client_max_window_bits="9"`}, pmd + "; client_max_window_bits=9", full(false, false, 15, 9)},
		{"server_max_window_bits=8", ct, []string{pmd + "; server_max_window_bits=8"}, pmd + "; server_max_window_bits=8", full(false, false, 8, 15)},
		{"server_max_window_bits below minimum, next offer", DeflateOptions{ContextTakeover: true, MinWindowBits: 9},
			[]string{pmd + "; server_max_window_bits=8, " + pmd + "; server_max_window_bits=9"}, pmd + "; server_max_window_bits=9", full(false, false, 9, 15)},
		{"server_max_window_bits below minimum, declined", DeflateOptions{MinWindowBits: 12}, []string{pmd + "; server_max_window_bits=11"}, "", nil},
		{"all parameters", DeflateOptions{},
			[]string{pmd + "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=11"},
			pmd + "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=11", full(true, true, 9, 11)},
		{"parameter order irrelevant", ct, []string{pmd + "; client_max_window_bits=12;server_max_window_bits=13"},
			pmd + "; server_max_window_bits=13; client_max_window_bits=12", full(false, false, 13, 12)},
		{"first acceptable offer wins", ct, []string{pmd + "; client_max_window_bits=9, " + pmd}, pmd + "; client_max_window_bits=9", full(false, false, 15, 9)},
		{"unknown extensions ignored", ct, []string{"x-webkit-deflate-frame; no_context_takeover, foo", pmd}, pmd, full(false, false, 15, 15)},
		{"offer in second header", ct, []string{"foo", pmd + "; server_max_window_bits=12"}, pmd + "; server_max_window_bits=12", full(false, false, 12, 15)},
		{"no offer", ct, nil, "", nil},
		{"only unknown", ct, []string{"foo; bar=baz"}, "", nil},
		{"name is case-sensitive", ct, []string{"Permessage-Deflate"}, "", nil},
	}
	// Invalid offers are declined; a valid fallback offer is then taken.
	for _, bad := range []string{
		"; foo", "; foo=1", "; server_no_context_takeover; server_no_context_takeover",
		"; client_no_context_takeover; client_no_context_takeover", "; server_no_context_takeover=1",
		"; client_no_context_takeover=true", "; server_max_window_bits", "; server_max_window_bits=16",
		"; server_max_window_bits=7", "; server_max_window_bits=08", "; server_max_window_bits=abc",
		"; server_max_window_bits=10; server_max_window_bits=10", "; client_max_window_bits=0",
		"; client_max_window_bits=-9", "; client_max_window_bits=1e1", "; client_max_window_bits; client_max_window_bits=9",
		`; client_max_window_bits="010"`, "; Server_No_Context_Takeover",
	} {
		tests = append(tests,
			struct {
				name     string
				opts     DeflateOptions
				offers   []string
				wantResp string
				want     *Deflate
			}{"invalid alone " + bad, ct, []string{pmd + bad}, "", nil},
			struct {
				name     string
				opts     DeflateOptions
				offers   []string
				wantResp string
				want     *Deflate
			}{"invalid then valid " + bad, ct, []string{pmd + bad + ", " + pmd}, pmd, full(false, false, 15, 15)},
		)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validRequest()
			r.Header["Sec-Websocket-Extensions"] = tc.offers
			opts := tc.opts
			got, err := Server(r, &ServerConfig{Deflate: &opts})
			if err != nil {
				t.Fatalf("Server: %v", err)
			}
			if diff := cmp.Diff(tc.want, got.Deflate); diff != "" {
				t.Errorf("Deflate (-want +got):\n%s", diff)
			}
			var wantHdr []string
			if tc.wantResp != "" {
				wantHdr = []string{tc.wantResp}
			}
			if diff := cmp.Diff(wantHdr, got.Header()["Sec-Websocket-Extensions"]); diff != "" {
				t.Errorf("Sec-WebSocket-Extensions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServerDoesNotModifyRequest(t *testing.T) {
	r := validRequest()
	r.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate")
	before := r.Header.Clone()
	if _, err := Server(r, &ServerConfig{Deflate: &DeflateOptions{}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, r.Header); diff != "" {
		t.Errorf("request header changed (-before +after):\n%s", diff)
	}
}

func TestRejectErrorText(t *testing.T) {
	_, err := Server(httptest.NewRequest("POST", "/", nil), nil)
	if got, want := err.Error(), "handshake: rejected with 405: method must be GET"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestAppendResponse(t *testing.T) {
	res := &ServerResult{Accept: sampleAccept, Subprotocol: "chat", Extensions: "permessage-deflate; server_no_context_takeover"}
	extra := http.Header{
		"Set-Cookie":               {"a=1", "b=2"},
		"X-Injected":               {"x\r\nSet-Cookie: evil=1"},
		"Upgrade":                  {"h2c"},
		"connection":               {"close"},
		"Sec-Websocket-Accept":     {"forged"},
		"Sec-Websocket-Protocol":   {"other"},
		"Sec-Websocket-Extensions": {"x-other"},
		"Content-Length":           {"5"},
		"Transfer-Encoding":        {"chunked"},
		"Bad Key":                  {"v"},
		"A-First":                  {"1"},
	}
	got := string(res.AppendResponse([]byte("prefix|"), extra))
	want := "prefix|HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + sampleAccept + "\r\nSec-WebSocket-Protocol: chat\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n" +
		"A-First: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Injected: x  Set-Cookie: evil=1\r\n\r\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AppendResponse (-want +got):\n%s", diff)
	}
	// Without a chosen subprotocol or extension, the application's own
	// Sec-WebSocket-Protocol / -Extensions go out (gorilla's way of
	// choosing one through the response header).
	bare := &ServerResult{Accept: sampleAccept}
	got = string(bare.AppendResponse(nil, http.Header{"Sec-Websocket-Protocol": {"mine"}}))
	if !strings.Contains(got, "\r\nSec-Websocket-Protocol: mine\r\n") {
		t.Errorf("application subprotocol header dropped: %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { res.AppendResponse(make([]byte, 0, 512)[:0], nil) }); n > 1 {
		t.Errorf("AppendResponse into a large enough buffer: %v allocations", n)
	}
}

func TestNewPolicy(t *testing.T) {
	if _, err := NewPolicy(&ServerConfig{AllowedOrigins: []string{"https://ok.example", "https://bad.example/"}}); !errors.Is(err, ErrInvalidConfig) ||
		!strings.Contains(err.Error(), `AllowedOrigins[1] "https://bad.example/"`) {
		t.Errorf("bad origin pattern: %v", err)
	}
	if _, err := NewPolicy(&ServerConfig{Deflate: &DeflateOptions{MinWindowBits: 4}}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("bad MinWindowBits: %v", err)
	}
	pol, err := NewPolicy(&ServerConfig{
		AllowedOrigins: []string{"https://*.example.org"},
		AllowedHosts:   []string{"localhost:8080", "*.example.com"},
		Subprotocols:   []string{"chat"},
		Deflate:        &DeflateOptions{},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host, origin string
		want         int
	}{
		{"localhost:8080", "https://a.example.org", 0},
		{"api.example.com", "http://api.example.com", 0},
		{"api.example.com", "https://example.org", 403},
		{"evil.example:8080", "http://evil.example:8080", 421},
	} {
		r := validRequest()
		r.Host = tc.host
		r.Header.Set("Origin", tc.origin)
		r.Header.Set("Sec-WebSocket-Protocol", "chat")
		r.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate")
		res, err := pol.Server(r)
		checkStatus(t, err, tc.want)
		if err == nil && (res.Subprotocol != "chat" || res.Deflate == nil || res.Extensions != "permessage-deflate; server_no_context_takeover") {
			t.Errorf("%s from %s: %+v", tc.host, tc.origin, res)
		}
	}
}

// TestServerAllocs: an accepted handshake with an Origin checked against
// patterns, a subprotocol and permessage-deflate costs the result and the
// Sec-WebSocket-Accept string, nothing more (18 allocations before).
func TestServerAllocs(t *testing.T) {
	r := validRequest()
	r.Host = "api.example.com"
	r.Header.Set("Origin", "https://app.example.org")
	r.Header.Set("Sec-WebSocket-Protocol", "chat, superchat")
	r.Header.Set("Sec-WebSocket-Extensions", "x-foo; a=\"b\", permessage-deflate; client_max_window_bits; server_max_window_bits=10")
	cfg := &ServerConfig{AllowedOrigins: []string{"https://x.example", "https://*.example.org"},
		AllowedHosts: []string{"api.example.com"}, Subprotocols: []string{"superchat"}, Deflate: &DeflateOptions{}}
	pol, err := NewPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() (*ServerResult, error){
		"Server":        func() (*ServerResult, error) { return Server(r, cfg) },
		"Policy.Server": func() (*ServerResult, error) { return pol.Server(r) },
	} {
		if _, err := f(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := testing.AllocsPerRun(100, func() { f() }); n > 2 {
			t.Errorf("%s: %v allocations per accepted handshake, want at most 2", name, n)
		}
	}
}
