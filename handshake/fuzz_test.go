package handshake

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func FuzzParseExtensions(f *testing.F) {
	for _, s := range []string{
		"", "permessage-deflate", "permessage-deflate; client_max_window_bits",
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=11",
		`foo; a="10"; b="x\yz", bar`, " , ,a ;b= c ,", "x-webkit-deflate-frame; no_context_takeover",
		`foo; a="`, "foo;;", "foo; a=\"\\\x01\"", "a\x80",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		exts, err := ParseExtensions(http.Header{"Sec-Websocket-Extensions": {s}})
		if err != nil {
			if !errors.Is(err, ErrMalformedExtensions) {
				t.Fatalf("error %v does not wrap ErrMalformedExtensions", err)
			}
			return
		}
		for _, e := range exts {
			if !isToken(e.Name) {
				t.Fatalf("name %q is not a token", e.Name)
			}
			for _, p := range e.Params {
				if !isToken(p.Name) || p.HasValue != isToken(p.Value) {
					t.Fatalf("param %+v", p)
				}
			}
		}
		formatted := FormatExtensions(exts)
		again, err := ParseExtensions(http.Header{"Sec-Websocket-Extensions": {formatted}})
		if err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", formatted, s, err)
		}
		if diff := cmp.Diff(exts, again); diff != "" {
			t.Fatalf("round trip of %q via %q (-first +second):\n%s", s, formatted, diff)
		}
	})
}

const seedRequest = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

func FuzzServer(f *testing.F) {
	for _, extra := range []string{
		"",
		"Origin: http://example.com\r\n",
		"Origin: https://a.example.org\r\nSec-WebSocket-Protocol: b, a\r\n",
		"Sec-WebSocket-Protocol: a\r\nSec-WebSocket-Protocol: c\r\n",
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
		"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8, permessage-deflate; client_max_window_bits=10; client_no_context_takeover\r\n",
		"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits\r\nSec-WebSocket-Extensions: foo, permessage-deflate; server_no_context_takeover\r\n",
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
		"Content-Length: 3\r\n",
		"Origin: https://example.com\r\n",
		"Origin: ftp://example.com\r\n",
		"Origin: ws://EXAMPLE.com:80\r\n",
		"Origin: null\r\n",
		"Origin: http://[::1]:8080\r\n",
		"Origin: https://example.com\r\nX-Forwarded-Proto: https\r\n",
		"Origin: http://example.com\r\nX-Forwarded-Proto: https, http\r\n",
	} {
		for _, opt := range []uint8{0, 1, 2, 3, 4, 0x15, 0x40, 0x80} {
			f.Add([]byte(seedRequest+extra+"\r\n"), opt)
		}
	}
	for _, host := range []string{"evil.example:8080", "localhost:8080", "LOCALHOST:8081", "[::1]:8080", "[::1]", "a.example.org"} {
		for _, origin := range []string{"", "Origin: http://" + host + "\r\n", "Origin: https://" + host + "\r\n"} {
			req := strings.Replace(seedRequest, "Host: example.com", "Host: "+host, 1) + origin + "\r\n"
			for _, opt := range []uint8{0, 0x40, 0x80, 0xc0} {
				f.Add([]byte(req), opt)
			}
		}
	}
	f.Add([]byte("POST / HTTP/1.0\r\n\r\n"), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, opt uint8) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		cfg := &ServerConfig{
			Subprotocols:    []string{"a", "b"},
			AllowedOrigins:  []string{"https://*.example.org", "http://localhost:8080"},
			AllowAllOrigins: opt&0x20 != 0,
		}
		if opt&0x40 != 0 {
			cfg.AllowedHosts = []string{"example.com", "localhost:8080", "[::1]"}
		}
		cfg.TrustForwardedProto = opt&0x80 != 0
		if opt&1 != 0 {
			cfg.Deflate = &DeflateOptions{
				ContextTakeover:              opt&2 != 0,
				RequestPeerNoContextTakeover: opt&4 != 0,
				MinWindowBits:                []int{0, 4, 8, 12}[opt>>3&3], // 4 is invalid
			}
		}
		res, err := Server(req, cfg)
		// The compiled form decides the same.
		if pol, perr := NewPolicy(cfg); perr != nil {
			if err == nil || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("NewPolicy: %v, Server: %v", perr, err)
			}
		} else {
			pres, perr := pol.Server(req)
			if (err == nil) != (perr == nil) {
				t.Fatalf("Server: %v, Policy.Server: %v", err, perr)
			}
			if err != nil {
				if diff := cmp.Diff(err.Error(), perr.Error()); diff != "" {
					t.Fatalf("Server and Policy.Server refuse differently:\n%s", diff)
				}
			} else if diff := cmp.Diff(res, pres, cmp.AllowUnexported(ServerResult{})); diff != "" {
				t.Fatalf("Server and Policy.Server accept differently (-Server +Policy):\n%s", diff)
			}
		}
		if err != nil {
			var re *RejectError
			if !errors.As(err, &re) || re.Err == nil || re.Reason == "" {
				t.Fatalf("bad rejection %#v", err)
			}
			if !slices.Contains([]int{400, 403, 405, 421, 426, 500}, re.Status) {
				t.Fatalf("status %d", re.Status)
			}
			return
		}
		if cfg.Deflate != nil && cfg.Deflate.MinWindowBits == 4 {
			t.Fatal("accepted with invalid MinWindowBits")
		}
		if req.Method != "GET" || !req.ProtoAtLeast(1, 1) || req.Host == "" {
			t.Fatalf("accepted %s %s Host %q", req.Method, req.Proto, req.Host)
		}
		if !hasToken(req.Header["Upgrade"], "websocket") || !hasToken(req.Header["Connection"], "upgrade") {
			t.Fatalf("accepted without upgrade tokens: %q", req.Header)
		}
		if v := req.Header["Sec-Websocket-Version"]; len(v) != 1 || v[0] != "13" {
			t.Fatalf("accepted version %q", v)
		}
		keys := req.Header["Sec-Websocket-Key"]
		if len(keys) != 1 || !validKey(keys[0]) {
			t.Fatalf("accepted key %q", keys)
		}
		if got := res.Header()["Sec-Websocket-Accept"]; len(got) != 1 || got[0] != AcceptKey(keys[0]) {
			t.Fatalf("accept header %q for key %q", got, keys[0])
		}
		if res.Header().Get("Upgrade") != "websocket" || res.Header().Get("Connection") != "Upgrade" {
			t.Fatalf("response header %q", res.Header())
		}
		host, hostOK := splitHostPort(req.Host)
		if len(cfg.AllowedHosts) > 0 {
			h := strings.ToLower(host.host)
			if !hostOK || !(h == "example.com" || h == "::1" || (h == "localhost" && strings.TrimLeft(host.port, "0") == "8080")) {
				t.Fatalf("accepted Host %q not in %q", req.Host, cfg.AllowedHosts)
			}
		}
		if o := req.Header["Origin"]; len(o) > 0 && !cfg.AllowAllOrigins {
			if len(o) != 1 {
				t.Fatalf("accepted several origins %q", o)
			}
			po, ok := parseOrigin(o[0])
			if !ok {
				t.Fatalf("accepted malformed origin %q", o[0])
			}
			oh, scheme := strings.ToLower(po.host), strings.ToLower(po.scheme)
			byPattern := (strings.HasSuffix(oh, ".example.org") && scheme == "https") ||
				(oh == "localhost" && scheme == "http")
			// Same origin: the request came over plain HTTP, unless a
			// trusted X-Forwarded-Proto says https.
			want := []string{"http", "ws"}
			if xfp := req.Header["X-Forwarded-Proto"]; cfg.TrustForwardedProto && len(xfp) > 0 {
				if first, _, _ := strings.Cut(xfp[0], ","); strings.EqualFold(strings.Trim(first, " \t"), "https") {
					want = []string{"https", "wss"}
				}
			}
			sameOrigin := hostOK && strings.EqualFold(oh, host.host) && slices.Contains(want, scheme)
			if !byPattern && !sameOrigin {
				t.Fatalf("accepted origin %q for host %q (X-Forwarded-Proto %q, trusted %v)", o[0], req.Host, req.Header["X-Forwarded-Proto"], cfg.TrustForwardedProto)
			}
		}
		if res.Subprotocol != "" {
			var offered []string
			for _, v := range req.Header["Sec-Websocket-Protocol"] {
				offered, _ = parseTokenList(offered, v)
			}
			if !slices.Contains(offered, res.Subprotocol) || !slices.Contains(cfg.Subprotocols, res.Subprotocol) {
				t.Fatalf("subprotocol %q not offered by both: %q", res.Subprotocol, offered)
			}
			if got := res.Header()["Sec-Websocket-Protocol"]; len(got) != 1 || got[0] != res.Subprotocol {
				t.Fatalf("protocol header %q", got)
			}
		} else if res.Header()["Sec-Websocket-Protocol"] != nil {
			t.Fatal("protocol header without subprotocol")
		}
		if d := res.Deflate; d != nil {
			if cfg.Deflate == nil {
				t.Fatal("deflate negotiated without DeflateOptions")
			}
			minBits, _ := cfg.Deflate.minBits()
			if d.ServerMaxWindowBits < minBits || d.ServerMaxWindowBits > 15 || d.ClientMaxWindowBits < 8 || d.ClientMaxWindowBits > 15 {
				t.Fatalf("window bits %+v (min %d)", d, minBits)
			}
			if !cfg.Deflate.ContextTakeover && !d.ServerNoContextTakeover {
				t.Fatalf("server keeps context against its options: %+v", d)
			}
			// The response must be one valid permessage-deflate element
			// that a client (which offered client_max_window_bits)
			// interprets exactly as the server does.
			exts, err := ParseExtensions(res.Header())
			if err != nil || len(exts) != 1 || exts[0].Name != ExtensionDeflate {
				t.Fatalf("response extensions %q: %v", res.Header()["Sec-Websocket-Extensions"], err)
			}
			cd, err := acceptDeflateResponse(exts[0], &DeflateOptions{ContextTakeover: true}, 8)
			if err != nil {
				t.Fatalf("client rejects server response %q: %v", res.Header()["Sec-Websocket-Extensions"], err)
			}
			if diff := cmp.Diff(d, cd); diff != "" {
				t.Fatalf("server and client read the response differently (-server +client):\n%s", diff)
			}
		} else if res.Header()["Sec-Websocket-Extensions"] != nil {
			t.Fatal("extensions header without deflate")
		}
		// The wire form of the 101 says what Header says.
		resp, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(res.AppendResponse(nil, nil))), req)
		if rerr != nil || resp.StatusCode != 101 {
			t.Fatalf("AppendResponse is not a 101: %v", rerr)
		}
		if diff := cmp.Diff(res.Header(), resp.Header); diff != "" {
			t.Fatalf("AppendResponse and Header differ (-Header +wire):\n%s", diff)
		}
		for k := range res.Header() {
			switch k {
			case "Upgrade", "Connection", "Sec-Websocket-Accept", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions":
			default:
				t.Fatalf("unexpected response header %q", k)
			}
		}
	})
}

const seedResponse = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"

func FuzzVerifyResponse(f *testing.F) {
	for _, extra := range []string{
		"",
		"Sec-WebSocket-Protocol: chat\r\n",
		"Sec-WebSocket-Protocol: chat, superchat\r\n",
		"Sec-WebSocket-Extensions: permessage-deflate\r\n",
		"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12\r\n",
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=9\r\n",
		"Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate\r\n",
		"Sec-WebSocket-Extensions: x-foo\r\n",
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
	} {
		for _, opt := range []uint8{0, 1, 3, 7} {
			f.Add([]byte(seedResponse+extra+"\r\n"), opt)
		}
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n"), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, opt uint8) {
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), nil)
		if err != nil {
			return
		}
		cfg := &ClientConfig{Subprotocols: []string{"chat", "superchat"}}
		if opt&1 != 0 {
			cfg.Deflate = &DeflateOptions{ContextTakeover: opt&2 != 0, MinWindowBits: []int{0, 9}[opt>>2&1]}
		}
		res, err := VerifyResponse(resp, sampleKey, cfg)
		if err != nil {
			var he *HandshakeError
			if !errors.As(err, &he) || he.Err == nil {
				t.Fatalf("error %#v is not a *HandshakeError", err)
			}
			return
		}
		h := resp.Header
		if resp.StatusCode != 101 || !hasToken(h["Upgrade"], "websocket") || !hasToken(h["Connection"], "upgrade") {
			t.Fatalf("accepted status %d header %q", resp.StatusCode, h)
		}
		if a := h["Sec-Websocket-Accept"]; len(a) != 1 || a[0] != sampleAccept {
			t.Fatalf("accepted Sec-WebSocket-Accept %q", a)
		}
		switch p := h["Sec-Websocket-Protocol"]; {
		case len(p) == 0 && res.Subprotocol == "":
		case len(p) == 1 && p[0] == res.Subprotocol && slices.Contains(cfg.Subprotocols, p[0]):
		default:
			t.Fatalf("accepted subprotocol %q from %q", res.Subprotocol, p)
		}
		exts, err := ParseExtensions(h)
		if err != nil {
			t.Fatalf("accepted malformed extensions: %v", err)
		}
		if d := res.Deflate; d != nil {
			minBits := 8
			if cfg.Deflate == nil {
				t.Fatal("deflate accepted without offer")
			}
			if cfg.Deflate.MinWindowBits != 0 {
				minBits = cfg.Deflate.MinWindowBits
			}
			if len(exts) != 1 || exts[0].Name != ExtensionDeflate {
				t.Fatalf("accepted extensions %+v", exts)
			}
			if d.ClientMaxWindowBits < minBits || d.ClientMaxWindowBits > 15 || d.ServerMaxWindowBits < 8 || d.ServerMaxWindowBits > 15 {
				t.Fatalf("window bits %+v", d)
			}
			if !cfg.Deflate.ContextTakeover && !d.ClientNoContextTakeover {
				t.Fatalf("client keeps context against its offer: %+v", d)
			}
		} else if len(exts) != 0 {
			t.Fatalf("extensions %+v accepted without deflate", exts)
		}
	})
}
