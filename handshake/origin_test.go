package handshake

import (
	"errors"
	"net/http"
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
		{"same origin https, default port", "example.com", []string{"https://example.com"}, ServerConfig{}, true},
		{"same origin case and explicit default port", "EXAMPLE.com", []string{"HTTPS://example.COM:443"}, ServerConfig{}, true},
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
		{"wildcard, apex", "api.example.com", []string{"https://example.com"}, ServerConfig{AllowedOrigins: []string{"https://*.example.com"}}, false},
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
		{"bare star is literal", "api.example.com", []string{"https://a.example.com"}, ServerConfig{AllowedOrigins: []string{"*"}}, false},
		{"star dot only", "api.example.com", []string{"https://a."}, ServerConfig{AllowedOrigins: []string{"*."}}, false},
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
