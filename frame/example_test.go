package frame_test

import (
	"fmt"

	"github.com/rfc6455/websocket/frame"
)

// A client builds a masked text frame; the server parses, validates and
// unmasks it.
func Example() {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	payload := []byte("Hello")

	// Client side: header, then the masked payload.
	wire := frame.AppendHeader(nil, frame.Header{Fin: true, Opcode: frame.OpText, Masked: true, Key: key, Length: int64(len(payload))})
	start := len(wire)
	wire = append(wire, payload...)
	frame.Mask(key, 0, wire[start:])
	fmt.Printf("% x\n", wire)

	// Server side.
	h, n, err := frame.ParseHeader(wire)
	if err != nil {
		panic(err)
	}
	if err := h.Validate(frame.RoleServer, 0); err != nil {
		panic(err)
	}
	body := wire[n : n+int(h.Length)]
	frame.Mask(h.Key, 0, body)
	var v frame.UTF8
	fmt.Println(h.Opcode, h.Fin, v.Write(body) && v.Done(), string(body))
	// Output:
	// 81 85 37 fa 21 3d 7f 9f 4d 51 58
	// OpText true true Hello
}

// Close payloads: what a server sends when it goes away, and what it reads
// back.
func ExampleAppendClose() {
	payload, err := frame.AppendClose(nil, frame.CloseGoingAway, "restart")
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", payload)

	code, reason, err := frame.ParseClose(payload)
	fmt.Println(code, string(reason), err)

	_, _, err = frame.ParseClose([]byte{0x03, 0xED}) // 1005 may not be sent
	fmt.Println(err)
	// Output:
	// 03 e9 72 65 73 74 61 72 74
	// CloseGoingAway restart <nil>
	// frame: invalid close code
}

// A code point split across two frames is only incomplete; a surrogate is
// rejected at its second byte.
func ExampleUTF8() {
	var v frame.UTF8
	fmt.Println(v.Write([]byte("caf\xc3")), v.Done())
	fmt.Println(v.Write([]byte("\xa9")), v.Done())

	v.Reset()
	fmt.Println(v.Write([]byte("\xed\xa0")))
	// Output:
	// true false
	// true true
	// false
}

// ParseHeader reports how many bytes it needs when its input is short.
func ExampleParseHeader() {
	buf := []byte{0x82, 0x7e, 0x01} // 16-bit length, one byte missing
	_, n, err := frame.ParseHeader(buf)
	fmt.Println(n, err)

	buf = append(buf, 0x00)
	h, n, err := frame.ParseHeader(buf)
	fmt.Println(h.Opcode, h.Length, n, err)
	// Output:
	// 4 frame: short header
	// OpBinary 256 4 <nil>
}
