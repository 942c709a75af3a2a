package deflatetest_test

import (
	"errors"
	"fmt"

	"github.com/rfc6455/websocket/internal/deflatetest"
)

// Example decodes the two messages of RFC 7692 section 7.2.3.2 with
// context takeover: the second is a literal and a back-reference into the
// first.
func Example() {
	first, err := deflatetest.InflateMessage(nil, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, 1<<20)
	if err != nil {
		panic(err)
	}
	second, err := deflatetest.InflateMessage(first.Out, []byte{0xf2, 0x00, 0x11, 0x00, 0x00}, 1<<20)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s %s, farthest reference %d\n", first.Out, second.Out, second.MaxDist)

	// Without takeover, the same reference has nothing to refer to.
	_, err = deflatetest.InflateMessage(nil, []byte{0xf2, 0x00, 0x11, 0x00, 0x00}, 1<<20)
	fmt.Println(errors.Is(err, deflatetest.ErrTooFar))
	// Output:
	// Hello Hello, farthest reference 5
	// true
}

// ExampleEncodeFixed aims a back-reference at an exact distance, with a
// window of 8 bits for the rest.
func ExampleEncodeFixed() {
	hist := []byte("0123456789abcdef")
	syms := append(deflatetest.LZ77(hist, []byte("xyz"), 1<<8), deflatetest.Sym{Length: 4, Dist: 7})
	payload := deflatetest.EncodeFixed(syms)
	res, err := deflatetest.InflateMessage(hist, payload, 1<<20)
	fmt.Printf("%s %d %v\n", res.Out, res.MaxDist, err)
	// Output:
	// xyzcdef 7 <nil>
}
