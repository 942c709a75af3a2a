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
	sc := extScanner{s: s}
	for {
		name, ok, err := sc.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return dst, nil
		}
		ext := Extension{Name: name}
		for {
			p, ok, err := sc.param()
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			ext.Params = append(ext.Params, p)
		}
		dst = append(dst, ext)
	}
}

// extScanner walks one Sec-WebSocket-Extensions value without allocating
// (except to unescape a quoted-string that has escapes): next returns each
// extension's name, then param each of its parameters until it reports
// the end of the extension.
type extScanner struct {
	s string
	i int
}

func (sc *extScanner) skipOWS() {
	for sc.i < len(sc.s) && isOWS(sc.s[sc.i]) {
		sc.i++
	}
}

func (sc *extScanner) token() string {
	start := sc.i
	for sc.i < len(sc.s) && isTchar[sc.s[sc.i]] {
		sc.i++
	}
	return sc.s[start:sc.i]
}

// next returns the name of the next extension; ok is false at the end of
// the value. The previous extension's parameters must have been read.
func (sc *extScanner) next() (name string, ok bool, err error) {
	for {
		sc.skipOWS()
		if sc.i == len(sc.s) {
			return "", false, nil
		}
		if sc.s[sc.i] != ',' {
			break
		}
		sc.i++ // empty list element
	}
	if name = sc.token(); name == "" {
		return "", false, malformedExt(sc.s, sc.i, "expected extension token")
	}
	return name, true, nil
}

// param returns the current extension's next parameter; ok is false when
// the extension ends (the ',' after it is consumed).
func (sc *extScanner) param() (p Param, ok bool, err error) {
	s := sc.s
	sc.skipOWS()
	if sc.i == len(s) {
		return p, false, nil
	}
	if s[sc.i] == ',' {
		sc.i++
		return p, false, nil
	}
	if s[sc.i] != ';' {
		return p, false, malformedExt(s, sc.i, "expected ';' or ','")
	}
	sc.i++
	sc.skipOWS()
	if p.Name = sc.token(); p.Name == "" {
		return p, false, malformedExt(s, sc.i, "expected parameter token")
	}
	sc.skipOWS()
	if sc.i < len(s) && s[sc.i] == '=' {
		sc.i++
		sc.skipOWS()
		p.HasValue = true
		if sc.i < len(s) && s[sc.i] == '"' {
			v, n, ok := unquote(s[sc.i:])
			if !ok {
				return p, false, malformedExt(s, sc.i, "bad quoted-string")
			}
			if !isToken(v) {
				return p, false, malformedExt(s, sc.i, "quoted value is not a token")
			}
			p.Value = v
			sc.i += n
		} else if p.Value = sc.token(); p.Value == "" {
			return p, false, malformedExt(s, sc.i, "expected parameter value")
		}
	}
	return p, true, nil
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
