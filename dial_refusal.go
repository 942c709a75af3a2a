package websocket

import (
	"bytes"
	"net/http"
	"strings"
	"unicode/utf8"
)

// refusalError adds to a handshake error for a non-101 response what the
// server said about its refusal: the error and error_description of a
// Bearer WWW-Authenticate challenge (RFC 6750), else the first line of the
// body (at most 200 bytes, printable UTF-8). err stays matchable with
// errors.Is (handshake.ErrBadStatus).
func refusalError(err error, resp *http.Response, body []byte) error {
	why := challengeDetail(resp.Header.Get("WWW-Authenticate"))
	if why == "" {
		why = firstLine(body)
	}
	if why == "" {
		return err
	}
	return &refusal{err: err, why: why}
}

type refusal struct {
	err error
	why string
}

func (r *refusal) Error() string { return r.err.Error() + ": " + r.why }
func (r *refusal) Unwrap() error { return r.err }

// challengeDetail returns `invalid_token (token expired)` for a challenge
// such as `Bearer realm="x", error="invalid_token",
// error_description="token expired"`, "" when it names no error.
func challengeDetail(h string) string {
	param := func(name string) string {
		i := strings.Index(h, name+`="`)
		if i < 0 {
			return ""
		}
		v := h[i+len(name)+2:]
		if j := strings.IndexByte(v, '"'); j >= 0 {
			return printable(v[:j])
		}
		return ""
	}
	e, d := param("error"), param("error_description")
	switch {
	case e != "" && d != "":
		return "WWW-Authenticate: " + e + " (" + d + ")"
	case e != "":
		return "WWW-Authenticate: " + e
	}
	return ""
}

// firstLine returns the body's first non-empty line, trimmed and cut.
func firstLine(body []byte) string {
	body = bytes.TrimSpace(body)
	if i := bytes.IndexAny(body, "\r\n"); i >= 0 {
		body = body[:i]
	}
	return printable(string(bytes.TrimSpace(body)))
}

// printable cuts s to 200 bytes at a rune boundary and drops control
// characters and invalid UTF-8, so a server cannot forge log lines.
func printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 200 {
			break
		}
		if r == utf8.RuneError || r < 0x20 || r == 0x7f {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
