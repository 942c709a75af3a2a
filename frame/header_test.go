package frame

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

var rfcKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// headerCases are valid encodings: ParseHeader must decode wire into h,
// and AppendHeader must encode h into wire, byte for byte.
var headerCases = []struct {
	name string
	wire []byte
	h    Header
}{
	// RFC 6455 section 5.7 examples (headers only).
	{"rfc unmasked Hello", []byte{0x81, 0x05}, Header{Fin: true, Opcode: OpText, Length: 5}},
	{"rfc masked Hello", []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d}, Header{Fin: true, Opcode: OpText, Masked: true, Key: rfcKey, Length: 5}},
	{"rfc fragment 1", []byte{0x01, 0x03}, Header{Opcode: OpText, Length: 3}},
	{"rfc fragment 2", []byte{0x80, 0x02}, Header{Fin: true, Opcode: OpContinuation, Length: 2}},
	{"rfc ping", []byte{0x89, 0x05}, Header{Fin: true, Opcode: OpPing, Length: 5}},
	{"rfc masked pong", []byte{0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d}, Header{Fin: true, Opcode: OpPong, Masked: true, Key: rfcKey, Length: 5}},
	{"rfc 256 binary", []byte{0x82, 0x7E, 0x01, 0x00}, Header{Fin: true, Opcode: OpBinary, Length: 256}},
	{"rfc 64KiB binary", []byte{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}, Header{Fin: true, Opcode: OpBinary, Length: 65536}},

	// Length boundaries, unmasked and masked.
	{"len 0", []byte{0x82, 0x00}, Header{Fin: true, Opcode: OpBinary}},
	{"len 0 masked", []byte{0x82, 0x80, 1, 2, 3, 4}, Header{Fin: true, Opcode: OpBinary, Masked: true, Key: [4]byte{1, 2, 3, 4}}},
	{"len 125", []byte{0x82, 0x7D}, Header{Fin: true, Opcode: OpBinary, Length: 125}},
	{"len 125 masked", []byte{0x82, 0xFD, 9, 8, 7, 6}, Header{Fin: true, Opcode: OpBinary, Masked: true, Key: [4]byte{9, 8, 7, 6}, Length: 125}},
	{"len 126", []byte{0x82, 0x7E, 0x00, 0x7E}, Header{Fin: true, Opcode: OpBinary, Length: 126}},
	{"len 126 masked", []byte{0x82, 0xFE, 0x00, 0x7E, 1, 2, 3, 4}, Header{Fin: true, Opcode: OpBinary, Masked: true, Key: [4]byte{1, 2, 3, 4}, Length: 126}},
	{"len 65535", []byte{0x82, 0x7E, 0xFF, 0xFF}, Header{Fin: true, Opcode: OpBinary, Length: 65535}},
	{"len 65535 masked", []byte{0x82, 0xFE, 0xFF, 0xFF, 0xA, 0xB, 0xC, 0xD}, Header{Fin: true, Opcode: OpBinary, Masked: true, Key: [4]byte{0xA, 0xB, 0xC, 0xD}, Length: 65535}},
	{"len 65536", []byte{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}, Header{Fin: true, Opcode: OpBinary, Length: 65536}},
	{"len 65536 masked", []byte{0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 0xFF, 0, 0xFF, 0}, Header{Fin: true, Opcode: OpBinary, Masked: true, Key: [4]byte{0xFF, 0, 0xFF, 0}, Length: 65536}},
	{"len 2^32", []byte{0x82, 0x7F, 0, 0, 0, 1, 0, 0, 0, 0}, Header{Fin: true, Opcode: OpBinary, Length: 1 << 32}},
	{"len max int64", []byte{0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, Header{Fin: true, Opcode: OpBinary, Length: math.MaxInt64}},
	{"len max int64 masked", []byte{0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 1, 1, 1}, Header{Fin: true, Opcode: OpBinary, Masked: true, Key: [4]byte{1, 1, 1, 1}, Length: math.MaxInt64}},

	// Flags and opcodes: the codec carries them all, Validate judges them.
	{"no flags", []byte{0x00, 0x00}, Header{}},
	{"rsv1", []byte{0xC1, 0x01}, Header{Fin: true, Rsv: Rsv1, Opcode: OpText, Length: 1}},
	{"rsv2", []byte{0xA2, 0x01}, Header{Fin: true, Rsv: Rsv2, Opcode: OpBinary, Length: 1}},
	{"rsv3", []byte{0x90, 0x01}, Header{Fin: true, Rsv: Rsv3, Opcode: OpContinuation, Length: 1}},
	{"all rsv no fin", []byte{0x71, 0x00}, Header{Rsv: Rsv1 | Rsv2 | Rsv3, Opcode: OpText}},
	{"every bit", []byte{0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, Header{Fin: true, Rsv: Rsv1 | Rsv2 | Rsv3, Opcode: 0xF, Masked: true, Key: [4]byte{0xFF, 0xFF, 0xFF, 0xFF}, Length: math.MaxInt64}},
	{"close", []byte{0x88, 0x02}, Header{Fin: true, Opcode: OpClose, Length: 2}},
	{"reserved data opcode", []byte{0x83, 0x00}, Header{Fin: true, Opcode: 0x3}},
	{"reserved control opcode", []byte{0x8B, 0x00}, Header{Fin: true, Opcode: 0xB}},
	{"control too long (codec accepts)", []byte{0x89, 0x7E, 0x00, 0x7E}, Header{Fin: true, Opcode: OpPing, Length: 126}},
}

func TestParseHeader(t *testing.T) {
	for _, tc := range headerCases {
		t.Run(tc.name, func(t *testing.T) {
			// Trailing payload bytes must be left alone.
			in := append(append([]byte{}, tc.wire...), 0xEE, 0xEE)
			h, n, err := ParseHeader(in)
			if err != nil {
				t.Fatalf("ParseHeader(% x) error: %v", tc.wire, err)
			}
			if n != len(tc.wire) {
				t.Errorf("n = %d, want %d", n, len(tc.wire))
			}
			if diff := cmp.Diff(tc.h, h); diff != "" {
				t.Errorf("header mismatch (-want +got):\n%s", diff)
			}
			if got := h.Size(); got != len(tc.wire) {
				t.Errorf("Size() = %d, want %d", got, len(tc.wire))
			}
		})
	}
}

func TestAppendHeader(t *testing.T) {
	for _, tc := range headerCases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("xy")
			got := AppendHeader(prefix, tc.h)
			if want := append([]byte("xy"), tc.wire...); !bytes.Equal(got, want) {
				t.Errorf("AppendHeader = % x, want % x", got, want)
			}
		})
	}
}

func TestAppendHeaderIgnoresForeignBits(t *testing.T) {
	// Opcode bits above 0xF and Rsv bits outside 0x70 are dropped; the key is
	// not written for an unmasked header.
	got := AppendHeader(nil, Header{Fin: true, Rsv: 0xFF, Opcode: 0xF1, Key: [4]byte{1, 2, 3, 4}, Length: 3})
	if want := []byte{0xF1, 0x03}; !bytes.Equal(got, want) {
		t.Errorf("AppendHeader = % x, want % x", got, want)
	}
}

func TestAppendHeaderNegativeLengthPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("AppendHeader with Length -1 did not panic")
		}
	}()
	AppendHeader(nil, Header{Length: -1})
}

func TestAppendHeaderNoAlloc(t *testing.T) {
	buf := make([]byte, 0, MaxHeaderSize)
	h := Header{Fin: true, Opcode: OpBinary, Masked: true, Key: rfcKey, Length: 1 << 20}
	allocs := testing.AllocsPerRun(100, func() { buf = AppendHeader(buf[:0], h) })
	if allocs != 0 {
		t.Errorf("AppendHeader allocates %v times per call", allocs)
	}
}

func TestParseHeaderShort(t *testing.T) {
	for _, tc := range headerCases {
		for k := 0; k < len(tc.wire); k++ {
			want := len(tc.wire)
			if k < 2 {
				want = 2
			}
			h, n, err := ParseHeader(tc.wire[:k])
			if !errors.Is(err, ErrShortHeader) || n != want || h != (Header{}) {
				t.Errorf("%s: ParseHeader(% x) = (%+v, %d, %v), want (zero, %d, ErrShortHeader)", tc.name, tc.wire[:k], h, n, err, want)
			}
		}
	}
}

func TestParseHeaderEncodingErrors(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		err  error
	}{
		{"16-bit form for 0", []byte{0x82, 0x7E, 0x00, 0x00}, ErrNonMinimalLength},
		{"16-bit form for 125", []byte{0x82, 0x7E, 0x00, 0x7D}, ErrNonMinimalLength},
		{"16-bit form for 125 masked", []byte{0x82, 0xFE, 0x00, 0x7D, 1, 2, 3, 4}, ErrNonMinimalLength},
		{"64-bit form for 0", []byte{0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0}, ErrNonMinimalLength},
		{"64-bit form for 125", []byte{0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x7D}, ErrNonMinimalLength},
		{"64-bit form for 126", []byte{0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x7E}, ErrNonMinimalLength},
		{"64-bit form for 65535", []byte{0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}, ErrNonMinimalLength},
		{"64-bit MSB set", []byte{0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}, ErrLengthOverflow},
		{"64-bit all ones", []byte{0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, ErrLengthOverflow},
		{"64-bit MSB set masked", []byte{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, ErrLengthOverflow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, n, err := ParseHeader(tc.wire)
			if !errors.Is(err, tc.err) || n != 0 || h != (Header{}) {
				t.Errorf("ParseHeader(% x) = (%+v, %d, %v), want (zero, 0, %v)", tc.wire, h, n, err, tc.err)
			}
			var scratch [MaxHeaderSize]byte
			if _, err := ReadHeader(bytes.NewReader(tc.wire), &scratch); !errors.Is(err, tc.err) {
				t.Errorf("ReadHeader error = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestParseHeaderNoAlloc(t *testing.T) {
	in := []byte{0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4}
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := ParseHeader(in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseHeader allocates %v times per call", allocs)
	}
}

func TestReadHeader(t *testing.T) {
	for _, tc := range headerCases {
		t.Run(tc.name, func(t *testing.T) {
			payload := []byte("payload")
			in := append(append([]byte{}, tc.wire...), payload...)
			for _, r := range []struct {
				name string
				r    io.Reader
			}{
				{"whole", bytes.NewReader(in)},
				{"one byte", iotest.OneByteReader(bytes.NewReader(in))},
				{"data+EOF", iotest.DataErrReader(bytes.NewReader(in))},
			} {
				var scratch [MaxHeaderSize]byte
				h, err := ReadHeader(r.r, &scratch)
				if err != nil {
					t.Fatalf("%s: ReadHeader error: %v", r.name, err)
				}
				if diff := cmp.Diff(tc.h, h); diff != "" {
					t.Errorf("%s: header mismatch (-want +got):\n%s", r.name, diff)
				}
				rest, _ := io.ReadAll(r.r)
				if !bytes.Equal(rest, payload) {
					t.Errorf("%s: ReadHeader consumed payload bytes: left %q", r.name, rest)
				}
			}
		})
	}
}

func TestReadHeaderErrors(t *testing.T) {
	full := []byte{0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}
	for k := 0; k < len(full); k++ {
		want := io.ErrUnexpectedEOF
		if k == 0 {
			want = io.EOF
		}
		for _, r := range []io.Reader{bytes.NewReader(full[:k]), iotest.OneByteReader(bytes.NewReader(full[:k])), iotest.DataErrReader(bytes.NewReader(full[:k]))} {
			var scratch [MaxHeaderSize]byte
			if _, err := ReadHeader(r, &scratch); err != want {
				t.Errorf("ReadHeader(% x) error = %v, want %v", full[:k], err, want)
			}
		}
	}
	boom := errors.New("boom")
	for k := 0; k < len(full); k++ {
		var scratch [MaxHeaderSize]byte
		r := io.MultiReader(bytes.NewReader(full[:k]), iotest.ErrReader(boom))
		if _, err := ReadHeader(r, &scratch); err != boom {
			t.Errorf("ReadHeader after %d bytes then error = %v, want %v", k, err, boom)
		}
	}
}

func TestReadHeaderNoAlloc(t *testing.T) {
	in := []byte{0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4}
	r := bytes.NewReader(in)
	var scratch [MaxHeaderSize]byte
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(in)
		if _, err := ReadHeader(r, &scratch); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ReadHeader allocates %v times per call", allocs)
	}
}

func TestValidate(t *testing.T) {
	masked := func(h Header) Header { h.Masked = true; h.Key = rfcKey; return h }
	text := Header{Fin: true, Opcode: OpText, Length: 5}
	tests := []struct {
		name    string
		h       Header
		role    Role
		allowed uint8
		err     error
	}{
		{"server text", masked(text), RoleServer, 0, nil},
		{"client text", text, RoleClient, 0, nil},
		{"server unmasked", text, RoleServer, 0, ErrUnmaskedFrame},
		{"client masked", masked(text), RoleClient, 0, ErrMaskedFrame},
		{"continuation no fin", Header{Opcode: OpContinuation, Length: 1 << 40}, RoleClient, 0, nil},
		{"binary no fin", Header{Opcode: OpBinary}, RoleClient, 0, nil},
		{"close 125", Header{Fin: true, Opcode: OpClose, Length: 125}, RoleClient, 0, nil},
		{"ping 0", Header{Fin: true, Opcode: OpPing}, RoleClient, 0, nil},
		{"pong 125 masked", masked(Header{Fin: true, Opcode: OpPong, Length: 125}), RoleServer, 0, nil},
		{"rsv1 allowed", Header{Fin: true, Rsv: Rsv1, Opcode: OpText}, RoleClient, Rsv1, nil},
		{"all rsv allowed", Header{Fin: true, Rsv: Rsv1 | Rsv2 | Rsv3, Opcode: OpText}, RoleClient, Rsv1 | Rsv2 | Rsv3, nil},

		{"reserved 0x3", Header{Fin: true, Opcode: 0x3}, RoleClient, 0, ErrReservedOpcode},
		{"reserved 0x7", Header{Fin: true, Opcode: 0x7}, RoleClient, 0, ErrReservedOpcode},
		{"reserved 0xB", Header{Fin: true, Opcode: 0xB}, RoleClient, 0, ErrReservedOpcode},
		{"reserved 0xF", Header{Fin: true, Opcode: 0xF}, RoleClient, 0, ErrReservedOpcode},
		{"opcode 0x10", Header{Fin: true, Opcode: 0x10}, RoleClient, 0, ErrReservedOpcode},
		{"rsv1 not allowed", Header{Fin: true, Rsv: Rsv1, Opcode: OpText}, RoleClient, 0, ErrReservedBits},
		{"rsv2 not allowed", Header{Fin: true, Rsv: Rsv2, Opcode: OpText}, RoleClient, Rsv1, ErrReservedBits},
		{"rsv3 not allowed", Header{Fin: true, Rsv: Rsv3, Opcode: OpText}, RoleClient, Rsv1 | Rsv2, ErrReservedBits},
		{"rsv1+2 with only 1", Header{Fin: true, Rsv: Rsv1 | Rsv2, Opcode: OpText}, RoleClient, Rsv1, ErrReservedBits},
		{"ping 126", Header{Fin: true, Opcode: OpPing, Length: 126}, RoleClient, 0, ErrControlTooLong},
		{"close huge", Header{Fin: true, Opcode: OpClose, Length: math.MaxInt64}, RoleClient, 0, ErrControlTooLong},
		{"pong 126", Header{Fin: true, Opcode: OpPong, Length: 126}, RoleClient, 0, ErrControlTooLong},
		{"ping no fin", Header{Opcode: OpPing}, RoleClient, 0, ErrControlFragmented},
		{"close no fin", Header{Opcode: OpClose, Length: 2}, RoleClient, 0, ErrControlFragmented},
		{"pong no fin masked", masked(Header{Opcode: OpPong}), RoleServer, 0, ErrControlFragmented},

		// Order of checks: opcode, then RSV, then control rules, then mask.
		{"reserved opcode before rsv", Header{Opcode: 0xC, Rsv: Rsv2}, RoleServer, 0, ErrReservedOpcode},
		{"rsv before control length", Header{Opcode: OpPing, Rsv: Rsv1, Length: 200}, RoleServer, 0, ErrReservedBits},
		{"length before fin", Header{Opcode: OpPing, Length: 200}, RoleServer, 0, ErrControlTooLong},
		{"fin before mask", Header{Opcode: OpPing}, RoleServer, 0, ErrControlFragmented},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.h
			if err := tc.h.Validate(tc.role, tc.allowed); err != tc.err {
				t.Errorf("Validate(%v, %#x) = %v, want %v", tc.role, tc.allowed, err, tc.err)
			}
			if tc.h != before {
				t.Errorf("Validate modified the header")
			}
		})
	}
}

func TestOpcode(t *testing.T) {
	for op := Opcode(0); op < 0x20; op++ {
		wantControl := op >= 8
		wantReserved := !(op <= 2 || (op >= 8 && op <= 0xA))
		if op.IsControl() != wantControl {
			t.Errorf("%#x.IsControl() = %v", uint8(op), op.IsControl())
		}
		if op.IsReserved() != wantReserved {
			t.Errorf("%#x.IsReserved() = %v", uint8(op), op.IsReserved())
		}
	}
	names := map[Opcode]string{
		OpContinuation: "OpContinuation", OpText: "OpText", OpBinary: "OpBinary",
		OpClose: "OpClose", OpPing: "OpPing", OpPong: "OpPong", 0x3: "Opcode(0x3)", 0xF: "Opcode(0xf)",
	}
	for op, want := range names {
		if got := op.String(); got != want {
			t.Errorf("Opcode(%#x).String() = %q, want %q", uint8(op), got, want)
		}
	}
	if RoleServer.String() != "server" || RoleClient.String() != "client" || Role(7).String() != "Role(7)" {
		t.Errorf("Role.String: %q %q %q", RoleServer, RoleClient, Role(7))
	}
}

func TestErrorMessages(t *testing.T) {
	errs := []error{ErrShortHeader, ErrLengthOverflow, ErrNonMinimalLength, ErrReservedOpcode, ErrReservedBits,
		ErrControlTooLong, ErrControlFragmented, ErrUnmaskedFrame, ErrMaskedFrame, ErrClosePayloadLength,
		ErrInvalidCloseCode, ErrCloseReasonTooLong, ErrInvalidUTF8}
	seen := map[string]bool{}
	for _, err := range errs {
		msg := err.Error()
		if !strings.HasPrefix(msg, "frame: ") || seen[msg] {
			t.Errorf("bad or duplicate error message %q", msg)
		}
		seen[msg] = true
	}
}

// FuzzParseHeader checks that ParseHeader never panics, never claims more
// bytes than it has, reports the size it later needs, and that every
// header it accepts re-encodes to the same bytes.
func FuzzParseHeader(f *testing.F) {
	for _, tc := range headerCases {
		f.Add(tc.wire)
	}
	f.Add([]byte{})
	f.Add([]byte{0x82})
	f.Add([]byte{0x82, 0x7E, 0x00, 0x7D})
	f.Add([]byte{0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		switch {
		case errors.Is(err, ErrShortHeader):
			if n <= len(b) || n < 2 || n > MaxHeaderSize {
				t.Fatalf("short header with n = %d for %d bytes", n, len(b))
			}
			if len(b) >= 2 {
				// With n bytes the verdict is no longer "short".
				ext := append(append([]byte{}, b...), make([]byte, n-len(b))...)
				if _, _, err := ParseHeader(ext); errors.Is(err, ErrShortHeader) {
					t.Fatalf("still short with the %d bytes asked for", n)
				}
			}
			return
		case err != nil:
			if !errors.Is(err, ErrNonMinimalLength) && !errors.Is(err, ErrLengthOverflow) {
				t.Fatalf("unexpected error %v", err)
			}
			if n != 0 || h != (Header{}) {
				t.Fatalf("error %v with n = %d, h = %+v", err, n, h)
			}
			return
		}
		if n > len(b) || n != h.Size() || h.Length < 0 {
			t.Fatalf("n = %d, Size = %d, len = %d, Length = %d", n, h.Size(), len(b), h.Length)
		}
		var buf [MaxHeaderSize]byte
		enc := AppendHeader(buf[:0], h)
		if !bytes.Equal(enc, b[:n]) {
			t.Fatalf("re-encoded % x, parsed from % x", enc, b[:n])
		}
		h2, n2, err := ParseHeader(enc)
		if err != nil || n2 != n || h2 != h {
			t.Fatalf("round trip: (%+v, %d, %v), want (%+v, %d, nil)", h2, n2, err, h, n)
		}
		var scratch [MaxHeaderSize]byte
		h3, err := ReadHeader(bytes.NewReader(b), &scratch)
		if err != nil || h3 != h {
			t.Fatalf("ReadHeader = (%+v, %v), want %+v", h3, err, h)
		}
		// Validation looks at the header only: whatever Length claims, it
		// costs nothing.
		if allocs := testing.AllocsPerRun(1, func() {
			_, _, _ = ParseHeader(b)
			_ = h.Validate(RoleServer, Rsv1)
		}); allocs != 0 {
			t.Fatalf("%v allocations for Length %d", allocs, h.Length)
		}
	})
}
