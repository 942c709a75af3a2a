package handshake

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewClientRequest(t *testing.T) {
	type want struct {
		Scheme, URLHost, Host, RequestURI string
		Header                            http.Header // besides Sec-WebSocket-Key
	}
	base := func(extra ...string) http.Header {
		h := http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"13"}}
		for i := 0; i < len(extra); i += 2 {
			h[http.CanonicalHeaderKey(extra[i])] = []string{extra[i+1]}
		}
		return h
	}
	tests := []struct {
		url  string
		cfg  *ClientConfig
		want want
	}{
		{"ws://example.com", nil, want{"http", "example.com:80", "example.com", "/", base()}},
		{"wss://example.com/chat?x=1&y=%20", nil, want{"https", "example.com:443", "example.com", "/chat?x=1&y=%20", base()}},
		{"ws://example.com:80/", nil, want{"http", "example.com:80", "example.com", "/", base()}},
		{"ws://example.com:443/", nil, want{"http", "example.com:443", "example.com:443", "/", base()}},
		{"wss://example.com:443", nil, want{"https", "example.com:443", "example.com", "/", base()}},
		{"WSS://Example.com:8443/a%2Fb?", nil, want{"https", "Example.com:8443", "Example.com:8443", "/a%2Fb?", base()}},
		{"ws://[::1]:9000/x", nil, want{"http", "[::1]:9000", "[::1]:9000", "/x", base()}},
		{"ws://[::1]/", nil, want{"http", "[::1]:80", "[::1]", "/", base()}},
		{"http://127.0.0.1:8080/p", nil, want{"http", "127.0.0.1:8080", "127.0.0.1:8080", "/p", base()}},
		{"https://example.com?q", nil, want{"https", "example.com:443", "example.com", "/?q", base()}},
		{"ws://example.com", &ClientConfig{Subprotocols: []string{"chat", "superchat"}},
			want{"http", "example.com:80", "example.com", "/", base("Sec-WebSocket-Protocol", "chat, superchat")}},
		{"ws://example.com", &ClientConfig{Deflate: &DeflateOptions{}},
			want{"http", "example.com:80", "example.com", "/", base("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits; client_no_context_takeover")}},
		{"ws://example.com", &ClientConfig{Deflate: &DeflateOptions{ContextTakeover: true}},
			want{"http", "example.com:80", "example.com", "/", base("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")}},
		{"ws://example.com", &ClientConfig{Deflate: &DeflateOptions{RequestPeerNoContextTakeover: true, MinWindowBits: 15}},
			want{"http", "example.com:80", "example.com", "/", base("Sec-WebSocket-Extensions",
				"permessage-deflate; client_max_window_bits; client_no_context_takeover; server_no_context_takeover")}},
		{"ws://example.com", &ClientConfig{Header: http.Header{"origin": {"http://example.com"}, "Cookie": {"a=1", "b=2"}}},
			want{"http", "example.com:80", "example.com", "/", func() http.Header {
				h := base("Origin", "http://example.com")
				h["Cookie"] = []string{"a=1", "b=2"}
				return h
			}()}},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			req, key, err := NewClientRequest(context.Background(), tc.url, tc.cfg)
			if err != nil {
				t.Fatalf("NewClientRequest: %v", err)
			}
			if !validKey(key) || req.Header.Get("Sec-WebSocket-Key") != key || len(req.Header["Sec-Websocket-Key"]) != 1 {
				t.Errorf("key %q, header %q", key, req.Header["Sec-Websocket-Key"])
			}
			h := req.Header.Clone()
			h.Del("Sec-WebSocket-Key")
			got := want{req.URL.Scheme, req.URL.Host, req.Host, req.URL.RequestURI(), h}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if req.Method != http.MethodGet || req.Body != nil || req.ContentLength != 0 {
				t.Errorf("method %q body %v length %d", req.Method, req.Body, req.ContentLength)
			}
		})
	}
}

func TestNewClientRequestErrors(t *testing.T) {
	tests := []struct {
		url string
		cfg *ClientConfig
		err error
	}{
		{"ftp://example.com", nil, ErrBadURL},
		{"example.com", nil, ErrBadURL},
		{"//example.com", nil, ErrBadURL},
		{"ws://example.com/#frag", nil, ErrBadURL},
		{"ws://example.com/#", nil, ErrBadURL},
		{"ws:///path", nil, ErrBadURL},
		{"ws://:80/path", nil, ErrBadURL},
		{"ws:opaque", nil, ErrBadURL},
		{"ws://user:pw@example.com", nil, ErrBadURL},
		{"ws://exa mple.com", nil, ErrBadURL},
		{"ws://example.com:port", nil, ErrBadURL},
		{"ws://example.com", &ClientConfig{Header: http.Header{"Sec-WebSocket-Key": {"x"}}}, ErrInvalidConfig},
		{"ws://example.com", &ClientConfig{Header: http.Header{"sec-websocket-protocol": {"x"}}}, ErrInvalidConfig},
		{"ws://example.com", &ClientConfig{Header: http.Header{"Sec-Websocket-Extensions": {"x"}}}, ErrInvalidConfig},
		{"ws://example.com", &ClientConfig{Header: http.Header{"Sec-Websocket-Version": {"8"}}}, ErrInvalidConfig},
		{"ws://example.com", &ClientConfig{Header: http.Header{"Upgrade": {"x"}}}, ErrInvalidConfig},
		{"ws://example.com", &ClientConfig{Header: http.Header{"Connection": {"close"}}}, ErrInvalidConfig},
		{"ws://example.com", &ClientConfig{Header: http.Header{"Host": {"other"}}}, ErrInvalidConfig},
		{"ws://example.com", &ClientConfig{Header: http.Header{"X-A": {"a\r\nInjected: 1"}}}, ErrInvalidConfig},
		{"ws://example.com", &ClientConfig{Header: http.Header{"X A": {"a"}}}, ErrInvalidConfig},
		{"ws://example.com", &ClientConfig{Subprotocols: []string{"a b"}}, ErrInvalidConfig},
		{"ws://example.com", &ClientConfig{Subprotocols: []string{""}}, ErrInvalidConfig},
		{"ws://example.com", &ClientConfig{Subprotocols: []string{"a", "b", "a"}}, ErrInvalidConfig},
		{"ws://example.com", &ClientConfig{Deflate: &DeflateOptions{MinWindowBits: 16}}, ErrInvalidConfig},
		{"ws://example.com", &ClientConfig{Deflate: &DeflateOptions{MinWindowBits: -1}}, ErrInvalidConfig},
	}
	for _, tc := range tests {
		req, _, err := NewClientRequest(context.Background(), tc.url, tc.cfg)
		if !errors.Is(err, tc.err) {
			t.Errorf("NewClientRequest(%q, %+v) = %v, %v; want %v", tc.url, tc.cfg, req, err, tc.err)
		}
		var he *HandshakeError
		if err != nil && !errors.As(err, &he) {
			t.Errorf("error %T is not *HandshakeError", err)
		}
	}
}

func TestNewClientRequestFreshKeys(t *testing.T) {
	_, k1, err1 := NewClientRequest(context.Background(), "ws://example.com", nil)
	_, k2, err2 := NewClientRequest(context.Background(), "ws://example.com", nil)
	if err1 != nil || err2 != nil || k1 == k2 {
		t.Fatalf("keys %q %q, errors %v %v", k1, k2, err1, err2)
	}
}

func TestNewClientRequestContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _, err := NewClientRequest(ctx, "ws://example.com", nil)
	if err != nil || req.Context() != ctx {
		t.Fatalf("request context not bound: %v", err)
	}
}

// response101 is a valid response to sampleKey with extra headers.
func response101(extra ...string) *http.Response {
	h := http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Accept": {sampleAccept}}
	for i := 0; i < len(extra); i += 2 {
		k := http.CanonicalHeaderKey(extra[i])
		h[k] = append(h[k], extra[i+1])
	}
	return &http.Response{StatusCode: 101, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h}
}

func TestVerifyResponse(t *testing.T) {
	const pmd = "permessage-deflate"
	ext := func(v string) *http.Response { return response101("Sec-WebSocket-Extensions", v) }
	d := func(s, c bool, sb, cb int) *Deflate {
		return &Deflate{ServerNoContextTakeover: s, ClientNoContextTakeover: c, ServerMaxWindowBits: sb, ClientMaxWindowBits: cb}
	}
	protos := &ClientConfig{Subprotocols: []string{"a", "b"}}
	deflate := &ClientConfig{Deflate: &DeflateOptions{}}
	ct := &ClientConfig{Deflate: &DeflateOptions{ContextTakeover: true}}
	min10 := &ClientConfig{Deflate: &DeflateOptions{ContextTakeover: true, MinWindowBits: 10}}
	tests := []struct {
		name string
		resp *http.Response
		cfg  *ClientConfig
		want *ClientResult
		err  error
	}{
		{"minimal", response101(), nil, &ClientResult{}, nil},
		{"nil response", nil, nil, nil, ErrBadStatus},
		{"status 200", func() *http.Response { r := response101(); r.StatusCode = 200; return r }(), nil, nil, ErrBadStatus},
		{"status 426", func() *http.Response { r := response101(); r.StatusCode = 426; return r }(), nil, nil, ErrBadStatus},
		{"no Upgrade", func() *http.Response { r := response101(); r.Header.Del("Upgrade"); return r }(), nil, nil, ErrNotUpgrade},
		{"Upgrade h2c", func() *http.Response { r := response101(); r.Header.Set("Upgrade", "h2c"); return r }(), nil, nil, ErrNotUpgrade},
		{"Upgrade case", func() *http.Response { r := response101(); r.Header.Set("Upgrade", "WebSocket"); return r }(), nil, &ClientResult{}, nil},
		{"no Connection", func() *http.Response { r := response101(); r.Header.Del("Connection"); return r }(), nil, nil, ErrNotUpgrade},
		{"Connection list", func() *http.Response { r := response101(); r.Header.Set("Connection", "keep-alive, upgrade"); return r }(), nil, &ClientResult{}, nil},
		{"no accept", func() *http.Response { r := response101(); r.Header.Del("Sec-WebSocket-Accept"); return r }(), nil, nil, ErrBadAccept},
		{"wrong accept", func() *http.Response {
			r := response101()
			r.Header.Set("Sec-WebSocket-Accept", AcceptKey("x"))
			return r
		}(), nil, nil, ErrBadAccept},
		{"accept case", func() *http.Response {
			r := response101()
			r.Header.Set("Sec-WebSocket-Accept", strings.ToLower(sampleAccept))
			return r
		}(), nil, nil, ErrBadAccept},
		{"repeated accept", response101("Sec-WebSocket-Accept", sampleAccept), nil, nil, ErrBadAccept},
		{"subprotocol chosen", response101("Sec-WebSocket-Protocol", "b"), protos, &ClientResult{Subprotocol: "b"}, nil},
		{"subprotocol not offered", response101("Sec-WebSocket-Protocol", "c"), protos, nil, ErrBadSubprotocol},
		{"subprotocol list", response101("Sec-WebSocket-Protocol", "a, b"), protos, nil, ErrBadSubprotocol},
		{"subprotocol twice", response101("Sec-WebSocket-Protocol", "a", "Sec-WebSocket-Protocol", "a"), protos, nil, ErrBadSubprotocol},
		{"subprotocol empty", response101("Sec-WebSocket-Protocol", ""), protos, nil, ErrBadSubprotocol},
		{"subprotocol none offered", response101("Sec-WebSocket-Protocol", "a"), nil, nil, ErrBadSubprotocol},
		{"subprotocol case", response101("Sec-WebSocket-Protocol", "A"), protos, nil, ErrBadSubprotocol},
		{"no subprotocol chosen", response101(), protos, &ClientResult{}, nil},
		{"deflate not offered", ext(pmd), nil, nil, ErrBadExtension},
		{"unknown extension", ext("x-foo"), deflate, nil, ErrBadExtension},
		{"malformed extensions", ext(pmd + ";"), deflate, nil, ErrMalformedExtensions},
		{"deflate twice", ext(pmd + ", " + pmd), deflate, nil, ErrBadExtension},
		{"deflate twice across headers", response101("Sec-WebSocket-Extensions", pmd, "Sec-WebSocket-Extensions", pmd), deflate, nil, ErrBadExtension},
		{"unknown param", ext(pmd + "; foo"), deflate, nil, ErrBadExtension},
		{"duplicate param", ext(pmd + "; server_no_context_takeover; server_no_context_takeover"), deflate, nil, ErrBadExtension},
		{"client_max_window_bits without value", ext(pmd + "; client_max_window_bits"), deflate, nil, ErrBadExtension},
		{"server_max_window_bits without value", ext(pmd + "; server_max_window_bits"), deflate, nil, ErrBadExtension},
		{"bits 7", ext(pmd + "; server_max_window_bits=7"), deflate, nil, ErrBadExtension},
		{"bits 16", ext(pmd + "; client_max_window_bits=16"), deflate, nil, ErrBadExtension},
		{"bits 08", ext(pmd + "; client_max_window_bits=08"), deflate, nil, ErrBadExtension},
		{"no_context_takeover with value", ext(pmd + "; client_no_context_takeover=1"), deflate, nil, ErrBadExtension},
		{"client bits below minimum", ext(pmd + "; client_max_window_bits=9"), min10, nil, ErrBadExtension},
		{"client bits at minimum", ext(pmd + "; client_max_window_bits=10"), min10, &ClientResult{Deflate: d(false, false, 15, 10)}, nil},
		{"server bits below our minimum is fine", ext(pmd + "; server_max_window_bits=8"), min10, &ClientResult{Deflate: d(false, false, 8, 15)}, nil},
		{"deflate default", ext(pmd), deflate, &ClientResult{Deflate: d(false, true, 15, 15)}, nil},
		{"deflate context takeover", ext(pmd), ct, &ClientResult{Deflate: d(false, false, 15, 15)}, nil},
		{"deflate declined", response101(), deflate, &ClientResult{}, nil},
		{"deflate all params", ext(pmd + "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9"),
			ct, &ClientResult{Deflate: d(true, true, 10, 9)}, nil},
		{"deflate quoted", ext(pmd + `; client_max_window_bits="12"`), ct, &ClientResult{Deflate: d(false, false, 15, 12)}, nil},
		{"deflate and subprotocol", response101("Sec-WebSocket-Extensions", pmd, "Sec-WebSocket-Protocol", "a"),
			&ClientConfig{Subprotocols: []string{"a"}, Deflate: &DeflateOptions{}}, &ClientResult{Subprotocol: "a", Deflate: d(false, true, 15, 15)}, nil},
		{"bad MinWindowBits", ext(pmd), &ClientConfig{Deflate: &DeflateOptions{MinWindowBits: 3}}, nil, ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := VerifyResponse(tc.resp, sampleKey, tc.cfg)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error = %v, want %v", err, tc.err)
			}
			if err != nil {
				var he *HandshakeError
				if !errors.As(err, &he) {
					t.Errorf("error %T is not *HandshakeError", err)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}
