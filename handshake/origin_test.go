package handshake

import (
	"crypto/tls"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestOriginPolicy(t *testing.T) {
	tests := []struct {
		name    string
		host    string
		origins []string // Origin header values
		cfg     ServerConfig
		want    bool
	}{
		{"no Origin", "example.com", nil, ServerConfig{}, true},
		{"same origin http", "example.com", []string{"http://example.com"}, ServerConfig{}, true},
		{"same origin case and explicit default port", "EXAMPLE.com", []string{"HTTP://example.COM:80"}, ServerConfig{}, true},
		{"same origin explicit port", "example.com:8080", []string{"http://example.com:8080"}, ServerConfig{}, true},
		{"Host with default port", "example.com:80", []string{"http://example.com"}, ServerConfig{}, true},
		{"port mismatch", "example.com", []string{"http://example.com:8080"}, ServerConfig{}, false},
		{"https origin to port 80", "example.com:80", []string{"https://example.com"}, ServerConfig{}, false},
		{"other host", "example.com", []string{"http://evil.example"}, ServerConfig{}, false},
		{"suffix host", "example.com", []string{"http://notexample.com"}, ServerConfig{}, false},
		{"IPv6 same origin", "[::1]:8080", []string{"http://[::1]:8080"}, ServerConfig{}, true},
		{"null origin", "example.com", []string{"null"}, ServerConfig{}, false},
		{"origin with path", "example.com", []string{"http://example.com/"}, ServerConfig{}, false},
		{"origin with user", "example.com", []string{"http://u@example.com"}, ServerConfig{}, false},
		{"origin with query", "example.com", []string{"http://example.com?x"}, ServerConfig{}, false},
		{"origin with fragment", "example.com", []string{"http://example.com#"}, ServerConfig{}, false},
		{"origin without scheme", "example.com", []string{"example.com"}, ServerConfig{}, false},
		{"origin with bad port", "example.com:80", []string{"http://example.com:8x"}, ServerConfig{}, false},
		{"origin with space", "example.com", []string{"http://exa mple.com"}, ServerConfig{}, false},
		{"empty origin", "example.com", []string{""}, ServerConfig{}, false},
		{"two origins", "example.com", []string{"http://example.com", "http://example.com"}, ServerConfig{}, false},
		{"allow all", "example.com", []string{"http://evil.example"}, ServerConfig{AllowAllOrigins: true}, true},
		{"allow all, malformed", "example.com", []string{"%%%"}, ServerConfig{AllowAllOrigins: true}, true},
		{"allow all, repeated", "example.com", []string{"a", "b"}, ServerConfig{AllowAllOrigins: true}, false},
		{"exact pattern", "api.example.com", []string{"https://app.example.com"}, ServerConfig{AllowedOrigins: []string{"https://app.example.com"}}, true},
		{"exact pattern, case", "api.example.com", []string{"https://APP.example.com"}, ServerConfig{AllowedOrigins: []string{"HTTPS://app.Example.com"}}, true},
		{"exact pattern, other scheme", "api.example.com", []string{"http://app.example.com"}, ServerConfig{AllowedOrigins: []string{"https://app.example.com"}}, false},
		{"exact pattern, other port", "api.example.com", []string{"https://app.example.com:8443"}, ServerConfig{AllowedOrigins: []string{"https://app.example.com"}}, false},
		{"exact pattern, explicit default port", "api.example.com", []string{"https://app.example.com:443"}, ServerConfig{AllowedOrigins: []string{"https://app.example.com"}}, true},
		{"wildcard", "api.example.com", []string{"https://a.example.com"}, ServerConfig{AllowedOrigins: []string{"https://*.example.com"}}, true},
		{"wildcard, deep", "api.example.com", []string{"https://a.b.example.com"}, ServerConfig{AllowedOrigins: []string{"https://*.example.com"}}, true},
		{"wildcard, case", "api.example.com", []string{"https://A.EXAMPLE.COM"}, ServerConfig{AllowedOrigins: []string{"https://*.example.com"}}, true},
		{"wildcard, apex", "api.example.com", []string{"https://example.com"}, ServerConfig{AllowedOrigins: []string{"https://*.example.com"}}, false},
		{"wildcard, empty label", "api.example.com", []string{"https://.example.com"}, ServerConfig{AllowedOrigins: []string{"https://*.example.com"}}, false},
		{"wildcard, no dot", "api.example.com", []string{"https://aexample.com"}, ServerConfig{AllowedOrigins: []string{"https://*.example.com"}}, false},
		{"wildcard, scheme", "api.example.com", []string{"http://a.example.com"}, ServerConfig{AllowedOrigins: []string{"https://*.example.com"}}, false},
		{"wildcard any scheme http", "api.example.com", []string{"http://a.example.com"}, ServerConfig{AllowedOrigins: []string{"*.example.com"}}, true},
		{"wildcard any scheme https", "api.example.com", []string{"https://a.example.com"}, ServerConfig{AllowedOrigins: []string{"*.example.com"}}, true},
		{"wildcard any scheme, port", "api.example.com", []string{"https://a.example.com:8443"}, ServerConfig{AllowedOrigins: []string{"*.example.com"}}, false},
		{"wildcard with port", "api.example.com", []string{"https://a.example.com:8443"}, ServerConfig{AllowedOrigins: []string{"*.example.com:8443"}}, true},
		{"host pattern any scheme", "api.example.com", []string{"https://example.com"}, ServerConfig{AllowedOrigins: []string{"example.com"}}, true},
		{"localhost port", "api.example.com", []string{"http://localhost:8080"}, ServerConfig{AllowedOrigins: []string{"http://localhost:8080"}}, true},
		{"localhost other port", "api.example.com", []string{"http://localhost:8081"}, ServerConfig{AllowedOrigins: []string{"http://localhost:8080"}}, false},
		{"localhost default port", "api.example.com", []string{"http://localhost"}, ServerConfig{AllowedOrigins: []string{"http://localhost:8080"}}, false},
		{"IPv6 pattern", "api.example.com", []string{"http://[::1]:3000"}, ServerConfig{AllowedOrigins: []string{"http://[::1]:3000"}}, true},
		{"second pattern", "api.example.com", []string{"https://b.example.org"}, ServerConfig{AllowedOrigins: []string{"https://a.example.org", "https://b.example.org"}}, true},
		{"CheckOrigin called without Origin", "example.com", nil, ServerConfig{CheckOrigin: func(*http.Request) bool { return false }}, false},
		{"CheckOrigin beats same origin", "example.com", []string{"http://example.com"}, ServerConfig{CheckOrigin: func(*http.Request) bool { return false }}, false},
		{"CheckOrigin beats patterns", "example.com", []string{"http://evil.example"}, ServerConfig{CheckOrigin: func(r *http.Request) bool {
			return r.Header.Get("Origin") == "http://evil.example"
		}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validRequest()
			r.Host = tc.host
			if tc.origins != nil {
				r.Header["Origin"] = tc.origins
			}
			_, err := Server(r, &tc.cfg)
			if tc.want && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !tc.want {
				var re *RejectError
				if !errors.As(err, &re) || re.Status != http.StatusForbidden || !errors.Is(err, ErrOriginNotAllowed) {
					t.Fatalf("got %v, want 403 ErrOriginNotAllowed", err)
				}
			}
		})
	}
}

// TestOriginScheme: the same-origin default compares the scheme the request
// arrived by (http over plain HTTP, https over TLS, or what PublicScheme /
// a trusted X-Forwarded-Proto says) with the Origin's, and the ports with
// that scheme's default filled in.
func TestOriginScheme(t *testing.T) {
	tests := []struct {
		name   string
		host   string
		tls    bool
		xfp    []string // X-Forwarded-Proto values
		origin string
		cfg    ServerConfig
		want   int // 0: accepted; else the status
	}{
		// Plain HTTP (ws://).
		{"http origin over http", "example.com", false, nil, "http://example.com", ServerConfig{}, 0},
		{"ws origin over http", "example.com", false, nil, "ws://example.com", ServerConfig{}, 0},
		{"https origin over http", "example.com", false, nil, "https://example.com", ServerConfig{}, 403},
		{"https origin over http, Host port 443", "example.com:443", false, nil, "https://example.com", ServerConfig{}, 403},
		{"https origin over http, same explicit port", "example.com:8080", false, nil, "https://example.com:8080", ServerConfig{}, 403},
		{"wss origin over http", "example.com", false, nil, "wss://example.com", ServerConfig{}, 403},
		{"ftp origin over http, same port", "example.com:8080", false, nil, "ftp://example.com:8080", ServerConfig{}, 403},
		{"ftp origin over http, no port", "example.com", false, nil, "ftp://example.com", ServerConfig{}, 403},
		{"http origin, explicit port 443 both", "example.com:443", false, nil, "http://example.com:443", ServerConfig{}, 0},
		{"http origin, Host :80, origin default", "example.com:80", false, nil, "http://example.com", ServerConfig{}, 0},
		{"http origin default, Host :8080", "example.com:8080", false, nil, "http://example.com", ServerConfig{}, 403},
		{"http origin :8081, Host :8080", "example.com:8080", false, nil, "http://example.com:8081", ServerConfig{}, 403},
		{"null origin over http", "example.com", false, nil, "null", ServerConfig{}, 403},
		// TLS (wss://).
		{"https origin over TLS", "example.com", true, nil, "https://example.com", ServerConfig{}, 0},
		{"https origin over TLS, Host :443", "example.com:443", true, nil, "https://example.com", ServerConfig{}, 0},
		{"https origin :443 over TLS", "example.com", true, nil, "https://example.com:443", ServerConfig{}, 0},
		{"wss origin over TLS", "example.com", true, nil, "wss://example.com", ServerConfig{}, 0},
		{"https origin :8443 over TLS", "example.com:8443", true, nil, "https://example.com:8443", ServerConfig{}, 0},
		{"https origin :8443, Host default", "example.com", true, nil, "https://example.com:8443", ServerConfig{}, 403},
		{"http origin over TLS", "example.com", true, nil, "http://example.com", ServerConfig{}, 403},
		{"http origin over TLS, same explicit port", "example.com:8443", true, nil, "http://example.com:8443", ServerConfig{}, 403},
		{"ws origin over TLS", "example.com", true, nil, "ws://example.com", ServerConfig{}, 403},
		{"null origin over TLS", "example.com", true, nil, "null", ServerConfig{}, 403},
		// IPv6 hosts.
		{"IPv6 http over http", "[::1]:8080", false, nil, "http://[::1]:8080", ServerConfig{}, 0},
		{"IPv6 default port", "[::1]", false, nil, "http://[::1]", ServerConfig{}, 0},
		{"IPv6 case", "[::A]:8080", false, nil, "http://[::a]:8080", ServerConfig{}, 0},
		{"IPv6 https over http", "[::1]:8080", false, nil, "https://[::1]:8080", ServerConfig{}, 403},
		{"IPv6 https over TLS", "[2001:db8::1]:8443", true, nil, "https://[2001:db8::1]:8443", ServerConfig{}, 0},
		{"IPv6 other port", "[::1]:8080", false, nil, "http://[::1]:8081", ServerConfig{}, 403},
		{"IPv6 other address", "[::1]:8080", false, nil, "http://[::2]:8080", ServerConfig{}, 403},
		// TLS terminated in front: PublicScheme.
		{"PublicScheme https, https origin", "example.com", false, nil, "https://example.com", ServerConfig{PublicScheme: "https"}, 0},
		{"PublicScheme HTTPS, https origin", "example.com", false, nil, "https://example.com", ServerConfig{PublicScheme: "HTTPS"}, 0},
		{"PublicScheme https, http origin", "example.com", false, nil, "http://example.com", ServerConfig{PublicScheme: "https"}, 403},
		{"PublicScheme http over TLS", "example.com", true, nil, "http://example.com", ServerConfig{PublicScheme: "http"}, 0},
		{"PublicScheme beats X-Forwarded-Proto", "example.com", false, []string{"http"}, "https://example.com", ServerConfig{PublicScheme: "https", TrustForwardedProto: true}, 0},
		{"PublicScheme invalid", "example.com", false, nil, "http://example.com", ServerConfig{PublicScheme: "wss"}, 500},
		// TLS terminated in front: X-Forwarded-Proto, only when trusted.
		{"X-Forwarded-Proto https trusted", "example.com", false, []string{"https"}, "https://example.com", ServerConfig{TrustForwardedProto: true}, 0},
		{"X-Forwarded-Proto HTTPS trusted", "example.com", false, []string{"HTTPS"}, "https://example.com", ServerConfig{TrustForwardedProto: true}, 0},
		{"X-Forwarded-Proto https trusted, http origin", "example.com", false, []string{"https"}, "http://example.com", ServerConfig{TrustForwardedProto: true}, 403},
		{"X-Forwarded-Proto https not trusted", "example.com", false, []string{"https"}, "https://example.com", ServerConfig{}, 403},
		{"X-Forwarded-Proto list, first wins", "example.com", false, []string{" https , http"}, "https://example.com", ServerConfig{TrustForwardedProto: true}, 0},
		{"X-Forwarded-Proto http over TLS", "example.com", true, []string{"http"}, "http://example.com", ServerConfig{TrustForwardedProto: true}, 0},
		{"X-Forwarded-Proto unknown falls back", "example.com", false, []string{"gopher"}, "https://example.com", ServerConfig{TrustForwardedProto: true}, 403},
		{"X-Forwarded-Proto absent falls back to TLS", "example.com", true, nil, "https://example.com", ServerConfig{TrustForwardedProto: true}, 0},
		// Patterns keep their own schemes, whatever the transport.
		{"pattern https over http", "api.example.com", false, nil, "https://app.example.com", ServerConfig{AllowedOrigins: []string{"https://app.example.com"}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validRequest()
			r.Host = tc.host
			r.Header.Set("Origin", tc.origin)
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tc.xfp != nil {
				r.Header["X-Forwarded-Proto"] = tc.xfp
			}
			_, err := Server(r, &tc.cfg)
			checkStatus(t, err, tc.want)
		})
	}
}

func checkStatus(t *testing.T, err error, want int) {
	t.Helper()
	if want == 0 {
		if err != nil {
			t.Fatalf("rejected: %v", err)
		}
		return
	}
	var re *RejectError
	if !errors.As(err, &re) || re.Status != want {
		t.Fatalf("got %v, want a %d rejection", err, want)
	}
	sentinel := map[int]error{403: ErrOriginNotAllowed, 421: ErrHostNotAllowed, 500: ErrInvalidConfig}[want]
	if !errors.Is(err, sentinel) {
		t.Fatalf("got %v, want it to wrap %v", err, sentinel)
	}
}

// TestAllowedHosts: with AllowedHosts set, a request naming another Host is
// refused with 421 whatever the origin settings, which stops DNS
// rebinding: a page on evil.example whose name now resolves to the
// loopback server is same-origin with its own Host.
func TestAllowedHosts(t *testing.T) {
	loopback := []string{"localhost:8080", "127.0.0.1:8080", "[::1]:8080"}
	tests := []struct {
		name   string
		host   string
		origin string // "" for none
		cfg    ServerConfig
		want   int
	}{
		{"rebinding, same-origin page", "evil.example:8080", "http://evil.example:8080", ServerConfig{AllowedHosts: loopback}, 421},
		{"rebinding, no Origin", "evil.example:8080", "", ServerConfig{AllowedHosts: loopback}, 421},
		{"rebinding, AllowAllOrigins", "evil.example:8080", "http://evil.example:8080", ServerConfig{AllowedHosts: loopback, AllowAllOrigins: true}, 421},
		{"rebinding, CheckOrigin true", "evil.example:8080", "http://evil.example:8080", ServerConfig{AllowedHosts: loopback, CheckOrigin: func(*http.Request) bool { return true }}, 421},
		{"rebinding, allowed origin pattern", "evil.example:8080", "http://evil.example:8080", ServerConfig{AllowedHosts: loopback, AllowedOrigins: []string{"evil.example:8080"}}, 421},
		{"localhost", "localhost:8080", "http://localhost:8080", ServerConfig{AllowedHosts: loopback}, 0},
		{"localhost case", "LocalHost:8080", "http://localhost:8080", ServerConfig{AllowedHosts: loopback}, 0},
		{"127.0.0.1", "127.0.0.1:8080", "http://127.0.0.1:8080", ServerConfig{AllowedHosts: loopback}, 0},
		{"::1", "[::1]:8080", "", ServerConfig{AllowedHosts: loopback}, 0},
		{"other port", "localhost:9090", "", ServerConfig{AllowedHosts: loopback}, 421},
		{"no port, pattern with port", "localhost", "", ServerConfig{AllowedHosts: loopback}, 421},
		{"pattern without port, any port", "localhost:1234", "", ServerConfig{AllowedHosts: []string{"localhost"}}, 0},
		{"pattern without port, no port", "localhost", "", ServerConfig{AllowedHosts: []string{"localhost"}}, 0},
		{"suffix is not a match", "evil-localhost:8080", "", ServerConfig{AllowedHosts: []string{"localhost"}}, 421},
		{"trailing dot is another name", "localhost.:8080", "", ServerConfig{AllowedHosts: []string{"localhost"}}, 421},
		{"wildcard", "a.example.com", "", ServerConfig{AllowedHosts: []string{"*.example.com"}}, 0},
		{"wildcard apex", "example.com", "", ServerConfig{AllowedHosts: []string{"*.example.com"}}, 421},
		{"weird Host", "exa$mple.com", "", ServerConfig{AllowedHosts: []string{"example.com"}}, 421},
		{"host passes, origin still checked", "localhost:8080", "http://evil.example", ServerConfig{AllowedHosts: loopback}, 403},
		{"empty list accepts any Host", "evil.example:8080", "http://evil.example:8080", ServerConfig{}, 0},
		{"pattern with scheme", "localhost", "", ServerConfig{AllowedHosts: []string{"http://localhost"}}, 500},
		{"pattern with path", "localhost", "", ServerConfig{AllowedHosts: []string{"localhost/"}}, 500},
		{"empty pattern", "localhost", "", ServerConfig{AllowedHosts: []string{""}}, 500},
		{"origin pattern with path", "localhost", "", ServerConfig{AllowedOrigins: []string{"https://app.example.com/"}}, 500},
		{"origin pattern star", "localhost", "", ServerConfig{AllowedOrigins: []string{"*"}}, 500},
		{"origin pattern star dot", "localhost", "", ServerConfig{AllowedOrigins: []string{"*."}}, 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validRequest()
			r.Host = tc.host
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			_, err := Server(r, &tc.cfg)
			checkStatus(t, err, tc.want)
		})
	}
}

// TestRefusalDetail: a refusal's error names what was refused and what it
// was compared with; the Reason, which goes into the HTTP body, stays a
// fixed text.
func TestRefusalDetail(t *testing.T) {
	tests := []struct {
		name   string
		host   string
		tls    bool
		origin []string
		cfg    ServerConfig
		reason string
		want   []string // substrings of Error()
	}{
		{"cross origin", "example.com", false, []string{"https://evil.example"}, ServerConfig{},
			"origin not allowed", []string{`Origin "https://evil.example"`, `Host "example.com"`, "over http (plain HTTP)"}},
		{"scheme mismatch over TLS", "example.com", true, []string{"http://example.com"}, ServerConfig{},
			"origin not allowed", []string{`Origin "http://example.com"`, `Host "example.com"`, "over https (TLS)"}},
		{"PublicScheme", "example.com", false, []string{"http://example.com"}, ServerConfig{PublicScheme: "https"},
			"origin not allowed", []string{`Origin "http://example.com"`, "over https (PublicScheme)"}},
		{"patterns counted", "example.com", false, []string{"https://evil.example"}, ServerConfig{AllowedOrigins: []string{"https://a.example", "https://b.example"}},
			"origin not allowed", []string{`Origin "https://evil.example"`, "none of the 2 AllowedOrigins"}},
		{"malformed", "example.com", false, []string{"http://x/\r\nSet-Cookie: a=b"}, ServerConfig{},
			"origin not allowed", []string{`malformed Origin "http://x/\r\nSet-Cookie: a=b"`, `Host "example.com"`}},
		{"repeated", "example.com", false, []string{"http://a", "http://b"}, ServerConfig{},
			"origin not allowed", []string{`2 Origin headers, first "http://a"`}},
		{"CheckOrigin", "example.com", false, []string{"http://a"}, ServerConfig{CheckOrigin: func(*http.Request) bool { return false }},
			"origin not allowed", []string{`CheckOrigin refused Origin "http://a" for Host "example.com"`}},
		{"host", "evil.example:8080", false, nil, ServerConfig{AllowedHosts: []string{"localhost:8080"}},
			"host not served here", []string{`Host "evil.example:8080" is not in AllowedHosts`}},
		{"config", "example.com", false, nil, ServerConfig{AllowedOrigins: []string{"https://app.example.com/"}},
			"server misconfigured", []string{`AllowedOrigins[0] "https://app.example.com/"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validRequest()
			r.Host = tc.host
			if tc.origin != nil {
				r.Header["Origin"] = tc.origin
			}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			_, err := Server(r, &tc.cfg)
			var re *RejectError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a RejectError", err)
			}
			if re.Reason != tc.reason {
				t.Errorf("Reason = %q, want the fixed %q", re.Reason, tc.reason)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Error() = %q, want it to contain %q", err.Error(), w)
				}
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("Error() contains a raw line break: %q", err.Error())
			}
		})
	}
}

func TestParseOrigin(t *testing.T) {
	tests := []struct {
		in   string
		want origin
		ok   bool
	}{
		{"http://example.com", origin{"http", hostPort{host: "example.com"}}, true},
		{"HTTPS://Example.com:8443", origin{"HTTPS", hostPort{host: "Example.com", port: "8443"}}, true},
		{"http://[::1]:80", origin{"http", hostPort{host: "::1", port: "80", v6: true}}, true},
		{"chrome-extension://abc", origin{"chrome-extension", hostPort{host: "abc"}}, true},
		{"http://a:", origin{"http", hostPort{host: "a"}}, true},
		{"http://a:123456", origin{}, false},
		{"http://[::1", origin{}, false},
		{"http://[]", origin{}, false},
		{"http://[::1]x", origin{}, false},
		{"http://[fe80::1%25eth0]", origin{}, false},
		{"http://", origin{}, false},
		{"1http://a", origin{}, false},
		{"://a", origin{}, false},
		{"null", origin{}, false},
		{"http://a/b", origin{}, false},
		{"http://a b", origin{}, false},
		{"http://a:1:2", origin{}, false},
	}
	for _, tc := range tests {
		got, ok := parseOrigin(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseOrigin(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
