package frame

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidCloseCode(t *testing.T) {
	for c := 0; c <= 5000; c++ {
		want := (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999)
		if got := ValidCloseCode(CloseCode(c)); got != want {
			t.Errorf("ValidCloseCode(%d) = %v, want %v", c, got, want)
		}
	}
	for _, c := range []int{5001, 9999, 65535} {
		if ValidCloseCode(CloseCode(c)) {
			t.Errorf("ValidCloseCode(%d) = true", c)
		}
	}
}

func TestCloseCodeString(t *testing.T) {
	tests := map[CloseCode]string{
		CloseNormalClosure:           "CloseNormalClosure",
		CloseGoingAway:               "CloseGoingAway",
		CloseProtocolError:           "CloseProtocolError",
		CloseUnsupportedData:         "CloseUnsupportedData",
		CloseNoStatusReceived:        "CloseNoStatusReceived",
		CloseAbnormalClosure:         "CloseAbnormalClosure",
		CloseInvalidFramePayloadData: "CloseInvalidFramePayloadData",
		ClosePolicyViolation:         "ClosePolicyViolation",
		CloseMessageTooBig:           "CloseMessageTooBig",
		CloseMandatoryExtension:      "CloseMandatoryExtension",
		CloseInternalServerErr:       "CloseInternalServerErr",
		CloseServiceRestart:          "CloseServiceRestart",
		CloseTryAgainLater:           "CloseTryAgainLater",
		CloseBadGateway:              "CloseBadGateway",
		CloseTLSHandshake:            "CloseTLSHandshake",
		0:                            "CloseCode(0)",
		999:                          "CloseCode(999)",
		1004:                         "CloseCode(1004)",
		1016:                         "CloseCode(1016)",
		4000:                         "CloseCode(4000)",
	}
	for c, want := range tests {
		if got := c.String(); got != want {
			t.Errorf("CloseCode(%d).String() = %q, want %q", uint16(c), got, want)
		}
	}
}

func TestParseClose(t *testing.T) {
	long := strings.Repeat("a", 123)
	tests := []struct {
		name    string
		payload []byte
		code    CloseCode
		reason  string
		err     error
	}{
		{"empty", nil, CloseNoStatusReceived, "", nil},
		{"code only", []byte{0x03, 0xE8}, CloseNormalClosure, "", nil},
		{"code and reason", []byte("\x03\xe9bye"), CloseGoingAway, "bye", nil},
		{"utf8 reason", []byte("\x0f\xa0h\xc3\xa9 \xf0\x9f\x98\x80"), 4000, "hé 😀", nil},
		{"max reason", append([]byte{0x03, 0xE8}, long...), CloseNormalClosure, long, nil},
		{"app code 3000", []byte{0x0B, 0xB8}, 3000, "", nil},
		{"app code 4999", []byte{0x13, 0x87}, 4999, "", nil},
		{"one byte", []byte{0x03}, 0, "", ErrClosePayloadLength},
		{"126 bytes", append([]byte{0x03, 0xE8}, long+"x"...), 0, "", ErrClosePayloadLength},
		{"code 0", []byte{0, 0}, 0, "", ErrInvalidCloseCode},
		{"code 999", []byte{0x03, 0xE7}, 999, "", ErrInvalidCloseCode},
		{"code 1004", []byte{0x03, 0xEC}, 1004, "", ErrInvalidCloseCode},
		{"code 1005", []byte{0x03, 0xED}, CloseNoStatusReceived, "", ErrInvalidCloseCode},
		{"code 1006", []byte{0x03, 0xEE, 'x'}, CloseAbnormalClosure, "", ErrInvalidCloseCode},
		{"code 1015", []byte{0x03, 0xF7}, CloseTLSHandshake, "", ErrInvalidCloseCode},
		{"code 1016", []byte{0x03, 0xF8}, 1016, "", ErrInvalidCloseCode},
		{"code 2999", []byte{0x0B, 0xB7}, 2999, "", ErrInvalidCloseCode},
		{"code 5000", []byte{0x13, 0x88}, 5000, "", ErrInvalidCloseCode},
		{"code 65535", []byte{0xFF, 0xFF}, 65535, "", ErrInvalidCloseCode},
		{"bad utf8", []byte("\x03\xe8\xff"), CloseNormalClosure, "", ErrInvalidUTF8},
		{"surrogate", []byte("\x03\xe8\xed\xa0\x80"), CloseNormalClosure, "", ErrInvalidUTF8},
		{"truncated utf8", []byte("\x03\xe8ok\xe2\x82"), CloseNormalClosure, "", ErrInvalidUTF8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, reason, err := ParseClose(tc.payload)
			if code != tc.code || string(reason) != tc.reason || err != tc.err {
				t.Errorf("ParseClose(% x) = (%v, %q, %v), want (%v, %q, %v)", tc.payload, code, reason, err, tc.code, tc.reason, tc.err)
			}
			if len(reason) > 0 && &reason[0] != &tc.payload[2] {
				t.Errorf("reason does not alias payload")
			}
		})
	}
}

func TestAppendClose(t *testing.T) {
	long := strings.Repeat("é", 61) + "a" // 123 bytes
	tests := []struct {
		name   string
		code   CloseCode
		reason string
		want   []byte
		err    error
	}{
		{"empty close", CloseNoStatusReceived, "", nil, nil},
		{"normal", CloseNormalClosure, "", []byte{0x03, 0xE8}, nil},
		{"reason", CloseGoingAway, "bye", []byte("\x03\xe9bye"), nil},
		{"max reason", 4000, long, append([]byte{0x0F, 0xA0}, long...), nil},
		{"1005 with reason", CloseNoStatusReceived, "x", nil, ErrInvalidCloseCode},
		{"1006", CloseAbnormalClosure, "", nil, ErrInvalidCloseCode},
		{"1015", CloseTLSHandshake, "", nil, ErrInvalidCloseCode},
		{"0", 0, "", nil, ErrInvalidCloseCode},
		{"5000", 5000, "", nil, ErrInvalidCloseCode},
		{"reason too long", CloseNormalClosure, long + "b", nil, ErrCloseReasonTooLong},
		{"bad utf8", CloseNormalClosure, "\xc0\xaf", nil, ErrInvalidUTF8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("hd")
			got, err := AppendClose(dst, tc.code, tc.reason)
			if err != tc.err {
				t.Fatalf("AppendClose error = %v, want %v", err, tc.err)
			}
			if want := append([]byte("hd"), tc.want...); !bytes.Equal(got, want) {
				t.Errorf("AppendClose = % x, want % x", got, want)
			}
		})
	}
}

// FuzzClose checks ParseClose against a reference reading of RFC 6455
// section 5.5.1 and that AppendClose inverts it.
func FuzzClose(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x03})
	f.Add([]byte{0x03, 0xE8})
	f.Add([]byte("\x03\xe9going away"))
	f.Add([]byte("\x0f\xa0h\xc3\xa9"))
	f.Add([]byte("\x03\xe8\xed\xa0\x80"))
	f.Add([]byte{0x03, 0xED})
	f.Fuzz(func(t *testing.T, p []byte) {
		code, reason, err := ParseClose(p)
		var wantErr error
		switch {
		case len(p) == 0:
		case len(p) == 1 || len(p) > 125:
			wantErr = ErrClosePayloadLength
		case !ValidCloseCode(CloseCode(uint16(p[0])<<8 | uint16(p[1]))):
			wantErr = ErrInvalidCloseCode
		case !utf8.Valid(p[2:]):
			wantErr = ErrInvalidUTF8
		}
		if !errors.Is(err, wantErr) {
			t.Fatalf("ParseClose(% x) error = %v, want %v", p, err, wantErr)
		}
		if err != nil {
			if reason != nil {
				t.Fatalf("reason %q with error %v", reason, err)
			}
			return
		}
		out, err := AppendClose(nil, code, string(reason))
		if err != nil {
			t.Fatalf("AppendClose(%v, %q): %v", code, reason, err)
		}
		if !bytes.Equal(out, p) {
			t.Fatalf("AppendClose = % x, want % x", out, p)
		}
	})
}
