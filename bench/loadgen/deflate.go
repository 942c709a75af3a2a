package loadgen

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rfc6455/websocket/internal/corpus"
)

// Compressed workloads: the same shapes as echo-pipelined, idle and
// broadcast, over permessage-deflate (RFC 7692). The servers run with
// -deflate (context takeover where the library has it); the client offers
// "permessage-deflate; client_no_context_takeover", so that the frames it
// sends can be compressed once (compress/flate, level 1) and re-sent, and
// inflates every reply, with the server's context when the server keeps
// one, checking it against what it sent. The messages are the chat corpus
// of internal/corpus (2,000 JSON chat messages of 50-300 bytes), in
// order, so that a server with context takeover sees realistic repeats.
const (
	EchoDeflate      = "echo-deflate"
	IdleDeflate      = "idle-deflate"
	IdleDeflateFull  = "idle-deflate-full"
	BroadcastDeflate = "broadcast-deflate"
)

// DeflateWorkloads lists the compressed workloads. They are not in
// Workloads (the default run); name them with -workloads. gobwas/ws is
// not set up for compression: its runs fail the handshake check.
var DeflateWorkloads = []string{EchoDeflate, IdleDeflate, IdleDeflateFull, BroadcastDeflate}

const (
	mWireMsg = "wire/msg" // compressed payload bytes from the server per message
)

func init() {
	workloadFuncs[EchoDeflate] = echoDeflate
	workloadFuncs[IdleDeflate] = func(ctx context.Context, e *env) (measurement, error) { return idleDeflate(ctx, e, false) }
	workloadFuncs[IdleDeflateFull] = func(ctx context.Context, e *env) (measurement, error) { return idleDeflate(ctx, e, true) }
	workloadFuncs[BroadcastDeflate] = broadcastDeflate
	metricDefs[EchoDeflate] = []metricDef{
		{mRate, "messages/s", fmtInt},
		{mWireMsg, "server bytes on the wire / message", fmtDec(1)},
		{mCPUPerOp, "server CPU µs / message", fmtDec(2)},
		{mCPU, "server CPU s", fmtDec(2)},
	}
	metricDefs[IdleDeflate] = metricDefs[Idle]
	metricDefs[IdleDeflateFull] = metricDefs[Idle]
	metricDefs[BroadcastDeflate] = []metricDef{
		{mRate, "deliveries/s", fmtInt},
		{mWireMsg, "server bytes on the wire / delivery", fmtDec(1)},
		{mCPUPerOp, "server CPU µs / delivery", fmtDec(3)},
		{mCPU, "server CPU s", fmtDec(2)},
	}
}

// serverArgs returns the extra server flags a workload needs.
func serverArgs(workload string) []string {
	for _, w := range DeflateWorkloads {
		if w == workload {
			return []string{"-deflate"}
		}
	}
	return nil
}

const deflateOffer = "permessage-deflate; client_no_context_takeover"

// chatFrames is the chat corpus, each message compressed on its own and
// framed as a masked text frame with RSV1 (built once per process).
var chatFrames = sync.OnceValues(func() ([][]byte, [][]byte) {
	msgs := corpus.MustLoad("chat")
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	key := randomKey()
	frames := make([][]byte, len(msgs))
	for i, m := range msgs {
		buf.Reset()
		fw.Reset(&buf)
		_, _ = fw.Write(m)
		_ = fw.Flush()
		p := bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
		f := maskedFrame(0x1, p, key)
		f[0] |= 0x40 // RSV1: compressed
		frames[i] = f
	}
	return msgs, frames
})

// inflateTail ends a message's DEFLATE data: the sync tail the sender
// removed, then an empty final block, so that the reader ends with io.EOF.
var inflateTail = []byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}

// inflater decompresses one connection's server messages: with the
// server's context (the last 32 KiB it sent, compressed messages only)
// when the server kept it.
type inflater struct {
	takeover bool
	hist     []byte
	fr       io.ReadCloser
	src      bytes.Reader
	in, out  []byte
}

var frPool sync.Pool

// inflate returns the message whose compressed payload is p (valid until
// the next call).
func (f *inflater) inflate(p []byte) ([]byte, error) {
	f.in = append(append(f.in[:0], p...), inflateTail...)
	f.src.Reset(f.in)
	var dict []byte
	if f.takeover {
		dict = f.hist
	}
	if f.fr == nil {
		if fr, ok := frPool.Get().(io.ReadCloser); ok {
			f.fr = fr
		} else {
			f.fr = flate.NewReader(nil)
		}
	}
	if err := f.fr.(flate.Resetter).Reset(&f.src, dict); err != nil {
		return nil, err
	}
	f.out = f.out[:0]
	for {
		if len(f.out) == cap(f.out) {
			f.out = append(f.out, 0)[:len(f.out)]
		}
		n, err := f.fr.Read(f.out[len(f.out):cap(f.out)])
		f.out = f.out[:len(f.out)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: inflate: %v", ErrBadFrame, err)
		}
		if len(f.out) > 1<<20 {
			return nil, fmt.Errorf("%w: inflated message over 1 MiB", ErrBadFrame)
		}
	}
	if f.takeover {
		f.hist = append(f.hist, f.out...)
		if len(f.hist) > 64<<10 {
			f.hist = append(f.hist[:0], f.hist[len(f.hist)-32<<10:]...)
		}
	}
	return f.out, nil
}

// release drops the connection's decompression state.
func (f *inflater) release() {
	if f.fr != nil {
		frPool.Put(f.fr)
	}
	*f = inflater{}
}

// dclient is a client connection with permessage-deflate negotiated.
type dclient struct {
	*client
	inf  inflater
	wire int64 // payload bytes of the server's data frames

	frag     []byte // payload of a fragmented message so far
	fragging bool   // inside a fragmented message
	fragComp bool   // which is compressed
}

// dialDeflate is dial with the permessage-deflate offer; the response
// must accept it.
func dialDeflate(ctx context.Context, addr string, local net.IP, path string, bufSize int) (*dclient, error) {
	cl, head, err := dialHead(ctx, addr, local, path, bufSize, "Sec-WebSocket-Extensions: "+deflateOffer+"\r\n")
	if err != nil {
		return nil, err
	}
	ext := ""
	for _, l := range strings.Split(head, "\r\n") {
		if name, value, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "Sec-WebSocket-Extensions") {
			ext += value
		}
	}
	if !strings.Contains(ext, "permessage-deflate") {
		cl.nc.Close()
		return nil, fmt.Errorf("%w: permessage-deflate not accepted (Sec-WebSocket-Extensions %q)", ErrHandshake, ext)
	}
	c := &dclient{client: cl}
	c.inf.takeover = !strings.Contains(ext, "server_no_context_takeover")
	return c, nil
}

// parseDeflate consumes the complete data messages at the front of the
// buffer, inflating compressed ones, and checks message i against
// want(i) for i counting from the first; it returns how many it consumed.
func (c *dclient) parseDeflate(want func(i int) []byte) (int, error) {
	count := 0
	for {
		b := c.buf[c.r:c.w]
		var h [14]byte
		k := copy(h[:], b)
		rsv1 := k > 0 && h[0]&0x40 != 0
		h[0] &^= 0x40
		hlen, op, fin, n, err := frameHeader(h[:k])
		if err != nil {
			return count, err
		}
		if hlen == 0 || int64(len(b)-hlen) < n {
			if hlen > 0 && int64(hlen)+n > int64(len(c.buf)) {
				return count, fmt.Errorf("%w: %d-byte frame exceeds the %d-byte read buffer", ErrBadFrame, n, len(c.buf))
			}
			return count, nil
		}
		payload := b[hlen : hlen+int(n)]
		c.r += hlen + int(n)
		switch {
		case op == 0x9 || op == 0xA:
			continue
		case op == 0x8:
			return count, fmt.Errorf("%w: %x", ErrServerClose, payload)
		case (op == 0x1 || op == 0x2) && !c.fragging, op == 0 && c.fragging && !rsv1:
		default:
			return count, fmt.Errorf("%w: opcode %#x (rsv1 %v, in a fragmented message %v)", ErrBadFrame, op, rsv1, c.fragging)
		}
		c.wire += int64(len(payload))
		if op != 0 && !fin {
			c.fragging, c.fragComp = true, rsv1
			c.frag = append(c.frag[:0], payload...)
			continue
		}
		if op == 0 {
			c.frag = append(c.frag, payload...)
			if !fin {
				continue
			}
			payload, rsv1 = c.frag, c.fragComp
			c.fragging = false
		}
		msg := payload
		if rsv1 {
			if msg, err = c.inf.inflate(payload); err != nil {
				return count, err
			}
		}
		if w := want(count); !bytes.Equal(msg, w) {
			return count, fmt.Errorf("%w: got %d bytes, want %d", ErrBadEcho, len(msg), len(w))
		}
		count++
	}
}

// readDeflate blocks until at least one whole message is parsed, then
// returns all whole messages buffered (see parseDeflate).
func (c *dclient) readDeflate(want func(i int) []byte) (int, error) {
	for {
		n, err := c.parseDeflate(want)
		if n > 0 || err != nil {
			return n, err
		}
		if c.r == c.w {
			c.r, c.w = 0, 0
		} else if c.r > 0 && len(c.buf)-c.w < 4096 {
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		}
		m, err := c.nc.Read(c.buf[c.w:])
		c.w += m
		if m == 0 && err != nil {
			return 0, err
		}
	}
}

// dialManyDeflate opens n compressed connections to path, up to workers
// at a time, each from its source address, and runs setup on each.
func (e *env) dialManyDeflate(ctx context.Context, n, workers int, path string, bufSize int, setup func(*dclient) error) ([]*dclient, error) {
	ip := sourceIPs(n)
	cs := make([]*dclient, n)
	var next atomic.Int64
	var fe firstError
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := dialDeflate(ctx, e.srv.addr, ip(i), path, bufSize)
				if err == nil && setup != nil {
					if dl, ok := ctx.Deadline(); ok {
						_ = c.nc.SetDeadline(dl)
					}
					err = setup(c)
					_ = c.nc.SetDeadline(noDeadline)
				}
				if err != nil {
					fe.set(fmt.Errorf("loadgen: connection %d of %d to %s: %w", i, n, path, err))
					if c != nil {
						c.close()
					}
					cancel()
					return
				}
				cs[i] = c
			}
		}()
	}
	wg.Wait()
	plain := make([]*client, 0, n)
	for _, c := range cs {
		if c != nil {
			plain = append(plain, c.client)
		}
	}
	e.deferClose(plain)
	if err := fe.get(); err != nil {
		return nil, err
	}
	return cs, nil
}

// echoDeflate: PipeConns compressed connections, each keeping PipeDepth
// chat messages in flight (the corpus in order, from a different place
// for each connection): messages per second, and the server's compressed
// bytes per message.
func echoDeflate(ctx context.Context, e *env) (measurement, error) {
	msgs, frames := chatFrames()
	cs, err := e.dialManyDeflate(ctx, e.cfg.PipeConns, 8, "/echo", 64<<10, nil)
	if err != nil {
		return nil, err
	}
	var measuring, stop atomic.Bool
	var fe firstError
	counts := make([]paddedCount, len(cs))
	wires := make([]paddedCount, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		_ = c.nc.SetDeadline(e.clientDeadline())
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent, recv := i*97, i*97 // corpus positions
			var batch []byte
			send := func(n int) error {
				batch = batch[:0]
				for range n {
					batch = append(batch, frames[sent%len(frames)]...)
					sent++
				}
				_, err := c.nc.Write(batch)
				return err
			}
			if err := send(e.cfg.PipeDepth); err != nil {
				fe.set(err)
				return
			}
			total := 0
			for !stop.Load() && total < e.cfg.MaxOps {
				wire0 := c.wire
				n, err := c.readDeflate(func(k int) []byte { return msgs[(recv+k)%len(msgs)] })
				if err != nil {
					if !stop.Load() {
						fe.set(err)
					}
					return
				}
				recv += n
				total += n
				if measuring.Load() {
					counts[i].n += int64(n)
					wires[i].n += c.wire - wire0
				}
				if err := send(n); err != nil {
					if !stop.Load() {
						fe.set(err)
					}
					return
				}
			}
		}()
	}
	elapsed, cpu, werr := e.window(ctx, &measuring, &stop)
	for _, c := range cs {
		_ = c.nc.SetReadDeadline(time.Now())
	}
	wg.Wait()
	if err := fe.get(); err != nil {
		return nil, err
	}
	if werr != nil {
		return nil, werr
	}
	var n, wire int64
	for i := range counts {
		n += counts[i].n
		wire += wires[i].n
	}
	if n == 0 {
		return nil, errors.New("loadgen: no message echoed in the window")
	}
	return measurement{
		mRate:     float64(n) / elapsed.Seconds(),
		mWireMsg:  float64(wire) / float64(n),
		mCPU:      cpu.Seconds(),
		mCPUPerOp: us(cpu) / float64(n),
	}, nil
}

// fullFrame is one message of chat lines, over 40 KiB: enough to fill a
// 32 KiB window both ways.
var fullFrame = sync.OnceValues(func() ([]byte, []byte) {
	msgs, _ := chatFrames()
	var m []byte
	for i := 0; len(m) < 40<<10; i++ {
		m = append(append(m, msgs[i]...), '\n')
	}
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	_, _ = fw.Write(m)
	_ = fw.Flush()
	f := maskedFrame(0x1, bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff}), randomKey())
	f[0] |= 0x40
	return m, f
})

// idleDeflate: IdleConns compressed connections, each of which sends one
// chat message (full: one 40 KiB message of chat lines, which fills the
// windows), reads the compressed echo back and then stays idle: the
// server's RSS per connection (so with context takeover, what a server
// keeps for a connection that has sent and received once), and the
// handshake rate.
func idleDeflate(ctx context.Context, e *env, full bool) (measurement, error) {
	msgs, frames := chatFrames()
	if full {
		m, f := fullFrame()
		msgs, frames = [][]byte{m}, [][]byte{f}
	}
	var seq atomic.Int64
	r, err := e.idleRun(ctx, func() (int, error) {
		cs, err := e.dialManyDeflate(ctx, e.cfg.IdleConns, e.cfg.IdleDialers, "/echo", 64<<10, func(c *dclient) error {
			k := int(seq.Add(1)) % len(msgs)
			if _, err := c.nc.Write(frames[k]); err != nil {
				return err
			}
			_, err := c.readDeflate(func(int) []byte { return msgs[k] })
			c.inf.release()
			if err == nil && c.r != c.w {
				err = fmt.Errorf("%w: more than one reply", ErrBadFrame)
			}
			c.buf, c.frag = nil, nil
			return err
		})
		return len(cs), err
	})
	if err != nil {
		return nil, err
	}
	return r.measurement(), nil // CPU per handshake and echo
}

// broadcastDeflate: BcastMembers compressed connections receive every
// message a compressed control connection sends (the chat corpus in
// order), BcastInFlight broadcasts outstanding; each member inflates and
// checks every message: deliveries per second and the server's compressed
// bytes per delivery.
func broadcastDeflate(ctx context.Context, e *env) (measurement, error) {
	msgs, frames := chatFrames()
	m := e.cfg.BcastMembers
	members, err := e.dialManyDeflate(ctx, m, 16, "/bcast", 16<<10, nil)
	if err != nil {
		return nil, err
	}
	if err := e.srv.waitCounts(int64(m), int64(m), 30*time.Second); err != nil {
		return nil, err
	}
	ctls, err := e.dialManyDeflate(ctx, 1, 1, "/ctl", 4096, nil)
	if err != nil {
		return nil, err
	}
	ctl := ctls[0]
	_ = ctl.nc.SetDeadline(e.clientDeadline())

	t := newBcastTracker(m, e.cfg.BcastInFlight)
	wires := make([]paddedCount, m)
	var fe firstError
	var wg sync.WaitGroup
	for i, c := range members {
		_ = c.nc.SetDeadline(e.clientDeadline())
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq := 0
			for {
				wire0 := c.wire
				n, err := c.readDeflate(func(k int) []byte { return msgs[(seq+k)%len(msgs)] })
				if err != nil {
					if !t.stop.Load() {
						fe.set(err)
					}
					return
				}
				if t.measuring.Load() {
					wires[i].n += c.wire - wire0
				}
				t.received(n, &seq)
			}
		}()
	}
	done, elapsed, cpu, derr, werr := t.drive(ctx, e, func(k int) error {
		_, err := ctl.nc.Write(frames[k%len(frames)])
		return err
	})
	for _, c := range members {
		_ = c.nc.SetReadDeadline(time.Now())
	}
	wg.Wait()
	if derr != nil {
		return nil, derr
	}
	if err := fe.get(); err != nil {
		return nil, err
	}
	if werr != nil {
		return nil, werr
	}
	deliveries := float64(done) * float64(m)
	if deliveries == 0 {
		return nil, errors.New("loadgen: no broadcast completed in the window")
	}
	var wire int64
	for i := range wires {
		wire += wires[i].n
	}
	return measurement{
		mRate:     deliveries / elapsed.Seconds(),
		mWireMsg:  float64(wire) / deliveries,
		mCPU:      cpu.Seconds(),
		mCPUPerOp: us(cpu) / deliveries,
	}, nil
}
