package handshake

import (
	"net/http"
	"strconv"
	"strings"
)

// hostPort is a parsed host [":" port], from an Origin, a Host header or a
// pattern. Strings alias the input and keep its case (compare with
// strings.EqualFold); an IPv6 literal is kept without its brackets.
type hostPort struct {
	host string
	port string // digits, "" when absent
	v6   bool   // host was a bracketed IPv6 literal
}

// origin is a parsed RFC 6454 serialized origin: scheme "://" host [":" port].
type origin struct {
	scheme string
	hostPort
}

func defaultPort(scheme string) string {
	switch {
	case strings.EqualFold(scheme, "http"), strings.EqualFold(scheme, "ws"):
		return "80"
	case strings.EqualFold(scheme, "https"), strings.EqualFold(scheme, "wss"):
		return "443"
	}
	return ""
}

// portOr returns the explicit port, else def.
func (h hostPort) portOr(def string) string {
	if h.port != "" {
		return h.port
	}
	return def
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// validScheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 3.1).
func validScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// splitHostPort parses host [":" port], where host is a registered name
// (letters, digits, "-", ".", "_", "~") or a bracketed IPv6 literal, and
// port is at most five digits ("host:" is read as no port). It never
// allocates.
func splitHostPort(s string) (hostPort, bool) {
	var h hostPort
	rest := s
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 3 { // at least "[::]"
			return h, false
		}
		h.host, h.v6, rest = s[1:end], true, s[end+1:]
		for i := 0; i < len(h.host); i++ {
			if c := h.host[i]; !isDigit(c) && !(c|0x20 >= 'a' && c|0x20 <= 'f') && c != ':' && c != '.' {
				return h, false
			}
		}
	} else {
		i := 0
		for i < len(s) {
			c := s[i]
			if !isAlpha(c) && !isDigit(c) && c != '-' && c != '.' && c != '_' && c != '~' {
				break
			}
			i++
		}
		if i == 0 {
			return h, false
		}
		h.host, rest = s[:i], s[i:]
	}
	if rest == "" {
		return h, true
	}
	if rest[0] != ':' || len(rest) > 6 {
		return h, false
	}
	for i := 1; i < len(rest); i++ {
		if !isDigit(rest[i]) {
			return h, false
		}
	}
	h.port = rest[1:]
	return h, true
}

// parseOrigin parses an RFC 6454 serialized origin: scheme "://" host
// [":" port], nothing else (no user info, path, query or fragment). It
// never allocates.
func parseOrigin(s string) (origin, bool) {
	scheme, hp, ok := strings.Cut(s, "://")
	if !ok || !validScheme(scheme) {
		return origin{}, false
	}
	h, ok := splitHostPort(hp)
	return origin{scheme: scheme, hostPort: h}, ok
}

// samePort compares two port numbers written as digits, ignoring leading
// zeros.
func samePort(a, b string) bool {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	return a == b
}

// hostPattern is a parsed AllowedOrigins or AllowedHosts pattern:
// [scheme "://"] ["*."] host [":" port].
type hostPattern struct {
	scheme   string // "" matches any scheme
	wildcard bool   // host was "*." + host: any strict subdomain
	hostPort
}

// parsePattern parses an AllowedOrigins pattern (withScheme) or an
// AllowedHosts pattern (no scheme allowed). It never allocates.
func parsePattern(s string, withScheme bool) (hostPattern, bool) {
	var p hostPattern
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		if !withScheme || !validScheme(scheme) {
			return p, false
		}
		p.scheme, s = scheme, rest
	}
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		p.wildcard, s = true, rest
	}
	h, ok := splitHostPort(s)
	if !ok || (p.wildcard && h.v6) {
		return p, false
	}
	p.hostPort = h
	return p, true
}

// matchHost compares host names ASCII case-insensitively; a wildcard
// pattern matches strict subdomains only.
func (p *hostPattern) matchHost(host string) bool {
	if !p.wildcard {
		return strings.EqualFold(host, p.host)
	}
	n := len(host) - len(p.host)
	return n >= 2 && host[n-1] == '.' && strings.EqualFold(host[n:], p.host)
}

// matchOrigin matches o against an AllowedOrigins pattern. Without a
// scheme any scheme matches; without a port only the default port of the
// scheme (the Origin's scheme when the pattern has none) matches.
func (p *hostPattern) matchOrigin(o *origin) bool {
	if p.scheme != "" && !strings.EqualFold(p.scheme, o.scheme) {
		return false
	}
	def := defaultPort(o.scheme)
	return samePort(p.portOr(def), o.portOr(def)) && p.matchHost(o.host)
}

// matchHostHeader matches a Host header against an AllowedHosts pattern: a
// pattern without a port matches any port.
func (p *hostPattern) matchHostHeader(h *hostPort) bool {
	return (p.port == "" || samePort(p.port, h.port)) && p.matchHost(h.host)
}

// requestScheme is the scheme browsers use to reach the server, for the
// same-origin check, and where it came from (for error details).
func requestScheme(r *http.Request, cfg *ServerConfig) (scheme, from string) {
	if cfg.PublicScheme != "" {
		return strings.ToLower(cfg.PublicScheme), "PublicScheme"
	}
	if cfg.TrustForwardedProto {
		if v := r.Header[hForwardedProto]; len(v) > 0 {
			first, _, _ := strings.Cut(v[0], ",")
			first = strings.Trim(first, " \t")
			switch {
			case strings.EqualFold(first, "https"):
				return "https", "X-Forwarded-Proto"
			case strings.EqualFold(first, "http"):
				return "http", "X-Forwarded-Proto"
			}
		}
	}
	if r.TLS != nil {
		return "https", "TLS"
	}
	return "http", "plain HTTP"
}

// sameScheme reports whether an Origin's scheme is the request's: http (or
// ws) for plain HTTP, https (or wss) for TLS.
func sameScheme(originScheme, reqScheme string) bool {
	if strings.EqualFold(originScheme, reqScheme) {
		return true
	}
	if reqScheme == "https" {
		return strings.EqualFold(originScheme, "wss")
	}
	return strings.EqualFold(originScheme, "ws")
}

// checkConfig validates the parts of cfg that Server would otherwise only
// discover per request. It returns a description of the first problem.
func checkConfig(cfg *ServerConfig) string {
	for i, s := range cfg.AllowedOrigins {
		if _, ok := parsePattern(s, true); !ok {
			return "AllowedOrigins[" + strconv.Itoa(i) + "] " + quoteDetail(s) + " is not [scheme://][*.]host[:port]"
		}
	}
	for i, s := range cfg.AllowedHosts {
		if _, ok := parsePattern(s, false); !ok {
			return "AllowedHosts[" + strconv.Itoa(i) + "] " + quoteDetail(s) + " is not [*.]host[:port]"
		}
	}
	switch {
	case cfg.PublicScheme == "", strings.EqualFold(cfg.PublicScheme, "http"), strings.EqualFold(cfg.PublicScheme, "https"):
	default:
		return "PublicScheme " + quoteDetail(cfg.PublicScheme) + " is not \"http\" or \"https\""
	}
	if cfg.Deflate != nil {
		if _, ok := cfg.Deflate.minBits(); !ok {
			return "Deflate.MinWindowBits " + strconv.Itoa(cfg.Deflate.MinWindowBits) + " is not 8..15"
		}
	}
	return ""
}

// hostAllowed applies cfg.AllowedHosts to r.Host; "" when allowed, else
// the detail for the refusal.
func hostAllowed(r *http.Request, cfg *ServerConfig, pol *Policy) string {
	if len(cfg.AllowedHosts) == 0 {
		return ""
	}
	if h, ok := splitHostPort(r.Host); ok {
		for i, s := range cfg.AllowedHosts {
			var p hostPattern
			if pol != nil {
				p = pol.hosts[i]
			} else {
				p, _ = parsePattern(s, false)
			}
			if p.matchHostHeader(&h) {
				return ""
			}
		}
	}
	return hostRefusal(r)
}

// hostRefusal and originRefusal build the details of refusals out of line,
// to keep the frames of the accepting path small (a handshake runs on
// net/http's goroutine, whose stack should not have to grow for it).
//
//go:noinline
func hostRefusal(r *http.Request) string {
	return "Host " + quoteDetail(r.Host) + " is not in AllowedHosts"
}

// originAllowed applies the origin policy of cfg to r (see ServerConfig);
// "" when allowed, else the detail for the refusal, naming the Origin and
// what it was compared with.
func originAllowed(r *http.Request, cfg *ServerConfig, pol *Policy) string {
	if cfg.CheckOrigin != nil {
		if cfg.CheckOrigin(r) {
			return ""
		}
		return originRefusal(r, cfg)
	}
	vals := r.Header[hOrigin]
	switch {
	case len(vals) == 0:
		return ""
	case len(vals) > 1:
		return originRefusal(r, cfg)
	case cfg.AllowAllOrigins:
		return ""
	}
	o, ok := parseOrigin(vals[0])
	if !ok {
		return originRefusal(r, cfg)
	}
	// Same origin: the scheme browsers reach us by, and host and port
	// equal to Host's (a Host without port means that scheme's default).
	scheme, _ := requestScheme(r, cfg)
	if sameScheme(o.scheme, scheme) {
		if h, ok := splitHostPort(r.Host); ok {
			def := defaultPort(scheme)
			if strings.EqualFold(h.host, o.host) && samePort(h.portOr(def), o.portOr(def)) {
				return ""
			}
		}
	}
	for i, s := range cfg.AllowedOrigins {
		var p hostPattern
		if pol != nil {
			p = pol.origins[i]
		} else {
			p, _ = parsePattern(s, true)
		}
		if p.matchOrigin(&o) {
			return ""
		}
	}
	return originRefusal(r, cfg)
}

// originRefusal says why originAllowed refused r. It does not call
// cfg.CheckOrigin.
//
//go:noinline
func originRefusal(r *http.Request, cfg *ServerConfig) string {
	vals := r.Header[hOrigin]
	host := quoteDetail(r.Host)
	switch {
	case cfg.CheckOrigin != nil && len(vals) == 0:
		return "CheckOrigin refused a request without Origin for Host " + host
	case cfg.CheckOrigin != nil:
		return "CheckOrigin refused Origin " + quoteDetail(vals[0]) + " for Host " + host
	case len(vals) > 1:
		return strconv.Itoa(len(vals)) + " Origin headers, first " + quoteDetail(vals[0]) + ", for Host " + host
	}
	if _, ok := parseOrigin(vals[0]); !ok {
		return "malformed Origin " + quoteDetail(vals[0]) + " for Host " + host
	}
	scheme, from := requestScheme(r, cfg)
	d := "Origin " + quoteDetail(vals[0]) + " is not the same origin as Host " + host +
		" reached over " + scheme + " (" + from + ")"
	if len(cfg.AllowedOrigins) > 0 {
		d += " and matches none of the " + strconv.Itoa(len(cfg.AllowedOrigins)) + " AllowedOrigins"
	}
	return d
}
