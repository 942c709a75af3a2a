// Package testpayload computes the deterministic payloads the interop
// tests send: the same bytes in the Go tests, in the wasm program and in
// payload.js, so each end checks what it receives without being told what
// was sent.
package testpayload

// Phrases are what text payloads are made of; payload.js has the same
// table (interop's TestPayloadMatchesJS checks that both agree).
var Phrases = []string{
	"The quick brown fox jumps over the lazy dog. ",
	"A WebSocket frame carries a FIN bit, an opcode and a masked payload. ",
	"héllo wörld, naïve café, ünïcödé façade. ",
	"жизнь прекрасна, привет из Москвы! ",
	"Ωμέγα και άλφα, καλημέρα κόσμε. ",
	"日本語のテキストも送ります。 ",
	"✓ done → next ⇒ €100 ± 5 ",
	"😀 emoji 🚀🚀 rockets 🎉 a😀b ",
	"ping, pong and close are control frames (RFC 6455, section 5.5).\n",
	"permessage-deflate compresses data frames (RFC 7692). ",
	"{\"id\": 12345, \"name\": \"Zoë\", \"tags\": [\"α\", \"β\", \"γ\"]}\n",
	"Lorem ipsum dolor sit amet, consectetur adipiscing elit. ",
	"Grüße aus Köln; ¿Qué tal? Ça va très bien. ",
	"ℕ ⊂ ℤ ⊂ ℚ ⊂ ℝ ⊂ ℂ; ∀x ∃y: x < y ",
	"0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\n",
	"𝄞 music, 𐍈 gothic, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 fraktur. ",
}

// Bytes returns the n-byte test payload of a text or binary message,
// byte for byte what payload.js's bytes(text, n) returns.
func Bytes(text bool, n int) []byte {
	x := uint32(n) * 2654435761
	if text {
		x ^= 0x9e3779b9
	} else {
		x ^= 0x85ebca6b
	}
	if x == 0 {
		x = 1
	}
	out := make([]byte, 0, n)
	for len(out) < n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		if !text {
			out = append(out, byte(x))
			continue
		}
		p := Phrases[x%uint32(len(Phrases))]
		if len(p) > n-len(out) {
			p = "."
		}
		out = append(out, p...)
	}
	return out
}
