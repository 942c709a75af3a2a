package handshake

import (
	"net/http"
	"strconv"
	"strings"
)

// Param is one extension parameter: Name, or Name=Value when HasValue.
// Values parsed by ParseExtensions are always non-empty tokens (RFC 6455
// section 9.1 requires a quoted value to unescape to a token).
type Param struct {
	Name     string
	Value    string
	HasValue bool
}

// Extension is one element of a Sec-WebSocket-Extensions list: an extension
// token followed by its parameters, in order.
type Extension struct {
	Name   string
	Params []Param
}

// ParseExtensions parses every Sec-WebSocket-Extensions header value in h
// (several headers, several comma-separated extensions per header) by the
// grammar of RFC 6455 section 9.1 with RFC 7230 tokens and quoted-strings,
// and returns the extensions in order. Optional whitespace is allowed around
// ",", ";" and "=", and empty list elements are skipped; anything else that
// does not fit the grammar is an error wrapping ErrMalformedExtensions (a
// *HandshakeError), and no extension is returned.
//
// The returned slice and its Params are freshly allocated and owned by the
// caller; the strings share memory with the header values. It returns nil
// when there is no extension. It is safe for concurrent use as long as h is
// not being modified.
func ParseExtensions(h http.Header) ([]Extension, error) {
	var exts []Extension
	for _, v := range h.Values(hExtensions) {
		var err error
		exts, err = parseExtensionList(exts, v)
		if err != nil {
			return nil, err
		}
	}
	return exts, nil
}

func malformedExt(s string, i int, what string) error {
	return hsErr(ErrMalformedExtensions, what+" at offset "+strconv.Itoa(i)+" in "+quoteDetail(s))
}

func parseExtensionList(dst []Extension, s string) ([]Extension, error) {
	i := 0
	skip := func() {
		for i < len(s) && isOWS(s[i]) {
			i++
		}
	}
	token := func() string {
		start := i
		for i < len(s) && isTchar[s[i]] {
			i++
		}
		return s[start:i]
	}
	for {
		skip()
		if i == len(s) {
			return dst, nil
		}
		if s[i] == ',' { // empty list element
			i++
			continue
		}
		name := token()
		if name == "" {
			return nil, malformedExt(s, i, "expected extension token")
		}
		ext := Extension{Name: name}
		for {
			skip()
			if i == len(s) || s[i] == ',' {
				break
			}
			if s[i] != ';' {
				return nil, malformedExt(s, i, "expected ';' or ','")
			}
			i++
			skip()
			p := Param{Name: token()}
			if p.Name == "" {
				return nil, malformedExt(s, i, "expected parameter token")
			}
			skip()
			if i < len(s) && s[i] == '=' {
				i++
				skip()
				p.HasValue = true
				if i < len(s) && s[i] == '"' {
					v, n, ok := unquote(s[i:])
					if !ok {
						return nil, malformedExt(s, i, "bad quoted-string")
					}
					if !isToken(v) {
						return nil, malformedExt(s, i, "quoted value is not a token")
					}
					p.Value = v
					i += n
				} else {
					p.Value = token()
					if p.Value == "" {
						return nil, malformedExt(s, i, "expected parameter value")
					}
				}
			}
			ext.Params = append(ext.Params, p)
		}
		dst = append(dst, ext)
		if i < len(s) { // at ','
			i++
		}
	}
}

// unquote parses the quoted-string at the start of s (s[0] == '"') and
// returns its unescaped content and the number of bytes consumed.
func unquote(s string) (v string, n int, ok bool) {
	var b []byte // nil until an escape is seen
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			if b == nil {
				return s[1:i], i + 1, true
			}
			return string(b), i + 1, true
		case c == '\\':
			i++
			if i == len(s) || !isQuotedPairChar(s[i]) {
				return "", 0, false
			}
			if b == nil {
				b = append([]byte(nil), s[1:i-1]...)
			}
			b = append(b, s[i])
		case isQdtext(c):
			if b != nil {
				b = append(b, c)
			}
		default:
			return "", 0, false
		}
	}
	return "", 0, false
}

// qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
func isQdtext(c byte) bool {
	return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80
}

// quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
func isQuotedPairChar(c byte) bool {
	return c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e) || c >= 0x80
}

// String returns the canonical form of e, e.g.
// "permessage-deflate; client_max_window_bits=10": parameters separated by
// "; ", values written bare when they are tokens and as an escaped
// quoted-string otherwise. For extensions returned by ParseExtensions,
// parsing the result yields e again. A value that is not a token cannot be
// parsed back (RFC 6455 section 9.1 forbids it), and names that are not
// tokens are written as they are: build extensions from tokens.
func (e Extension) String() string {
	var b strings.Builder
	b.WriteString(e.Name)
	for _, p := range e.Params {
		b.WriteString("; ")
		b.WriteString(p.Name)
		if !p.HasValue {
			continue
		}
		b.WriteByte('=')
		if isToken(p.Value) {
			b.WriteString(p.Value)
			continue
		}
		b.WriteByte('"')
		for i := 0; i < len(p.Value); i++ {
			if c := p.Value[i]; c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(p.Value[i])
		}
		b.WriteByte('"')
	}
	return b.String()
}

// FormatExtensions returns the extensions as one Sec-WebSocket-Extensions
// header value: each Extension.String joined by ", ".
func FormatExtensions(exts []Extension) string {
	var b strings.Builder
	for i, e := range exts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.String())
	}
	return b.String()
}
