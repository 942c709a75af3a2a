package frame

import (
	"encoding/binary"
	"math/bits"
)

// Mask XORs b in place with the masking key, starting at key position pos
// (taken mod 4), and returns the key position after b. Masking and
// unmasking are the same operation, and a payload can be processed in
// pieces of any size:
//
//	pos := 0
//	for _, chunk := range chunks {
//		pos = Mask(key, pos, chunk)
//	}
//
// It works a machine word at a time at any alignment and does not
// allocate. Concurrent calls are safe on disjoint slices.
func Mask(key [4]byte, pos int, b []byte) int {
	pos &= 3
	if len(b) == 0 {
		return pos
	}
	end := (pos + len(b)) & 3
	if len(b) < 8 {
		for i := range b {
			b[i] ^= key[(pos+i)&3]
		}
		return end
	}
	// k32 holds the key rotated so that its lowest byte is key[pos]: byte i
	// of a little-endian word then lines up with b[i].
	k32 := bits.RotateLeft32(binary.LittleEndian.Uint32(key[:]), -8*pos)
	k := uint64(k32) | uint64(k32)<<32
	for len(b) >= 64 {
		w := b[:64:64]
		binary.LittleEndian.PutUint64(w[0:], binary.LittleEndian.Uint64(w[0:])^k)
		binary.LittleEndian.PutUint64(w[8:], binary.LittleEndian.Uint64(w[8:])^k)
		binary.LittleEndian.PutUint64(w[16:], binary.LittleEndian.Uint64(w[16:])^k)
		binary.LittleEndian.PutUint64(w[24:], binary.LittleEndian.Uint64(w[24:])^k)
		binary.LittleEndian.PutUint64(w[32:], binary.LittleEndian.Uint64(w[32:])^k)
		binary.LittleEndian.PutUint64(w[40:], binary.LittleEndian.Uint64(w[40:])^k)
		binary.LittleEndian.PutUint64(w[48:], binary.LittleEndian.Uint64(w[48:])^k)
		binary.LittleEndian.PutUint64(w[56:], binary.LittleEndian.Uint64(w[56:])^k)
		b = b[64:]
	}
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
		b = b[8:]
	}
	// Fewer than 8 bytes remain, and a multiple of 8 bytes has been
	// masked, so the key is still aligned on k's lowest byte.
	for i := range b {
		b[i] ^= byte(k >> (8 * (i & 3)))
	}
	return end
}
