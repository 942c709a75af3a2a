package websocket

// Protocol conformance cases modelled on the Autobahn|Testsuite sections
// 1-7 and 10, run with the scripted raw peer of rawpeer_test.go against our
// server and, where it makes sense, our client. Each case asserts the exact
// echo or the exact close code, that the TCP connection then ends the way
// RFC 6455 7.1.1 says, and that no goroutine is left behind.
//
//	go test -race -run Conformance .

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// rpCase is one scripted case; roles nil means both.
type rpCase struct {
	name  string
	roles []rpRole
	opts  rpOpts
	run   func(p *rawPeer)
}

var (
	rpOnlyServer = []rpRole{rpServer}
	rpOnlyClient = []rpRole{rpClient}
)

// rpRunCases runs every case in every role as parallel subtests named
// case/role.
func rpRunCases(t *testing.T, cases []rpCase) {
	t.Helper()
	seen := make(map[string]bool)
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		roles := tc.roles
		if roles == nil {
			roles = rpRoles
		}
		for _, role := range roles {
			t.Run(tc.name+"/"+role.String(), func(t *testing.T) {
				t.Parallel()
				rpRun(t, role, tc.opts, tc.run)
			})
		}
	}
}

func rpOpName(op byte) string {
	switch op {
	case rpOpText:
		return "text"
	case rpOpBin:
		return "binary"
	}
	return fmt.Sprintf("op%d", op)
}

// rpPayload returns n bytes fit for a message of type op.
func rpPayload(op byte, n int) []byte {
	if op == rpOpText {
		return rpASCII(n)
	}
	return rpBytes(n, uint64(n))
}

// rpWantPeerClose checks that the serve loop ended on the peer's close
// frame with code.
func rpWantPeerClose(code uint16) func(error) string {
	return func(err error) string {
		var ce *CloseError
		if !errors.As(err, &ce) || uint16(ce.Code) != code {
			return fmt.Sprintf("got %v, want a *CloseError with code %d", err, code)
		}
		if errors.Is(err, ErrProtocol) || errors.Is(err, ErrInvalidUTF8) || errors.Is(err, ErrMessageTooBig) {
			return fmt.Sprintf("peer's close reported as a local failure: %v", err)
		}
		return ""
	}
}

// ---- 1.x: framing, text and binary echo ----

func TestConformanceFraming(t *testing.T) {
	var cases []rpCase
	lengths := []int{0, 125, 126, 127, 128, 65535, 65536, 65537, 1 << 20}
	for _, op := range []byte{rpOpText, rpOpBin} {
		for _, n := range lengths {
			payload := rpPayload(op, n)
			cases = append(cases, rpCase{
				name: fmt.Sprintf("1.%s/len=%d", rpOpName(op), n),
				run: func(p *rawPeer) {
					wait := p.sendBg(p.wire(rpFrame{Fin: true, Op: op, Payload: payload}), 1<<30)
					p.expectMessage(op, payload)
					wait()
				},
			}, rpCase{
				// The header arrives one byte at a time, then the payload
				// in odd-sized pieces.
				name: fmt.Sprintf("1.%s/len=%d/chopped", rpOpName(op), n),
				run: func(p *rawPeer) {
					b := p.wire(rpFrame{Fin: true, Op: op, Payload: payload})
					head := min(len(b), 16)
					p.writeChops(b[:head], 1, time.Millisecond, false)
					chop := 997
					if n > 1<<16 {
						chop = 4093
					}
					wait := p.sendBg(b[head:], chop)
					p.expectMessage(op, payload)
					wait()
				},
			})
		}
		cases = append(cases, rpCase{
			// All lengths up to 64 KiB + 1 back to back on one
			// connection, in one write.
			name: fmt.Sprintf("1.%s/all-lengths-one-connection", rpOpName(op)),
			run: func(p *rawPeer) {
				var b []byte
				for _, n := range lengths[:len(lengths)-1] {
					b = append(b, p.wire(rpFrame{Fin: true, Op: op, Payload: rpPayload(op, n)})...)
				}
				wait := p.sendBg(b, 1<<30)
				for _, n := range lengths[:len(lengths)-1] {
					p.expectMessage(op, rpPayload(op, n))
				}
				wait()
			},
		})
	}
	for _, n := range []int{0, 125, 65535, 65536 + 3, 200003, 1 << 20} {
		payload := rpBytes(n, 7)
		cases = append(cases, rpCase{
			// ReadMessage -> WriteMessage: the echo must be one frame.
			name: fmt.Sprintf("1.binary/whole-message-echo/len=%d", n),
			opts: rpOpts{serve: rpEchoWhole},
			run: func(p *rawPeer) {
				wait := p.sendBg(p.wire(rpFragments(rpOpBin, rpSplit(payload, 3)...)...), 1<<30)
				p.expectFrame(rpBin(payload))
				wait()
			},
		})
	}
	rpRunCases(t, cases)
}

// ---- 2.x: ping and pong ----

func TestConformancePingPong(t *testing.T) {
	cases := []rpCase{
		{name: "2.ping/empty", run: func(p *rawPeer) {
			p.send(rpPing(nil))
			p.expectPong(nil)
		}},
		{name: "2.ping/text-payload", run: func(p *rawPeer) {
			p.send(rpPing([]byte("Hello, world!")))
			p.expectPong([]byte("Hello, world!"))
		}},
		{name: "2.ping/binary-payload", run: func(p *rawPeer) {
			pl := []byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}
			p.send(rpPing(pl))
			p.expectPong(pl)
		}},
		{name: "2.ping/125", run: func(p *rawPeer) {
			pl := rpBytes(125, 2)
			p.send(rpPing(pl))
			p.expectPong(pl)
		}},
		{name: "2.ping/all-lengths-0-125", run: func(p *rawPeer) {
			var b []byte
			for n := 0; n <= 125; n++ {
				b = append(b, p.wire(rpPing(rpBytes(n, uint64(n))))...)
			}
			p.write(b)
			for n := 0; n <= 125; n++ {
				p.expectPong(rpBytes(n, uint64(n)))
			}
		}},
		{name: "2.ping/125-chopped", run: func(p *rawPeer) {
			pl := rpBytes(125, 3)
			p.writeChops(p.wire(rpPing(pl)), 7, time.Millisecond, false)
			p.expectPong(pl)
		}},
		{name: "2.ping/126", run: func(p *rawPeer) {
			p.send(rpPing(rpBytes(126, 4)))
			p.expectClose(1002)
		}},
		{name: "2.ping/126-after-valid-message", run: func(p *rawPeer) {
			p.send(rpText("before"), rpPing(rpBytes(126, 4)), rpPing([]byte("after")))
			p.expectMessage(rpOpText, []byte("before"))
			p.expectClose(1002)
		}},
		{name: "2.pong/unsolicited-empty", run: func(p *rawPeer) {
			p.send(rpPong(nil), rpText("next"))
			p.expectMessage(rpOpText, []byte("next"))
		}},
		{name: "2.pong/unsolicited-payload", run: func(p *rawPeer) {
			p.send(rpPong([]byte("unsolicited")), rpPing([]byte("solicited")))
			p.expectPong([]byte("solicited"))
			p.expectNothing(100 * time.Millisecond)
		}},
		{name: "2.ping/ten-in-a-row", run: func(p *rawPeer) {
			var fs []rpFrame
			for i := range 10 {
				fs = append(fs, rpPing(fmt.Appendf(nil, "payload-%d", i)))
			}
			p.send(fs...)
			for i := range 10 {
				p.expectPong(fmt.Appendf(nil, "payload-%d", i))
			}
		}},
		{name: "2.ping/ten-separate-writes", run: func(p *rawPeer) {
			for i := range 10 {
				p.send(rpPing(fmt.Appendf(nil, "payload-%d", i)))
			}
			for i := range 10 {
				p.expectPong(fmt.Appendf(nil, "payload-%d", i))
			}
		}},
		{name: "2.ping/then-close", run: func(p *rawPeer) {
			p.send(rpPing([]byte("last")), rpClose(1000, ""))
			p.expectPong([]byte("last"))
			p.expectClose(1000)
		}},
	}
	rpRunCases(t, cases)
}

// ---- 3.x: reserved bits ----

func TestConformanceReservedBits(t *testing.T) {
	var cases []rpCase
	for v := uint8(1); v <= 7; v++ {
		rsv := v << 4
		kinds := []struct {
			name   string
			frames []rpFrame // the last one carries the RSV bits
		}{
			{"text", []rpFrame{rpText("Hello, world!")}},
			{"binary", []rpFrame{rpBin([]byte{0, 1, 2, 0xff})}},
			{"ping", []rpFrame{rpPing([]byte("ping"))}},
			{"pong", []rpFrame{rpPong([]byte("pong"))}},
			{"close", []rpFrame{rpClose(1000, "")}},
			{"continuation", rpFragments(rpOpText, []byte("frag1"), []byte("frag2"))},
		}
		for _, k := range kinds {
			frames := append([]rpFrame(nil), k.frames...)
			frames[len(frames)-1].Rsv = rsv
			cases = append(cases, rpCase{
				name: fmt.Sprintf("3.rsv=%d/%s", v, k.name),
				run: func(p *rawPeer) {
					p.send(frames...)
					p.expectClose(1002)
				},
			})
		}
		bad := rpText("bad")
		bad.Rsv = rsv
		cases = append(cases, rpCase{
			// A valid message, the bad frame and a ping in one write: the
			// message is echoed, then close 1002, and no pong.
			name: fmt.Sprintf("3.rsv=%d/after-valid-message", v),
			run: func(p *rawPeer) {
				p.send(rpText("valid"), bad, rpPing([]byte("unanswered")))
				p.expectMessage(rpOpText, []byte("valid"))
				p.expectClose(1002)
			},
		}, rpCase{
			name: fmt.Sprintf("3.rsv=%d/after-valid-message-chopped", v),
			run: func(p *rawPeer) {
				p.writeChops(p.wire(rpText("valid"), bad, rpPing([]byte("unanswered"))), 2, time.Millisecond, true)
				p.expectMessage(rpOpText, []byte("valid"))
				p.expectClose(1002)
			},
		})
	}
	rpRunCases(t, cases)
}

// ---- 4.x: reserved opcodes ----

func TestConformanceOpcodes(t *testing.T) {
	var cases []rpCase
	for _, op := range []byte{3, 4, 5, 6, 7, 11, 12, 13, 14, 15} {
		cases = append(cases, rpCase{
			name: fmt.Sprintf("4.op=%d/empty", op),
			run: func(p *rawPeer) {
				p.send(rpFrame{Fin: true, Op: op})
				p.expectClose(1002)
			},
		}, rpCase{
			name: fmt.Sprintf("4.op=%d/payload", op),
			run: func(p *rawPeer) {
				p.send(rpFrame{Fin: true, Op: op, Payload: []byte("reserved opcode")})
				p.expectClose(1002)
			},
		}, rpCase{
			name: fmt.Sprintf("4.op=%d/after-valid-message", op),
			run: func(p *rawPeer) {
				p.send(rpText("valid"), rpFrame{Fin: true, Op: op, Payload: []byte("x")}, rpPing(nil))
				p.expectMessage(rpOpText, []byte("valid"))
				p.expectClose(1002)
			},
		}, rpCase{
			name: fmt.Sprintf("4.op=%d/inside-fragmented-message", op),
			run: func(p *rawPeer) {
				p.send(rpFrame{Op: rpOpText, Payload: []byte("frag")}, rpFrame{Fin: true, Op: op})
				p.expectClose(1002)
			},
		})
	}
	rpRunCases(t, cases)
}

// ---- 5.x: fragmentation ----

func TestConformanceFragmentation(t *testing.T) {
	msg := []byte("Hello, fragmented world! 0123456789")
	bin := rpBytes(300, 5)
	cases := []rpCase{
		{name: "5.ping/fragmented", run: func(p *rawPeer) {
			p.send(rpFrame{Op: rpOpPing, Payload: []byte("frag1")}, rpFrame{Fin: true, Op: rpOpCont, Payload: []byte("frag2")})
			p.expectClose(1002)
		}},
		{name: "5.pong/fragmented", run: func(p *rawPeer) {
			p.send(rpFrame{Op: rpOpPong, Payload: []byte("frag1")}, rpFrame{Fin: true, Op: rpOpCont, Payload: []byte("frag2")})
			p.expectClose(1002)
		}},
		{name: "5.close/fragmented", run: func(p *rawPeer) {
			p.send(rpFrame{Op: rpOpClose, Payload: []byte{0x03, 0xe8}}, rpFrame{Fin: true, Op: rpOpCont})
			p.expectClose(1002)
		}},
		{name: "5.text/2-fragments", run: func(p *rawPeer) {
			p.send(rpFragments(rpOpText, msg[:10], msg[10:])...)
			p.expectMessage(rpOpText, msg)
		}},
		{name: "5.text/2-fragments-separate-writes", run: func(p *rawPeer) {
			p.sendEach(5*time.Millisecond, rpFragments(rpOpText, msg[:10], msg[10:])...)
			p.expectMessage(rpOpText, msg)
		}},
		{name: "5.text/2-fragments-chopped", run: func(p *rawPeer) {
			p.writeChops(p.wire(rpFragments(rpOpText, msg[:10], msg[10:])...), 1, 0, false)
			p.expectMessage(rpOpText, msg)
		}},
		{name: "5.binary/2-fragments", run: func(p *rawPeer) {
			p.send(rpFragments(rpOpBin, bin[:100], bin[100:])...)
			p.expectMessage(rpOpBin, bin)
		}},
		{name: "5.text/5-fragments-2-pings", run: func(p *rawPeer) {
			fs := rpFragments(rpOpText, rpSplit(msg, 5)...)
			all := []rpFrame{fs[0], fs[1], rpPing([]byte("p1")), fs[2], fs[3], rpPing([]byte("p2")), fs[4]}
			p.send(all...)
			p.expectPong([]byte("p1"))
			p.expectPong([]byte("p2"))
			p.expectMessage(rpOpText, msg)
		}},
		{name: "5.text/ping-between-fragments-answered-at-once", run: func(p *rawPeer) {
			// The pong must come before the rest of the message is sent.
			fs := rpFragments(rpOpText, msg[:10], msg[10:])
			p.send(fs[0], rpPing([]byte("now")))
			p.expectPong([]byte("now"))
			p.send(fs[1])
			p.expectMessage(rpOpText, msg)
		}},
		{name: "5.text/pong-between-fragments", run: func(p *rawPeer) {
			fs := rpFragments(rpOpText, msg[:10], msg[10:])
			p.send(fs[0], rpPong([]byte("unsolicited")), fs[1])
			p.expectMessage(rpOpText, msg)
		}},
		{name: "5.text/ping-between-fragments-chopped", run: func(p *rawPeer) {
			fs := rpFragments(rpOpText, msg[:10], msg[10:])
			p.writeChops(p.wire(fs[0], rpPing([]byte("chop")), fs[1]), 1, 0, false)
			p.expectPong([]byte("chop"))
			p.expectMessage(rpOpText, msg)
		}},
		{name: "5.continuation/fin-without-start", run: func(p *rawPeer) {
			p.send(rpFrame{Fin: true, Op: rpOpCont, Payload: []byte("non-continuation payload")}, rpText("Hello, world!"))
			p.expectClose(1002)
		}},
		{name: "5.continuation/fin-without-start-chopped", run: func(p *rawPeer) {
			p.writeChops(p.wire(rpFrame{Fin: true, Op: rpOpCont, Payload: []byte("non-continuation payload")}, rpText("Hello, world!")), 1, 0, true)
			p.expectClose(1002)
		}},
		{name: "5.continuation/nofin-without-start", run: func(p *rawPeer) {
			p.send(rpFrame{Op: rpOpCont, Payload: []byte("fragment1")}, rpText("Hello, world!"))
			p.expectClose(1002)
		}},
		{name: "5.continuation/nofin-then-fin-without-start", run: func(p *rawPeer) {
			p.send(rpFrame{Op: rpOpCont, Payload: []byte("fragment1")}, rpFrame{Fin: true, Op: rpOpCont, Payload: []byte("fragment2")})
			p.expectClose(1002)
		}},
		{name: "5.continuation/after-finished-message", run: func(p *rawPeer) {
			fs := rpFragments(rpOpText, []byte("fragment1"), []byte("fragment2"))
			p.send(fs[0], fs[1], rpFrame{Fin: true, Op: rpOpCont, Payload: []byte("fragment3")})
			p.expectMessage(rpOpText, []byte("fragment1fragment2"))
			p.expectClose(1002)
		}},
		{name: "5.continuation/after-finished-message-repeated", run: func(p *rawPeer) {
			fs := rpFragments(rpOpText, []byte("fragment1"), []byte("fragment2"))
			p.send(fs[0], fs[1], rpFrame{Op: rpOpCont, Payload: []byte("fragment3")}, rpFrame{Fin: true, Op: rpOpCont, Payload: []byte("fragment4")})
			p.expectMessage(rpOpText, []byte("fragment1fragment2"))
			p.expectClose(1002)
		}},
		{name: "5.text/new-text-inside-fragmented", run: func(p *rawPeer) {
			p.send(rpFrame{Op: rpOpText, Payload: []byte("fragment1")}, rpText("fragment2"))
			p.expectClose(1002)
		}},
		{name: "5.text/new-binary-inside-fragmented", run: func(p *rawPeer) {
			p.send(rpFrame{Op: rpOpText, Payload: []byte("fragment1")}, rpBin([]byte("fragment2")))
			p.expectClose(1002)
		}},
		{name: "5.binary/new-text-inside-fragmented", run: func(p *rawPeer) {
			p.send(rpFrame{Op: rpOpBin, Payload: []byte{1, 2}}, rpFrame{Op: rpOpText, Payload: []byte("x")})
			p.expectClose(1002)
		}},
		{name: "5.text/new-start-nofin-inside-fragmented", run: func(p *rawPeer) {
			p.send(rpFrame{Op: rpOpText, Payload: []byte("fragment1")}, rpFrame{Op: rpOpText, Payload: []byte("fragment2")}, rpFrame{Fin: true, Op: rpOpCont})
			p.expectClose(1002)
		}},
		{name: "5.empty/all-fragments-empty", run: func(p *rawPeer) {
			p.send(rpFragments(rpOpText, nil, nil, nil)...)
			p.expectMessage(rpOpText, nil)
		}},
		{name: "5.empty/first-empty", run: func(p *rawPeer) {
			p.send(rpFragments(rpOpText, nil, msg)...)
			p.expectMessage(rpOpText, msg)
		}},
		{name: "5.empty/middle-empty", run: func(p *rawPeer) {
			p.send(rpFragments(rpOpBin, bin[:7], nil, nil, bin[7:])...)
			p.expectMessage(rpOpBin, bin)
		}},
		{name: "5.empty/last-empty", run: func(p *rawPeer) {
			p.send(rpFragments(rpOpText, msg, nil)...)
			p.expectMessage(rpOpText, msg)
		}},
		{name: "5.two-messages-fragmented-back-to-back", run: func(p *rawPeer) {
			fs := append(rpFragments(rpOpText, msg[:3], msg[3:]), rpFragments(rpOpBin, bin[:200], bin[200:])...)
			p.send(fs...)
			p.expectMessage(rpOpText, msg)
			p.expectMessage(rpOpBin, bin)
		}},
		{name: "5.big/16KiB-fragments-with-pings", run: func(p *rawPeer) {
			big := rpBytes(256<<10, 6)
			parts := rpSplit(big, 16)
			fs := rpFragments(rpOpBin, parts...)
			var b []byte
			for i, f := range fs {
				b = append(b, p.wire(f)...)
				if i < len(fs)-1 {
					b = append(b, p.wire(rpPing(fmt.Appendf(nil, "%d", i)))...)
				}
			}
			wait := p.sendBg(b, 1<<30)
			var pongs [][]byte
			for i := range len(fs) - 1 {
				pongs = append(pongs, fmt.Appendf(nil, "%d", i))
			}
			p.expectMessageAndPongs(rpOpBin, big, pongs)
			wait()
		}},
	}
	for _, op := range []byte{rpOpText, rpOpBin} {
		for _, n := range []int{2, 3, 10, 100} {
			payload := rpPayload(op, 1000)
			cases = append(cases, rpCase{
				name: fmt.Sprintf("5.%s/1000-bytes-in-%d-fragments", rpOpName(op), n),
				run: func(p *rawPeer) {
					p.send(rpFragments(op, rpSplit(payload, n)...)...)
					p.expectMessage(op, payload)
				},
			})
		}
		payload := rpPayload(op, 64)
		cases = append(cases, rpCase{
			name: fmt.Sprintf("5.%s/1-byte-fragments", rpOpName(op)),
			run: func(p *rawPeer) {
				p.send(rpFragments(op, rpSplit(payload, len(payload))...)...)
				p.expectMessage(op, payload)
			},
		}, rpCase{
			name: fmt.Sprintf("5.%s/1-byte-fragments-separate-writes", rpOpName(op)),
			run: func(p *rawPeer) {
				p.sendEach(time.Millisecond, rpFragments(op, rpSplit(payload, 16)...)...)
				p.expectMessage(op, payload)
			},
		})
	}
	rpRunCases(t, cases)
}

// ---- 6.x: UTF-8 handling ----

type rpUTF8Vector struct {
	name string
	text []byte
}

var rpValidUTF8 = []rpUTF8Vector{
	{"hello-mixed", []byte("Hello-µ@ßöäüàá-UTF-8!!")},
	{"kosme", []byte("κόσμε")},
	{"empty", []byte("")},
	{"first-1-byte-U+0000", []byte("\x00")},
	{"first-2-byte-U+0080", []byte("\u0080")},
	{"first-3-byte-U+0800", []byte("\u0800")},
	{"first-4-byte-U+10000", []byte("\U00010000")},
	{"last-1-byte-U+007F", []byte("\x7f")},
	{"last-2-byte-U+07FF", []byte("\u07ff")},
	{"last-3-byte-U+FFFF", []byte("\uffff")},
	{"max-U+10FFFF", []byte("\U0010ffff")},
	{"U+D7FF", []byte("\ud7ff")},
	{"U+E000", []byte("\ue000")},
	{"U+FFFD", []byte("\ufffd")},
	{"U+FFFE", []byte("\ufffe")},
	{"bom", []byte("\ufeffBOM first")},
	{"4-byte-emoji", []byte("smile 😀 party 🎉 end")},
	{"mixed-widths", []byte("a\u00e9\u4e2d\U0001F600z\U0010ffff\u0800")},
}

var rpInvalidUTF8 = []rpUTF8Vector{
	{"5-byte-sequence", []byte{0xf8, 0x88, 0x80, 0x80, 0x80}},
	{"6-byte-sequence", []byte{0xfc, 0x84, 0x80, 0x80, 0x80, 0x80}},
	{"above-U+10FFFF", []byte{0xf4, 0x90, 0x80, 0x80}},
	{"lead-f5", []byte{0xf5, 0x80, 0x80, 0x80}},
	{"byte-fe", []byte{0xfe}},
	{"byte-ff", []byte{0xff}},
	{"fe-fe-ff-ff", []byte{0xfe, 0xfe, 0xff, 0xff}},
	{"lone-continuation-80", []byte{0x80}},
	{"lone-continuation-bf", []byte{0xbf}},
	{"continuation-run", []byte{0x80, 0xbf, 0x80, 0xbf}},
	{"lonely-start-c0", []byte{0xc0, 0x20}},
	{"lonely-start-e0", []byte{0xe0, 0x20}},
	{"lonely-start-f0", []byte{0xf0, 0x20}},
	{"overlong-slash-2", []byte{0xc0, 0xaf}},
	{"overlong-slash-3", []byte{0xe0, 0x80, 0xaf}},
	{"overlong-slash-4", []byte{0xf0, 0x80, 0x80, 0xaf}},
	{"overlong-max-2", []byte{0xc1, 0xbf}},
	{"overlong-max-3", []byte{0xe0, 0x9f, 0xbf}},
	{"overlong-max-4", []byte{0xf0, 0x8f, 0xbf, 0xbf}},
	{"overlong-nul-2", []byte{0xc0, 0x80}},
	{"overlong-nul-3", []byte{0xe0, 0x80, 0x80}},
	{"surrogate-D800", []byte{0xed, 0xa0, 0x80}},
	{"surrogate-DB7F", []byte{0xed, 0xad, 0xbf}},
	{"surrogate-DB80", []byte{0xed, 0xae, 0x80}},
	{"surrogate-DBFF", []byte{0xed, 0xaf, 0xbf}},
	{"surrogate-DC00", []byte{0xed, 0xb0, 0x80}},
	{"surrogate-DF80", []byte{0xed, 0xbe, 0x80}},
	{"surrogate-DFFF", []byte{0xed, 0xbf, 0xbf}},
	{"surrogate-pair", []byte{0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80}},
	{"surrogate-pair-max", []byte{0xed, 0xaf, 0xbf, 0xed, 0xbf, 0xbf}},
	{"invalid-continuation-3", []byte{0xe2, 0x28, 0xa1}},
	{"invalid-continuation-3-last", []byte{0xe2, 0x82, 0x28}},
	{"invalid-continuation-4", []byte{0xf0, 0x9f, 0x98, 0x41}},
	{"kosme-then-surrogate", append([]byte("κόσμε"), 0xed, 0xa0, 0x80, 'e', 'd', 'i', 't', 'e', 'd')},
	{"hello-then-ff", append([]byte("Hello-µ@ßöäüàá-UTF-8!!"), 0xff)},
	// Only invalid once the message ends: every prefix could still be
	// completed.
	{"truncated-2-at-end", append([]byte("κόσμε"), 0xce)},
	{"truncated-3-at-end", append([]byte("abc"), 0xe2, 0x82)},
	{"truncated-4-at-end", append([]byte("abc"), 0xf0, 0x9f, 0x98)},
	{"truncated-max-at-end", []byte{0xf4, 0x8f, 0xbf}},
}

// rpCompletable reports whether some bytes appended to p make it valid
// UTF-8, i.e. whether a validator must still accept p as a prefix.
func rpCompletable(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	for back := 1; back <= 3 && back <= len(p); back++ {
		head, tail := p[:len(p)-back], p[len(p)-back:]
		if !utf8.Valid(head) || !utf8.RuneStart(tail[0]) {
			continue
		}
		for x := 0x80; x <= 0xbf; x++ {
			cand := append(append([]byte(nil), tail...), byte(x))
			for len(cand) < 4 && !utf8.FullRune(cand) {
				cand = append(cand, 0x80)
			}
			if utf8.Valid(cand) {
				return true
			}
		}
	}
	return false
}

// rpFirstInvalid returns the length of the shortest prefix of p that no
// suffix can make valid, or -1 when p is only invalid because it ends.
func rpFirstInvalid(p []byte) int {
	for k := 1; k <= len(p); k++ {
		if !rpCompletable(p[:k]) {
			return k
		}
	}
	return -1
}

func TestConformanceUTF8Helpers(t *testing.T) {
	for _, v := range rpValidUTF8 {
		if !utf8.Valid(v.text) || rpFirstInvalid(v.text) != -1 {
			t.Errorf("valid vector %s judged invalid", v.name)
		}
	}
	for _, v := range rpInvalidUTF8 {
		if utf8.Valid(v.text) {
			t.Errorf("invalid vector %s is valid", v.name)
		}
		atEnd := strings.HasSuffix(v.name, "-at-end")
		if got := rpFirstInvalid(v.text); (got == -1) != atEnd {
			t.Errorf("rpFirstInvalid(%s) = %d, at end of message only: %v", v.name, got, atEnd)
		}
	}
	if got := rpFirstInvalid([]byte("ab\xed\xa0\x80")); got != 4 {
		t.Errorf("rpFirstInvalid(surrogate after 2 bytes) = %d, want 4", got)
	}
}

func TestConformanceUTF8(t *testing.T) {
	var cases []rpCase
	for _, v := range rpValidUTF8 {
		text := v.text
		cases = append(cases, rpCase{
			name: "6.valid/" + v.name + "/whole",
			run: func(p *rawPeer) {
				p.send(rpFrame{Fin: true, Op: rpOpText, Payload: text})
				p.expectMessage(rpOpText, text)
			},
		})
		if len(text) < 2 {
			continue
		}
		cases = append(cases, rpCase{
			name: "6.valid/" + v.name + "/1-byte-fragments",
			run: func(p *rawPeer) {
				p.send(rpFragments(rpOpText, rpSplit(text, len(text))...)...)
				p.expectMessage(rpOpText, text)
			},
		}, rpCase{
			// Two fragments, split at every byte: one message per split.
			name: "6.valid/" + v.name + "/split-at-every-byte",
			run: func(p *rawPeer) {
				var fs []rpFrame
				for i := 1; i < len(text); i++ {
					fs = append(fs, rpFragments(rpOpText, text[:i], text[i:])...)
				}
				p.send(fs...)
				for i := 1; i < len(text); i++ {
					p.expectMessage(rpOpText, text)
				}
			},
		}, rpCase{
			// One frame arriving a byte at a time: incomplete sequences
			// must be waited for, not rejected.
			name: "6.valid/" + v.name + "/chopped-1-byte",
			run: func(p *rawPeer) {
				p.writeChops(p.wire(rpFrame{Fin: true, Op: rpOpText, Payload: text}), 1, time.Millisecond, false)
				p.expectMessage(rpOpText, text)
			},
		})
	}
	cases = append(cases, rpCase{
		// A code point split across fragments with a ping in between: the
		// validator's state survives the control frame.
		name: "6.valid/code-point-split-around-ping",
		run: func(p *rawPeer) {
			fs := rpFragments(rpOpText, []byte("a\xf4\x8f"), []byte("\xbf\xbfz"))
			p.send(fs[0], rpPing([]byte("mid")), fs[1])
			p.expectPong([]byte("mid"))
			p.expectMessage(rpOpText, []byte("a\U0010ffffz"))
		},
	}, rpCase{
		name: "6.invalid/code-point-split-around-ping",
		run: func(p *rawPeer) {
			fs := rpFragments(rpOpText, []byte("a\xf4"), []byte("\x90\x80\x80z"))
			p.send(fs[0], rpPing([]byte("mid")), fs[1])
			p.expectPong([]byte("mid"))
			p.expectClose(1007)
		},
	}, rpCase{
		// Validation starts afresh with each message: an incomplete
		// sequence cannot be carried over a message boundary.
		name: "6.invalid/sequence-across-messages",
		run: func(p *rawPeer) {
			p.send(rpText("ok"), rpFrame{Fin: true, Op: rpOpText, Payload: []byte("a\xe2\x82")}, rpText("\xacb"))
			p.expectMessage(rpOpText, []byte("ok"))
			p.expectClose(1007)
		},
	}, rpCase{
		// Binary messages are never checked.
		name: "6.binary-not-validated",
		run: func(p *rawPeer) {
			pl := []byte{0xff, 0xfe, 0xed, 0xa0, 0x80, 0xc0, 0xaf}
			p.send(rpBin(pl))
			p.expectMessage(rpOpBin, pl)
		},
	})
	for _, v := range rpInvalidUTF8 {
		text := v.text
		k := rpFirstInvalid(text)
		cases = append(cases, rpCase{
			name: "6.invalid/" + v.name + "/whole",
			run: func(p *rawPeer) {
				p.send(rpFrame{Fin: true, Op: rpOpText, Payload: text}, rpPing([]byte("unanswered")))
				p.expectClose(1007)
			},
		}, rpCase{
			name: "6.invalid/" + v.name + "/1-byte-fragments",
			run: func(p *rawPeer) {
				p.writeLenient(p.wire(rpFragments(rpOpText, rpSplit(text, len(text))...)...))
				p.expectClose(1007)
			},
		}, rpCase{
			name: "6.invalid/" + v.name + "/chopped-1-byte",
			run: func(p *rawPeer) {
				p.writeChops(p.wire(rpFrame{Fin: true, Op: rpOpText, Payload: text}), 1, time.Millisecond, true)
				p.expectClose(1007)
			},
		})
		if k < 0 {
			// Invalid only at the end: the message stays open (no
			// answer) until its final fragment, then 1007.
			cases = append(cases, rpCase{
				name: "6.invalid/" + v.name + "/fails-at-fin",
				run: func(p *rawPeer) {
					p.send(rpFrame{Op: rpOpText, Payload: text})
					p.expectNothing(100 * time.Millisecond)
					p.send(rpFrame{Fin: true, Op: rpOpCont})
					p.expectClose(1007)
				},
			})
			continue
		}
		// Fail fast: 1007 must come as soon as the first impossible byte
		// arrives, while the rest of the frame (or message) is held back
		// until the close frame is in. An endpoint that waits for the end
		// of the frame or of the message cannot pass, however long hold
		// is; hold only bounds the wait (generously: the test machine may
		// be loaded).
		const hold = 3 * time.Second
		tail := []byte(" and more text that is never looked at")
		cases = append(cases, rpCase{
			name: "6.invalid/" + v.name + "/fail-fast-in-frame",
			run: func(p *rawPeer) {
				b := p.wire(rpFrame{Fin: true, Op: rpOpText, Payload: append(append([]byte(nil), text...), tail...)})
				hdr := len(b) - len(text) - len(tail)
				p.write(b[:hdr+k])
				p.expectCloseWithin(1007, hold)
				p.writeLenient(b[hdr+k:])
			},
		}, rpCase{
			name: "6.invalid/" + v.name + "/fail-fast-in-fragment",
			run: func(p *rawPeer) {
				p.send(rpFrame{Op: rpOpText, Payload: text[:k]})
				p.expectCloseWithin(1007, hold)
				p.writeLenient(p.wire(rpFrame{Fin: true, Op: rpOpCont, Payload: append(text[k:], tail...)}))
			},
		})
	}
	rpRunCases(t, cases)
}

// ---- 7.x: closing ----

func TestConformanceClose(t *testing.T) {
	cases := []rpCase{
		{name: "7.close/empty", run: func(p *rawPeer) {
			p.send(rpCloseRaw(nil))
			p.expectClose(rpNoStatus)
			p.wantErr = rpWantPeerClose(1005)
		}},
		{name: "7.close/1000", run: func(p *rawPeer) {
			p.send(rpClose(1000, ""))
			p.expectClose(1000)
			p.wantErr = rpWantPeerClose(1000)
		}},
		{name: "7.close/1000-with-reason", run: func(p *rawPeer) {
			p.send(rpClose(1000, "Hello World!"))
			p.expectClose(1000)
			p.wantErr = func(err error) string {
				var ce *CloseError
				if !errors.As(err, &ce) || ce.Code != 1000 || ce.Reason != "Hello World!" {
					return fmt.Sprintf("got %v, want CloseError{1000, Hello World!}", err)
				}
				return ""
			}
		}},
		{name: "7.close/reason-123", run: func(p *rawPeer) {
			p.send(rpClose(1000, strings.Repeat("*", 123)))
			p.expectClose(1000)
		}},
		{name: "7.close/reason-124-payload-126", run: func(p *rawPeer) {
			p.send(rpClose(1000, strings.Repeat("*", 124)))
			p.expectClose(1002)
		}},
		{name: "7.close/1-byte-payload", run: func(p *rawPeer) {
			p.send(rpCloseRaw([]byte{0x03}))
			p.expectClose(1002)
		}},
		{name: "7.close/invalid-utf8-reason", run: func(p *rawPeer) {
			p.send(rpClose(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"))
			p.expectClose(1007)
		}},
		{name: "7.close/truncated-utf8-reason", run: func(p *rawPeer) {
			p.send(rpClose(1000, "abc\xe2\x82"))
			p.expectClose(1007)
		}},
		{name: "7.close/text-then-close", run: func(p *rawPeer) {
			p.send(rpText("Hello World!"), rpClose(1000, ""))
			p.expectMessage(rpOpText, []byte("Hello World!"))
			p.expectClose(1000)
		}},
		{name: "7.close/close-twice", run: func(p *rawPeer) {
			p.send(rpClose(1000, ""), rpClose(1000, "again"))
			p.expectClose(1000)
		}},
		{name: "7.close/close-then-ping", run: func(p *rawPeer) {
			p.send(rpClose(1000, ""), rpPing([]byte("ignored")))
			p.expectClose(1000)
		}},
		{name: "7.close/close-then-text", run: func(p *rawPeer) {
			p.send(rpClose(1000, ""), rpText("ignored"))
			p.expectClose(1000)
		}},
		{name: "7.close/close-inside-fragmented-message", run: func(p *rawPeer) {
			fs := rpFragments(rpOpText, []byte("fragment1"), []byte("fragment2"))
			p.send(fs[0], rpClose(1000, ""), fs[1])
			p.expectClose(1000)
		}},
		{name: "7.close/big-message-then-close", run: func(p *rawPeer) {
			big := rpASCII(256 << 10)
			wait := p.sendBg(p.wire(rpText(string(big)), rpClose(1000, "")), 1<<30)
			p.expectMessage(rpOpText, big)
			p.expectClose(1000)
			wait()
		}},
		{name: "7.close/chopped", run: func(p *rawPeer) {
			p.writeChops(p.wire(rpClose(1001, "going")), 1, time.Millisecond, false)
			p.expectClose(1001)
		}},
		{name: "7.close/server-closes-tcp-right-after-close", roles: rpOnlyClient, run: func(p *rawPeer) {
			// A server that does not wait for the echo: our client still
			// reports the server's close, and closes.
			p.send(rpClose(1001, "bye"))
			p.nc.Close()
			select {
			case <-p.conn.Done():
			case <-time.After(p.timeout):
				p.t.Fatal("client connection not closed")
			}
			p.wantErr = rpWantPeerClose(1001)
		}},
		{name: "7.close/client-waits-for-server-tcp-close", roles: rpOnlyClient, run: func(p *rawPeer) {
			// Our client answers the close and must leave closing TCP to
			// the server (RFC 6455 7.1.1).
			p.send(rpClose(1000, ""))
			f := p.next()
			if f.Op != rpOpClose {
				p.t.Fatalf("got %v, want close", f)
			}
			p.checkClosePayload(f.Payload, 1000)
			p.expectNothing(150 * time.Millisecond)
			select {
			case <-p.conn.Done():
				p.t.Fatal("client closed its connection before the server did")
			default:
			}
			p.expectTCPClose()
		}},
	}
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, rpCase{
			name: fmt.Sprintf("7.code/invalid-%d", code),
			run: func(p *rawPeer) {
				p.send(rpClose(code, ""))
				p.expectClose(1002)
			},
		})
	}
	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		cases = append(cases, rpCase{
			name: fmt.Sprintf("7.code/valid-%d", code),
			run: func(p *rawPeer) {
				p.send(rpClose(code, "reason"))
				p.expectClose(code)
				p.wantErr = rpWantPeerClose(code)
			},
		})
	}
	rpRunCases(t, cases)
}

// ---- close handshake started by our side ----

// rpCloseAfter returns a serve function that echoes until it reads the
// text "close-me", then calls Close(code, reason) (with no reader running:
// Close reads itself) and returns its result.
func rpCloseAfter(code StatusCode, reason string) func(c *Conn) error {
	return func(c *Conn) error {
		for {
			_, p, err := c.ReadMessage()
			if err != nil {
				return fmt.Errorf("read before Close: %w", err)
			}
			if string(p) == "close-me" {
				return c.Close(code, reason)
			}
		}
	}
}

// rpCloseConcurrent is like rpCloseAfter but calls Close from another
// goroutine while this one keeps reading (and must see the close).
func rpCloseConcurrent(c *Conn) error {
	closeErr := make(chan error, 1)
	var readErr error
	for {
		_, p, err := c.ReadMessage()
		if errors.Is(err, ErrConcurrentRead) {
			// Close took the read side between two of our reads.
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			readErr = err
			break
		}
		if string(p) == "close-me" {
			go func() { closeErr <- c.Close(CloseGoingAway, "bye") }()
		}
	}
	err := <-closeErr
	if err != nil {
		return fmt.Errorf("Close: %w (read: %v)", err, readErr)
	}
	if CloseStatus(readErr) != int(CloseGoingAway) {
		return fmt.Errorf("reader ended with %v, want the peer's close 1001", readErr)
	}
	return nil
}

func rpWantNil(err error) string {
	if err != nil {
		return fmt.Sprintf("Close: %v, want nil", err)
	}
	return ""
}

// answerClose reads our close frame (want code and reason), answers with
// reply and checks the TCP ending: our server closes at once; our client
// waits for the raw server to.
func (p *rawPeer) answerClose(code uint16, reason string, reply ...rpFrame) {
	p.t.Helper()
	p.expectFrame(rpClose(code, reason))
	p.send(reply...)
	if p.role == rpClient {
		p.expectNothing(150 * time.Millisecond)
	}
	p.expectTCPClose()
	p.wantErr = rpWantNil
}

func TestConformanceCloseInitiated(t *testing.T) {
	cases := []rpCase{
		{name: "ours/close-1000", opts: rpOpts{serve: rpCloseAfter(1000, "bye")}, run: func(p *rawPeer) {
			p.send(rpText("close-me"))
			p.answerClose(1000, "bye", rpClose(1000, ""))
		}},
		{name: "ours/close-4000-long-reason-cut", opts: rpOpts{serve: rpCloseAfter(4000, strings.Repeat("é", 100))}, run: func(p *rawPeer) {
			p.send(rpText("close-me"))
			p.answerClose(4000, strings.Repeat("é", 61), rpClose(4000, ""))
		}},
		{name: "ours/close-peer-answers-other-code", opts: rpOpts{serve: rpCloseAfter(1000, "")}, run: func(p *rawPeer) {
			p.send(rpText("close-me"))
			p.answerClose(1000, "", rpClose(1001, "me too"))
		}},
		{name: "ours/close-peer-answers-empty", opts: rpOpts{serve: rpCloseAfter(1000, "")}, run: func(p *rawPeer) {
			p.send(rpText("close-me"))
			p.answerClose(1000, "", rpCloseRaw(nil))
		}},
		{name: "ours/close-peer-sends-data-first", opts: rpOpts{serve: rpCloseAfter(1000, "")}, run: func(p *rawPeer) {
			// Data in flight when our close goes out is read and dropped;
			// nothing is echoed after our close frame.
			p.send(rpText("close-me"))
			p.answerClose(1000, "", rpText("late"), rpPing([]byte("late")), rpClose(1000, ""))
		}},
		{name: "ours/close-peer-answers-invalid-code", opts: rpOpts{serve: rpCloseAfter(1000, "")}, run: func(p *rawPeer) {
			// The answer breaks the protocol: no second close frame (one was
			// sent already), the connection ends, and Close says why.
			p.send(rpText("close-me"))
			p.expectFrame(rpClose(1000, ""))
			p.send(rpClose(999, ""))
			if p.role == rpClient {
				p.expectNothing(100 * time.Millisecond)
			}
			p.expectTCPClose()
			p.wantErr = func(err error) string {
				if !errors.Is(err, ErrProtocol) {
					return fmt.Sprintf("Close: %v, want an error matching ErrProtocol", err)
				}
				return ""
			}
		}},
		{name: "ours/close-with-concurrent-reader", opts: rpOpts{serve: rpCloseConcurrent}, run: func(p *rawPeer) {
			p.send(rpText("close-me"))
			p.answerClose(1001, "bye", rpClose(1001, ""))
		}},
		{name: "ours/simultaneous-close", opts: rpOpts{serve: rpCloseAfter(1000, "")}, run: func(p *rawPeer) {
			// The peer closes at the same time as we do: each side sees
			// one close frame, and Close still reports success.
			p.send(rpText("close-me"), rpClose(1001, "me first"))
			p.expectFrame(rpClose(1000, ""))
			if p.role == rpClient {
				p.expectNothing(100 * time.Millisecond)
			}
			p.expectTCPClose()
			p.wantErr = rpWantNil
		}},
		{name: "ours/client-server-keeps-tcp-open", roles: rpOnlyClient,
			opts: rpOpts{serve: rpCloseAfter(1000, ""), closeTimeout: 300 * time.Millisecond},
			run: func(p *rawPeer) {
				// The handshake completes but the server never closes TCP:
				// our client closes it itself once the close timeout passes.
				p.send(rpText("close-me"))
				p.expectFrame(rpClose(1000, ""))
				p.send(rpClose(1000, ""))
				start := time.Now()
				f, err := p.readFrame(2 * time.Second)
				if err != io.EOF {
					p.t.Fatalf("got %v %v, want EOF once the close timeout passed", f, err)
				}
				if d := time.Since(start); d < 200*time.Millisecond {
					p.t.Fatalf("client closed TCP after %v, before the 300ms close timeout", d)
				}
				p.wantErr = rpWantNil
			}},
		{name: "ours/close-peer-never-answers", opts: rpOpts{serve: rpCloseAfter(1000, ""), closeTimeout: 300 * time.Millisecond}, run: func(p *rawPeer) {
			// Close gives up after the close timeout, closes TCP, and says
			// the handshake did not complete.
			p.send(rpText("close-me"))
			p.expectFrame(rpClose(1000, ""))
			start := time.Now()
			f, err := p.readFrame(2 * time.Second)
			if err != io.EOF {
				p.t.Fatalf("got %v %v, want EOF once the close timeout passed", f, err)
			}
			if d := time.Since(start); d < 200*time.Millisecond {
				p.t.Fatalf("TCP closed after %v, before the 300ms close timeout", d)
			}
			p.wantErr = func(err error) string {
				if err == nil {
					return "Close returned nil though the peer never answered"
				}
				return ""
			}
		}},
	}
	rpRunCases(t, cases)
}

// ---- 10.x: limits ----

func TestConformanceLimits(t *testing.T) {
	u64 := func(v uint64) *uint64 { return &v }
	small := rpOpts{readLimit: 1000}
	cases := []rpCase{
		{name: "10.length-2^62-no-payload", run: func(p *rawPeer) {
			p.send(rpFrame{Fin: true, Op: rpOpBin, Length: u64(1 << 62)})
			p.expectCloseWithin(1009, time.Second)
		}},
		{name: "10.length-2^63-1", run: func(p *rawPeer) {
			p.send(rpFrame{Fin: true, Op: rpOpText, Length: u64(1<<63 - 1), Payload: []byte("abc")})
			p.expectCloseWithin(1009, time.Second)
		}},
		{name: "10.length-top-bit-set", run: func(p *rawPeer) {
			p.send(rpFrame{Fin: true, Op: rpOpBin, Length: u64(1 << 63)})
			p.expectCloseWithin(1002, time.Second)
		}},
		{name: "10.length-all-ones", run: func(p *rawPeer) {
			p.send(rpFrame{Fin: true, Op: rpOpBin, Length: u64(^uint64(0))})
			p.expectCloseWithin(1002, time.Second)
		}},
		{name: "10.length-2^62-inside-fragmented", run: func(p *rawPeer) {
			p.send(rpFrame{Op: rpOpBin, Payload: []byte("first")}, rpFrame{Fin: true, Op: rpOpCont, Length: u64(1 << 62)})
			p.expectCloseWithin(1009, time.Second)
		}},
		{name: "10.limit/at-limit", opts: small, run: func(p *rawPeer) {
			pl := rpASCII(1000)
			p.send(rpFrame{Fin: true, Op: rpOpText, Payload: pl})
			p.expectMessage(rpOpText, pl)
		}},
		{name: "10.limit/at-limit-fragmented", opts: small, run: func(p *rawPeer) {
			pl := rpBytes(1000, 9)
			p.send(rpFragments(rpOpBin, rpSplit(pl, 7)...)...)
			p.expectMessage(rpOpBin, pl)
		}},
		{name: "10.limit/one-over-header-only", opts: small, run: func(p *rawPeer) {
			// The header alone must trigger 1009: no payload is sent.
			p.send(rpFrame{Fin: true, Op: rpOpText, Length: u64(1001), Payload: []byte("0123456789")})
			p.expectCloseWithin(1009, time.Second)
		}},
		{name: "10.limit/over-in-second-fragment", opts: small, run: func(p *rawPeer) {
			p.send(rpFrame{Op: rpOpBin, Payload: rpBytes(600, 1)}, rpFrame{Fin: true, Op: rpOpCont, Length: u64(401)})
			p.expectCloseWithin(1009, time.Second)
		}},
		{name: "10.limit/over-after-many-fragments", opts: small, run: func(p *rawPeer) {
			var fs []rpFrame
			for range 11 {
				fs = append(fs, rpFrame{Op: rpOpCont, Payload: rpASCII(100)})
			}
			fs[0].Op = rpOpText
			p.writeLenient(p.wire(fs...))
			p.expectCloseWithin(1009, time.Second)
		}},
		{name: "10.limit/pings-do-not-count", opts: small, run: func(p *rawPeer) {
			var fs []rpFrame
			for range 20 {
				fs = append(fs, rpPing(rpASCII(125)))
			}
			fs = append(fs, rpText(string(rpASCII(1000))))
			p.send(fs...)
			for range 20 {
				p.expectPong(rpASCII(125))
			}
			p.expectMessage(rpOpText, rpASCII(1000))
		}},
		{name: "10.limit/next-message-fresh-budget", opts: small, run: func(p *rawPeer) {
			p.send(rpText(string(rpASCII(900))), rpText(string(rpASCII(900))))
			p.expectMessage(rpOpText, rpASCII(900))
			p.expectMessage(rpOpText, rpASCII(900))
		}},
		{name: "10.non-minimal-16-bit-length", run: func(p *rawPeer) {
			// RFC 6455 5.2: "the minimal number of bytes MUST be used".
			b := rpHeader(0x81, p.mask, [4]byte{}, 0)
			b[1] |= 126
			b = append(b[:2], append([]byte{0, 5}, b[2:]...)...)
			b = append(b, "hello"...)
			p.write(b)
			p.expectClose(1002)
		}},
	}
	rpRunCases(t, cases)
}

// ---- masking ----

func TestConformanceMasking(t *testing.T) {
	cases := []rpCase{
		{name: "mask/server-rejects-unmasked-text", roles: rpOnlyServer, run: func(p *rawPeer) {
			p.write(rpEncode(rpText("unmasked"), false))
			p.expectClose(1002)
		}},
		{name: "mask/server-rejects-unmasked-ping", roles: rpOnlyServer, run: func(p *rawPeer) {
			p.write(rpEncode(rpPing(nil), false))
			p.expectClose(1002)
		}},
		{name: "mask/server-rejects-unmasked-close", roles: rpOnlyServer, run: func(p *rawPeer) {
			p.write(rpEncode(rpClose(1000, ""), false))
			p.expectClose(1002)
		}},
		{name: "mask/server-rejects-unmasked-continuation", roles: rpOnlyServer, run: func(p *rawPeer) {
			p.write(append(p.wire(rpFrame{Op: rpOpText, Payload: []byte("masked")}),
				rpEncode(rpFrame{Fin: true, Op: rpOpCont, Payload: []byte("unmasked")}, false)...))
			p.expectClose(1002)
		}},
		{name: "mask/server-accepts-zero-key", roles: rpOnlyServer, run: func(p *rawPeer) {
			b := append(rpHeader(0x81, true, [4]byte{}, 5), "hello"...)
			p.write(b)
			p.expectMessage(rpOpText, []byte("hello"))
		}},
		{name: "mask/client-rejects-masked-text", roles: rpOnlyClient, run: func(p *rawPeer) {
			p.write(rpEncode(rpText("masked"), true))
			p.expectClose(1002)
		}},
		{name: "mask/client-rejects-masked-ping", roles: rpOnlyClient, run: func(p *rawPeer) {
			p.write(rpEncode(rpPing([]byte("x")), true))
			p.expectClose(1002)
		}},
		{name: "mask/client-rejects-masked-close", roles: rpOnlyClient, run: func(p *rawPeer) {
			p.write(rpEncode(rpClose(1000, ""), true))
			p.expectClose(1002)
		}},
		{name: "mask/client-keys-vary", roles: rpOnlyClient, run: func(p *rawPeer) {
			// readFrame already checks every frame from our client is
			// masked; the keys must also not repeat (RFC 6455 5.3).
			const n = 16
			var fs []rpFrame
			for i := range n {
				fs = append(fs, rpPing(fmt.Appendf(nil, "%d", i)))
			}
			p.send(fs...)
			keys := make(map[[4]byte]bool)
			for i := range n {
				p.expectPong(fmt.Appendf(nil, "%d", i))
				keys[p.lastKey] = true
			}
			if len(keys) < n-1 {
				p.t.Fatalf("%d distinct masking keys in %d frames", len(keys), n)
			}
		}},
	}
	rpRunCases(t, cases)
}

// ---- readers that do not read whole messages ----

// TestConformancePartialReaders checks the rules hold when the application
// reads messages whole (ReadMessage) or only in part (the rest is discarded
// by the next NextReader, still validated).
func TestConformancePartialReaders(t *testing.T) {
	big := rpBytes(1<<20, 21)
	whole := rpOpts{serve: rpEchoWhole}
	prefix := rpOpts{serve: rpEchoPrefix}
	cases := []rpCase{
		{name: "partial/prefix-echo", opts: prefix, run: func(p *rawPeer) {
			p.send(rpText("Hello, world!"), rpBin([]byte{1, 2, 3, 4, 5}), rpText("ab"))
			p.expectMessage(rpOpText, []byte("Hel"))
			p.expectMessage(rpOpBin, []byte{1, 2, 3})
			p.expectMessage(rpOpText, []byte("ab"))
		}},
		{name: "partial/prefix-big-discarded", opts: prefix, run: func(p *rawPeer) {
			wait := p.sendBg(p.wire(append(rpFragments(rpOpBin, rpSplit(big, 5)...), rpText("next"))...), 1<<30)
			p.expectMessage(rpOpBin, big[:3])
			p.expectMessage(rpOpText, []byte("nex"))
			wait()
		}},
		{name: "partial/prefix-ping-inside-discarded", opts: prefix, run: func(p *rawPeer) {
			fs := rpFragments(rpOpText, []byte("abcdef"), []byte("ghi"))
			p.send(fs[0], rpPing([]byte("in")), fs[1], rpText("xyz!"))
			p.expectMessage(rpOpText, []byte("abc"))
			p.expectPong([]byte("in"))
			p.expectMessage(rpOpText, []byte("xyz"))
		}},
		{name: "partial/prefix-invalid-utf8-in-discarded-part", opts: prefix, run: func(p *rawPeer) {
			p.send(rpText("abc\xed\xa0\x80def"), rpText("never"))
			p.expectMessage(rpOpText, []byte("abc"))
			p.expectClose(1007)
		}},
		{name: "partial/prefix-truncated-utf8-at-end-of-discarded", opts: prefix, run: func(p *rawPeer) {
			p.send(rpText("abcdef\xe2\x82"), rpText("never"))
			p.expectMessage(rpOpText, []byte("abc"))
			p.expectClose(1007)
		}},
		{name: "partial/prefix-bad-frame-in-discarded-part", opts: prefix, run: func(p *rawPeer) {
			p.send(rpFrame{Op: rpOpText, Payload: []byte("abcdef")}, rpText("new message inside"))
			p.expectMessage(rpOpText, []byte("abc"))
			p.expectClose(1002)
		}},
		{name: "partial/whole-invalid-utf8-last-fragment", opts: whole, run: func(p *rawPeer) {
			p.send(rpFragments(rpOpText, []byte("valid "), []byte("still valid "), []byte("\xf4\x90\x80\x80"))...)
			p.expectClose(1007)
		}},
		{name: "partial/whole-over-limit", opts: rpOpts{serve: rpEchoWhole, readLimit: 100}, run: func(p *rawPeer) {
			p.send(rpFragments(rpOpBin, rpBytes(60, 1), rpBytes(60, 2))...)
			p.expectClose(1009)
		}},
		{name: "partial/whole-many-fragments", opts: whole, run: func(p *rawPeer) {
			wait := p.sendBg(p.wire(rpFragments(rpOpBin, rpSplit(big, 200)...)...), 1<<30)
			p.expectFrame(rpBin(big))
			wait()
		}},
	}
	rpRunCases(t, cases)
}

// ---- frames arriving with the handshake ----

// TestConformanceEarlyFrames sends frames in the same write as the opening
// handshake: our end must not lose the bytes its HTTP reader buffered.
func TestConformanceEarlyFrames(t *testing.T) {
	big := rpBytes(5000, 11)
	cases := []rpCase{
		{name: "early/ping", opts: rpOpts{early: []rpFrame{rpPing([]byte("early"))}}, run: func(p *rawPeer) {
			p.expectPong([]byte("early"))
		}},
		{name: "early/text", opts: rpOpts{early: []rpFrame{rpText("hello")}}, run: func(p *rawPeer) {
			p.expectMessage(rpOpText, []byte("hello"))
		}},
		{name: "early/three-frames", opts: rpOpts{early: []rpFrame{rpText(string(rpASCII(1000))), rpBin(rpBytes(1000, 1)), rpPing([]byte("p"))}},
			run: func(p *rawPeer) {
				p.expectMessage(rpOpText, rpASCII(1000))
				p.expectMessage(rpOpBin, rpBytes(1000, 1))
				p.expectPong([]byte("p"))
			}},
		{name: "early/5000-bytes", opts: rpOpts{early: []rpFrame{rpBin(big)}}, run: func(p *rawPeer) {
			p.expectMessage(rpOpBin, big)
		}},
		{name: "early/fragments", opts: rpOpts{early: rpFragments(rpOpText, []byte("frag"), []byte("ment"))}, run: func(p *rawPeer) {
			p.send(rpText("next"))
			p.expectMessage(rpOpText, []byte("fragment"))
			p.expectMessage(rpOpText, []byte("next"))
		}},
		{name: "early/close", opts: rpOpts{early: []rpFrame{rpClose(1000, "early")}}, run: func(p *rawPeer) {
			p.expectClose(1000)
			p.wantErr = rpWantPeerClose(1000)
		}},
		{name: "early/reserved-bits", opts: rpOpts{early: []rpFrame{{Fin: true, Rsv: rpRsv2, Op: rpOpText, Payload: []byte("x")}}}, run: func(p *rawPeer) {
			p.expectClose(1002)
		}},
	}
	rpRunCases(t, cases)
}

// ---- keepalive (RFC 6455 5.5.2: a ping may serve as a keepalive) ----

func TestConformanceKeepalive(t *testing.T) {
	ka := rpOpts{pingInterval: 100 * time.Millisecond, pongTimeout: 150 * time.Millisecond}
	cases := []rpCase{
		{name: "keepalive/answered", opts: ka, run: func(p *rawPeer) {
			for range 2 {
				f := p.next()
				if f.Op != rpOpPing {
					p.t.Fatalf("got %v, want a keepalive ping", f)
				}
				p.send(rpPong(f.Payload))
			}
			p.send(rpText("still here"))
			p.expectMessage(rpOpText, []byte("still here"))
		}},
		{name: "keepalive/silent-peer-dropped", opts: ka, run: func(p *rawPeer) {
			f := p.next()
			if f.Op != rpOpPing {
				p.t.Fatalf("got %v, want a keepalive ping", f)
			}
			start := time.Now()
			for {
				f, err := p.readFrame(2 * time.Second)
				if err == io.EOF {
					break
				}
				if err != nil {
					p.t.Fatalf("waiting for our end to drop the silent peer: %v", err)
				}
				if f.Op != rpOpPing && f.Op != rpOpClose {
					p.t.Fatalf("unexpected frame %v", f)
				}
			}
			if d := time.Since(start); d < 100*time.Millisecond {
				p.t.Fatalf("dropped %v after the ping, before the pong timeout", d)
			}
		}},
	}
	rpRunCases(t, cases)
}

// ---- 12.x / 13.x: permessage-deflate (RFC 7692) ----

// rpDeflateSetup is one negotiated parameter set, for both roles.
type rpDeflateSetup struct {
	name                      string
	ours                      CompressionOptions
	offer, response           string   // raw client's offer, raw server's answer
	wantResp                  []string // params our server must answer with
	peerTakeover, ourTakeover bool
	peerLevel                 int
}

var rpDeflateSetups = []rpDeflateSetup{
	{name: "no-context", offer: "permessage-deflate; client_no_context_takeover",
		response: "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
		wantResp: []string{"server_no_context_takeover", "client_no_context_takeover"}},
	{name: "peer-context", offer: "permessage-deflate", response: "permessage-deflate",
		wantResp: []string{"server_no_context_takeover"}, peerTakeover: true},
	{name: "both-context", ours: CompressionOptions{ContextTakeover: true},
		offer: "permessage-deflate", response: "permessage-deflate",
		peerTakeover: true, ourTakeover: true},
	{name: "window-bits", offer: "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9; client_no_context_takeover",
		response:  "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10",
		wantResp:  []string{"server_max_window_bits=10", "client_max_window_bits=9"},
		peerLevel: flate.HuffmanOnly},
}

func (s rpDeflateSetup) opts() rpOpts {
	ours := s.ours
	return rpOpts{compression: &ours, extOffer: s.offer, extResponse: s.response,
		peerTakeover: s.peerTakeover, ourTakeover: s.ourTakeover, peerLevel: s.peerLevel}
}

// check checks that the extension was agreed as the setup says.
func (s rpDeflateSetup) check(p *rawPeer) {
	p.t.Helper()
	if !p.deflate {
		p.t.Fatalf("%v: permessage-deflate not agreed (extensions header %q)", p.role, p.extSeen)
	}
	if p.role == rpServer {
		for _, w := range s.wantResp {
			if !strings.Contains(p.extSeen, w) {
				p.t.Fatalf("server answered %q, want it to include %s", p.extSeen, w)
			}
		}
		return
	}
	if !strings.HasPrefix(p.extSeen, "permessage-deflate") {
		p.t.Fatalf("client offered %q, want permessage-deflate", p.extSeen)
	}
}

func TestConformanceCompression(t *testing.T) {
	yes := true
	var cases []rpCase
	text := []byte(strings.Repeat("Hello, compressed world! κόσμε 😀 ", 40))
	sizes := []int{0, 1, 127, 128, 1000, 16 << 10, 64<<10 + 1, 100_000}
	for _, s := range rpDeflateSetups {
		cases = append(cases, rpCase{
			// Messages of many sizes, each sent twice so that a kept
			// context is used, echoed compressed.
			name: "12.echo/" + s.name,
			opts: s.opts(),
			run: func(p *rawPeer) {
				s.check(p)
				for _, op := range []byte{rpOpText, rpOpBin} {
					for _, n := range sizes {
						msg := bytes.Repeat(text, n/len(text)+1)[:n]
						if op == rpOpBin {
							msg = append(rpBytes(n/2, uint64(n)), msg[n/2:]...)
						}
						for range 2 {
							wait := p.sendBg(p.wire(p.deflateFrames(op, msg, 1)...), 1<<30)
							p.expectDeflateMessage(op, msg, &yes)
							wait()
						}
					}
				}
			},
		}, rpCase{
			name: "12.fragmented/" + s.name,
			opts: s.opts(),
			run: func(p *rawPeer) {
				s.check(p)
				for _, n := range []int{2, 3, 17} {
					p.send(p.deflateFrames(rpOpText, text, n)...)
					p.expectDeflateMessage(rpOpText, text, &yes)
				}
			},
		}, rpCase{
			name: "12.mixed-with-uncompressed/" + s.name,
			opts: s.opts(),
			run: func(p *rawPeer) {
				s.check(p)
				fs := p.deflateFrames(rpOpText, text, 1)
				fs = append(fs, rpText("plain"), rpPing([]byte("ping")))
				fs = append(fs, p.deflateFrames(rpOpBin, text[:50], 2)...)
				p.send(fs...)
				p.expectDeflateMessage(rpOpText, text, &yes)
				p.expectDeflateMessage(rpOpText, []byte("plain"), &yes)
				p.expectPong([]byte("ping"))
				p.expectDeflateMessage(rpOpBin, text[:50], &yes)
			},
		})
	}
	nc := rpDeflateSetups[0]
	small := nc.opts()
	small.readLimit = 1000
	cases = append(cases, []rpCase{
		{name: "12.whole-message-write-threshold", opts: rpOpts{compression: &CompressionOptions{}, extOffer: nc.offer, extResponse: nc.response,
			serve: rpEchoWhole}, run: func(p *rawPeer) {
			// WriteMessage compresses from 128 bytes on (the default
			// threshold) and sends the rest plain.
			no := false
			nc.check(p)
			p.send(p.deflateFrames(rpOpText, text[:127], 1)...)
			p.expectDeflateMessage(rpOpText, text[:127], &no)
			p.send(p.deflateFrames(rpOpText, text[:128], 1)...)
			p.expectDeflateMessage(rpOpText, text[:128], &yes)
		}},
		{name: "12.final-block", opts: nc.opts(), run: func(p *rawPeer) {
			// RFC 7692 7.2.3.4: a message may end with a BFINAL block.
			var buf bytes.Buffer
			w, _ := flate.NewWriter(&buf, flate.BestSpeed)
			_, _ = w.Write(text)
			_ = w.Close()
			p.send(rpFrame{Fin: true, Rsv: rpRsv1, Op: rpOpText, Payload: buf.Bytes()})
			p.expectDeflateMessage(rpOpText, text, &yes)
		}},
		{name: "12.empty-compressed-payload", opts: nc.opts(), run: func(p *rawPeer) {
			// No bytes at all with RSV1: the appended sync tail alone is
			// an empty message.
			p.send(rpFrame{Fin: true, Rsv: rpRsv1, Op: rpOpText})
			p.expectDeflateMessage(rpOpText, nil, &yes)
		}},
		{name: "12.ping-between-compressed-fragments", opts: nc.opts(), run: func(p *rawPeer) {
			fs := p.deflateFrames(rpOpText, text, 3)
			p.send(fs[0], rpPing([]byte("a")), fs[1], rpPing([]byte("b")))
			p.expectPong([]byte("a"))
			p.expectPong([]byte("b"))
			p.send(fs[2])
			p.expectDeflateMessage(rpOpText, text, &yes)
		}},
		{name: "12.rsv1-on-continuation", opts: nc.opts(), run: func(p *rawPeer) {
			fs := p.deflateFrames(rpOpText, text, 2)
			fs[1].Rsv = rpRsv1
			p.send(fs...)
			p.expectClose(1002)
		}},
		{name: "12.rsv1-on-uncompressed-message-continuation", opts: nc.opts(), run: func(p *rawPeer) {
			fs := rpFragments(rpOpText, []byte("plain"), []byte("text"))
			fs[1].Rsv = rpRsv1
			p.send(fs...)
			p.expectClose(1002)
		}},
		{name: "12.rsv1-on-ping", opts: nc.opts(), run: func(p *rawPeer) {
			p.send(rpFrame{Fin: true, Rsv: rpRsv1, Op: rpOpPing, Payload: []byte{0x00}})
			p.expectClose(1002)
		}},
		{name: "12.rsv1-on-close", opts: nc.opts(), run: func(p *rawPeer) {
			p.send(rpFrame{Fin: true, Rsv: rpRsv1, Op: rpOpClose})
			p.expectClose(1002)
		}},
		{name: "12.rsv2-with-deflate", opts: nc.opts(), run: func(p *rawPeer) {
			fs := p.deflateFrames(rpOpText, text, 1)
			fs[0].Rsv |= rpRsv2
			p.send(fs...)
			p.expectClose(1002)
		}},
		{name: "12.corrupt-data", opts: nc.opts(), run: func(p *rawPeer) {
			p.send(rpFrame{Fin: true, Rsv: rpRsv1, Op: rpOpBin, Payload: []byte{0xff, 0xff, 0xff, 0xff, 0x00}})
			p.expectClose(1007)
			p.wantErr = func(err error) string {
				if CloseStatus(err) != 1007 {
					return fmt.Sprintf("got %v, want a failure with close code 1007", err)
				}
				return ""
			}
		}},
		{name: "12.invalid-utf8-inside", opts: nc.opts(), run: func(p *rawPeer) {
			bad := append(append([]byte(nil), text...), 0xed, 0xa0, 0x80)
			p.send(p.deflateFrames(rpOpText, bad, 1)...)
			p.expectClose(1007)
		}},
		{name: "12.invalid-utf8-fail-fast", opts: nc.opts(), run: func(p *rawPeer) {
			// The first fragment ends with a sync flush: what it inflates
			// to is judged before the rest of the message comes.
			var buf bytes.Buffer
			w, _ := flate.NewWriter(&buf, flate.BestSpeed)
			_, _ = w.Write(append(append([]byte(nil), text[:100]...), 0xc0, 0xaf))
			_ = w.Flush()
			first := bytes.Clone(buf.Bytes())
			buf.Reset()
			_, _ = w.Write(text)
			_ = w.Flush()
			rest := bytes.Clone(buf.Bytes()[:buf.Len()-4])
			p.send(rpFrame{Rsv: rpRsv1, Op: rpOpText, Payload: first})
			p.expectCloseWithin(1007, 3*time.Second)
			p.writeLenient(p.wire(rpFrame{Fin: true, Op: rpOpCont, Payload: rest}))
		}},
		{name: "12.bomb-over-read-limit", opts: small, run: func(p *rawPeer) {
			// 1 MiB of zeros deflates to about 1 KiB: the read limit
			// counts inflated bytes.
			p.writeLenient(p.wire(p.deflateFrames(rpOpBin, make([]byte, 1<<20), 1)...))
			p.expectCloseWithin(1009, 3*time.Second)
		}},
		{name: "12.at-read-limit", opts: small, run: func(p *rawPeer) {
			msg := bytes.Repeat([]byte("z"), 1000)
			p.send(p.deflateFrames(rpOpText, msg, 1)...)
			p.expectDeflateMessage(rpOpText, msg, &yes)
		}},
		{name: "12.declined-invalid-offer", roles: rpOnlyServer,
			opts: rpOpts{compression: &CompressionOptions{}, extOffer: "permessage-deflate; server_max_window_bits=7"},
			run: func(p *rawPeer) {
				if p.deflate || p.extSeen != "" {
					p.t.Fatalf("server accepted an invalid offer: %q", p.extSeen)
				}
				fs := p.deflateFrames(rpOpText, text, 1)
				p.send(fs...)
				p.expectClose(1002)
			}},
		{name: "12.not-configured", roles: rpOnlyServer,
			opts: rpOpts{extOffer: "permessage-deflate; client_no_context_takeover"},
			run: func(p *rawPeer) {
				if p.deflate || p.extSeen != "" {
					p.t.Fatalf("server without Compression accepted %q", p.extSeen)
				}
				p.send(rpText("plain"))
				p.expectMessage(rpOpText, []byte("plain"))
			}},
	}...)
	rpRunCases(t, cases)
}

// TestConformanceRawPeerSelfCheck makes sure the peer's own encoder agrees
// with the RFC's worked examples (section 5.7), so that a failing case
// points at the library, not at the test.
func TestConformanceRawPeerSelfCheck(t *testing.T) {
	hello := rpEncode(rpText("Hello"), false)
	if want := []byte{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}; !bytes.Equal(hello, want) {
		t.Errorf("unmasked Hello = % x, want % x", hello, want)
	}
	b := rpHeader(0x81, true, [4]byte{0x37, 0xfa, 0x21, 0x3d}, 5)
	pl := []byte("Hello")
	for i := range pl {
		pl[i] ^= b[2+i&3]
	}
	if want := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}; !bytes.Equal(append(b, pl...), want) {
		t.Errorf("masked Hello = % x, want % x", append(b, pl...), want)
	}
	if got := rpHeader(0x82, false, [4]byte{}, 256); !bytes.Equal(got, []byte{0x82, 0x7e, 0x01, 0x00}) {
		t.Errorf("256-byte header = % x", got)
	}
	if got := rpHeader(0x82, false, [4]byte{}, 65536); !bytes.Equal(got, []byte{0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}) {
		t.Errorf("64 KiB header = % x", got)
	}
	if got, want := rpAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Errorf("rpAccept = %q, want %q", got, want)
	}
	if got := binary.BigEndian.Uint16(rpClose(1000, "x").Payload); got != 1000 {
		t.Errorf("rpClose code = %d", got)
	}
}
