package deflate_test

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"

	"github.com/rfc6455/websocket/internal/deflate"
)

// One direction of a connection with context takeover: the sender's
// Encoder and the receiver's Decoder. The second "Hello" refers back to
// the first and compresses to 4 bytes.
func Example() {
	enc := deflate.NewEncoder(flate.DefaultCompression, 15, true)
	defer enc.Release()
	dec := deflate.NewDecoder(15, true)
	defer dec.Release()

	for _, msg := range []string{"Hello", "Hello", ""} {
		var payload bytes.Buffer // the frame payload, sent with RSV1 set
		enc.Reset(&payload)
		io.WriteString(enc, msg)
		if err := enc.Close(); err != nil {
			panic(err)
		}
		fmt.Printf("% x\n", payload.Bytes())

		dec.Reset(&payload)
		text, err := io.ReadAll(dec)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%q\n", text)
	}
	// Output:
	// f2 48 cd c9 c9 07 00
	// "Hello"
	// 02 13 00 00
	// "Hello"
	// 00
	// ""
}

// AppendCompressed compresses a whole message at once, as for a broadcast
// prepared once for many connections.
func ExampleEncoder_AppendCompressed() {
	enc := deflate.NewEncoder(flate.BestCompression, 15, false)
	defer enc.Release()
	payload, err := enc.AppendCompressed(nil, []byte("Hello"))
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", payload)
	// Output:
	// f2 48 cd c9 c9 07 00
}

// The Decoder reads into the caller's buffer; a read limit is enforced by
// counting, so a decompression bomb costs no memory beyond the window.
func ExampleDecoder_Read() {
	dec := deflate.NewDecoder(15, false)
	defer dec.Release()
	bomb, _ := deflate.NewEncoder(flate.BestCompression, 15, false).AppendCompressed(nil, make([]byte, 1<<20))
	fmt.Println("1 MiB compressed to under 2 KiB:", len(bomb) < 2048)

	const limit = 64 << 10
	dec.Reset(bytes.NewReader(bomb))
	buf := make([]byte, 4096)
	total := 0
	for {
		n, err := dec.Read(buf)
		total += n
		if total > limit {
			fmt.Println("message too big") // close with 1009
			break
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
	}
	// Output:
	// 1 MiB compressed to under 2 KiB: true
	// message too big
}
