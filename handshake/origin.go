package handshake

import (
	"net/http"
	"net/url"
	"strings"
)

// origin is a parsed Origin header: lower-case scheme and host, and the
// port, explicit or the scheme's default ("" when the scheme has none).
type origin struct {
	scheme, host, port string
}

func defaultPort(scheme string) string {
	switch scheme {
	case "http", "ws":
		return "80"
	case "https", "wss":
		return "443"
	}
	return ""
}

// parseOrigin parses an RFC 6454 serialized origin: scheme "://" host
// [":" port], nothing else.
func parseOrigin(s string) (origin, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Opaque != "" || u.User != nil || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		return origin{}, false
	}
	o := origin{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Hostname()), port: u.Port()}
	if o.host == "" {
		return origin{}, false
	}
	if o.port == "" {
		o.port = defaultPort(o.scheme)
	}
	return o, true
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port".
func splitHostPort(hostport string) (host, port string) {
	u := url.URL{Host: hostport}
	return strings.ToLower(u.Hostname()), u.Port()
}

// originAllowed applies the origin policy of cfg to r (see ServerConfig).
func originAllowed(r *http.Request, cfg *ServerConfig) bool {
	if cfg.CheckOrigin != nil {
		return cfg.CheckOrigin(r)
	}
	vals := r.Header[hOrigin]
	if len(vals) == 0 {
		return true
	}
	if len(vals) > 1 {
		return false
	}
	if cfg.AllowAllOrigins {
		return true
	}
	o, ok := parseOrigin(vals[0])
	if !ok {
		return false
	}
	// Same origin: host and port equal to Host; a Host without port means
	// the default port of the Origin's scheme.
	host, port := splitHostPort(r.Host)
	if port == "" {
		port = defaultPort(o.scheme)
	}
	if host != "" && host == o.host && port == o.port {
		return true
	}
	for _, pat := range cfg.AllowedOrigins {
		if matchOrigin(pat, o) {
			return true
		}
	}
	return false
}

// matchOrigin matches o against an AllowedOrigins pattern:
// [scheme "://"] ["*."] host [":" port]. Without a scheme any scheme
// matches; without a port only the default port of the scheme (the
// Origin's scheme when the pattern has none) matches; "*.suffix" matches
// any host ending in ".suffix" (not "suffix" itself).
func matchOrigin(pat string, o origin) bool {
	scheme := ""
	rest := pat
	if i := strings.Index(pat, "://"); i >= 0 {
		scheme = strings.ToLower(pat[:i])
		rest = pat[i+3:]
		if scheme != o.scheme {
			return false
		}
	}
	host, port := splitHostPort(rest)
	if port == "" {
		port = defaultPort(o.scheme)
	}
	if port != o.port || host == "" {
		return false
	}
	if suffix, ok := strings.CutPrefix(host, "*"); ok {
		return strings.HasPrefix(suffix, ".") && len(suffix) > 1 &&
			len(o.host) > len(suffix) && strings.HasSuffix(o.host, suffix)
	}
	return host == o.host
}
