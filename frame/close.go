package frame

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"
)

// CloseCode is a close status code (RFC 6455 section 7.4).
type CloseCode uint16

// Registered close codes (RFC 6455 section 7.4.1 and the IANA WebSocket
// Close Code Number Registry). The three marked "never on the wire" are
// for reporting locally only: ValidCloseCode rejects them.
const (
	CloseNormalClosure           CloseCode = 1000
	CloseGoingAway               CloseCode = 1001
	CloseProtocolError           CloseCode = 1002
	CloseUnsupportedData         CloseCode = 1003
	CloseNoStatusReceived        CloseCode = 1005 // never on the wire
	CloseAbnormalClosure         CloseCode = 1006 // never on the wire
	CloseInvalidFramePayloadData CloseCode = 1007
	ClosePolicyViolation         CloseCode = 1008
	CloseMessageTooBig           CloseCode = 1009
	CloseMandatoryExtension      CloseCode = 1010
	CloseInternalServerErr       CloseCode = 1011
	CloseServiceRestart          CloseCode = 1012
	CloseTryAgainLater           CloseCode = 1013
	CloseBadGateway              CloseCode = 1014
	CloseTLSHandshake            CloseCode = 1015 // never on the wire
)

// MaxCloseReason is the longest close reason in bytes: a control payload
// of MaxControlPayload bytes less the 2-byte code.
const MaxCloseReason = MaxControlPayload - 2

var closeCodeNames = [...]string{
	CloseNormalClosure - 1000:           "CloseNormalClosure",
	CloseGoingAway - 1000:               "CloseGoingAway",
	CloseProtocolError - 1000:           "CloseProtocolError",
	CloseUnsupportedData - 1000:         "CloseUnsupportedData",
	CloseNoStatusReceived - 1000:        "CloseNoStatusReceived",
	CloseAbnormalClosure - 1000:         "CloseAbnormalClosure",
	CloseInvalidFramePayloadData - 1000: "CloseInvalidFramePayloadData",
	ClosePolicyViolation - 1000:         "ClosePolicyViolation",
	CloseMessageTooBig - 1000:           "CloseMessageTooBig",
	CloseMandatoryExtension - 1000:      "CloseMandatoryExtension",
	CloseInternalServerErr - 1000:       "CloseInternalServerErr",
	CloseServiceRestart - 1000:          "CloseServiceRestart",
	CloseTryAgainLater - 1000:           "CloseTryAgainLater",
	CloseBadGateway - 1000:              "CloseBadGateway",
	CloseTLSHandshake - 1000:            "CloseTLSHandshake",
}

// String returns the Go name of a registered code ("CloseNormalClosure")
// or "CloseCode(4000)" for any other value.
func (c CloseCode) String() string {
	if c >= 1000 && int(c-1000) < len(closeCodeNames) && closeCodeNames[c-1000] != "" {
		return closeCodeNames[c-1000]
	}
	return "CloseCode(" + strconv.Itoa(int(c)) + ")"
}

// ValidCloseCode reports whether c may appear in a close frame on the
// wire: 1000-1003, 1007-1014 and 3000-4999. 0-999, 1004, 1005, 1006, 1015,
// 1016-2999 and 5000 and above are invalid.
func ValidCloseCode(c CloseCode) bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014, c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// ParseClose parses a received close frame payload (already unmasked).
// An empty payload yields (CloseNoStatusReceived, nil, nil). The returned
// reason aliases payload; it is nil when empty.
//
// Errors: ErrClosePayloadLength (1 byte, or more than MaxControlPayload),
// ErrInvalidCloseCode (the code fails ValidCloseCode; code is returned
// anyway, for logging), ErrInvalidUTF8 (the reason is not valid UTF-8;
// code is returned). All of them call for closing with
// CloseProtocolError, except ErrInvalidUTF8 which calls for
// CloseInvalidFramePayloadData.
func ParseClose(payload []byte) (code CloseCode, reason []byte, err error) {
	switch {
	case len(payload) == 0:
		return CloseNoStatusReceived, nil, nil
	case len(payload) == 1 || len(payload) > MaxControlPayload:
		return 0, nil, ErrClosePayloadLength
	}
	code = CloseCode(binary.BigEndian.Uint16(payload))
	if !ValidCloseCode(code) {
		return code, nil, ErrInvalidCloseCode
	}
	if len(payload) == 2 {
		return code, nil, nil
	}
	reason = payload[2:]
	if !ValidUTF8(reason) {
		return code, nil, ErrInvalidUTF8
	}
	return code, reason, nil
}

// AppendClose appends a close frame payload (the 2-byte big-endian code
// followed by reason) to dst and returns the extended slice. Code
// CloseNoStatusReceived with an empty reason appends nothing: it is the
// empty close payload.
//
// Errors, with dst returned unchanged: ErrInvalidCloseCode (code fails
// ValidCloseCode, including CloseNoStatusReceived with a reason),
// ErrCloseReasonTooLong (reason longer than MaxCloseReason bytes),
// ErrInvalidUTF8.
func AppendClose(dst []byte, code CloseCode, reason string) ([]byte, error) {
	if code == CloseNoStatusReceived && reason == "" {
		return dst, nil
	}
	if !ValidCloseCode(code) {
		return dst, ErrInvalidCloseCode
	}
	if len(reason) > MaxCloseReason {
		return dst, ErrCloseReasonTooLong
	}
	if !utf8.ValidString(reason) {
		return dst, ErrInvalidUTF8
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...), nil
}
