// This file holds Plumego's message validation names (see plumego.go for
// what the Plumego-compat files are): ValidateTextMessage, its config,
// SanitizeForLogging, ValidationError and NewCloseError.

package websocket

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MessageValidationConfig is the policy of ValidateTextMessage.
type MessageValidationConfig struct {
	// MaxLength is the longest message accepted, in bytes; 0 means no
	// limit.
	MaxLength int
	// AllowEmpty accepts empty messages.
	AllowEmpty bool
	// RejectControlCharacters refuses ASCII control characters (0x00-0x1F
	// and 0x7F), except newlines and tabs when allowed below.
	RejectControlCharacters bool
	// RequireValidUTF8 refuses text that is not UTF-8. (A Conn already
	// fails a text message that is not UTF-8 with close code 1007.)
	RequireValidUTF8 bool
	// AllowedNewlines lets '\n' and '\r' through RejectControlCharacters.
	AllowedNewlines bool
	// AllowedTabs lets '\t' through RejectControlCharacters.
	AllowedTabs bool
}

// DefaultMessageValidationConfig returns Plumego's defaults: at most 1 MiB,
// not empty, UTF-8, no control characters other than newlines and tabs.
func DefaultMessageValidationConfig() MessageValidationConfig {
	return MessageValidationConfig{
		MaxLength:               1 << 20,
		RejectControlCharacters: true,
		RequireValidUTF8:        true,
		AllowedNewlines:         true,
		AllowedTabs:             true,
	}
}

// ValidateTextMessage checks a text message against cfg, in this order:
// length (ErrMessageTooLong), emptiness (ErrEmptyMessage), UTF-8
// (ErrInvalidUTF8), control characters (ErrControlCharacters). It returns
// the sentinel itself. It is a transport-level check, not a content
// policy or an escaping step.
func ValidateTextMessage(data []byte, cfg MessageValidationConfig) error {
	if cfg.MaxLength > 0 && len(data) > cfg.MaxLength {
		return ErrMessageTooLong
	}
	if len(data) == 0 && !cfg.AllowEmpty {
		return ErrEmptyMessage
	}
	if cfg.RequireValidUTF8 && !utf8.Valid(data) {
		return ErrInvalidUTF8
	}
	if cfg.RejectControlCharacters {
		for _, b := range data {
			if b >= 0x20 && b != 0x7F {
				continue
			}
			if (b == '\n' || b == '\r') && cfg.AllowedNewlines || b == '\t' && cfg.AllowedTabs {
				continue
			}
			return ErrControlCharacters
		}
	}
	return nil
}

// SanitizeForLogging returns data as a one-line string safe to log: cut to
// maxLen bytes (200 when maxLen <= 0) at a UTF-8 boundary with "..."
// appended when cut, invalid UTF-8 replaced by U+FFFD, and every control
// character (newlines and tabs included) replaced by a space. Beyond
// Plumego's version, which replaces only ASCII controls, C1 controls
// (U+0080-U+009F, e.g. the one-character terminal escape U+009B) and the
// bidirectional overrides (U+202A-U+202E, U+2066-U+2069) are replaced too.
func SanitizeForLogging(data []byte, maxLen int) string {
	if maxLen <= 0 {
		maxLen = 200
	}
	cut := len(data) > maxLen
	if cut {
		i := maxLen
		for i > 0 && i > maxLen-utf8.UTFMax && !utf8.RuneStart(data[i]) {
			i--
		}
		if !utf8.RuneStart(data[i]) {
			i = maxLen // not UTF-8 anyway
		}
		data = data[:i]
	}
	var b strings.Builder
	b.Grow(len(data) + 3)
	for len(data) > 0 {
		r, n := utf8.DecodeRune(data)
		data = data[n:]
		switch {
		case unicode.IsControl(r), r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
			b.WriteByte(' ')
		default:
			b.WriteRune(r) // RuneError for invalid input: U+FFFD
		}
	}
	if cut {
		b.WriteString("...")
	}
	return b.String()
}

// ValidationError reports invalid input: which field and why.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string {
	return "websocket: validation error on " + e.Field + ": " + e.Message
}

// NewValidationError returns a *ValidationError.
func NewValidationError(field, message string) *ValidationError {
	return &ValidationError{Field: field, Message: message}
}

// NewCloseError returns a *CloseError with code and reason, for a message
// handler to describe the close it wants (for example
// c.Close(ce.Code, ce.Reason)). The optional err, Plumego's third
// argument, is the cause: the CloseError wraps it.
func NewCloseError(code StatusCode, reason string, err ...error) *CloseError {
	ce := &CloseError{Code: code, Reason: reason}
	switch len(err) {
	case 0:
	case 1:
		ce.Err = err[0]
	default:
		ce.Err = errors.Join(err...)
	}
	return ce
}
