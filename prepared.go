package websocket

import (
	"sync"
	"sync/atomic"

	"github.com/rfc6455/websocket/frame"
	"github.com/rfc6455/websocket/internal/deflate"
)

// PreparedMessage is a data message encoded once and written to many
// connections, as a broadcast does. It keeps one encoded frame per
// distinct set of parameters that shape the bytes on the wire
// (uncompressed; compressed at a given level with a full or a limited
// window), made on first use. It is safe for concurrent use.
//
// Connections that cannot share bytes fall back to an ordinary write:
// clients (each frame needs a fresh masking key) and connections that
// compress with context takeover (the output depends on their history).
type PreparedMessage struct {
	mt   MessageType
	op   frame.Opcode
	data []byte

	mu     sync.Mutex
	frames map[prepKey][]byte
	// plain is frames[prepKey{}] once made: the uncompressed frame, read
	// without mu by the many writers of a broadcast.
	plain atomic.Pointer[[]byte]
}

type prepKey struct {
	compressed bool
	level      int
	limited    bool // window below 15 bits: encoded with an 8-bit window
}

// NewPreparedMessage prepares a message of type mt (TextMessage or
// BinaryMessage). data is copied.
func NewPreparedMessage(mt MessageType, data []byte) (*PreparedMessage, error) {
	op, err := dataOpcode(mt)
	if err != nil {
		return nil, err
	}
	return &PreparedMessage{
		mt:     mt,
		op:     op,
		data:   append([]byte(nil), data...),
		frames: make(map[prepKey][]byte, 2),
	}, nil
}

// Type returns the message type.
func (pm *PreparedMessage) Type() MessageType { return pm.mt }

// Data returns the payload. It must not be modified.
func (pm *PreparedMessage) Data() []byte { return pm.data }

func (pm *PreparedMessage) frame(k prepKey) ([]byte, error) {
	if k == (prepKey{}) {
		if b := pm.plain.Load(); b != nil {
			return *b, nil
		}
	}
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if b, ok := pm.frames[k]; ok {
		return b, nil
	}
	h := frame.Header{Fin: true, Opcode: pm.op}
	payload := pm.data
	if k.compressed {
		bits := 15
		if k.limited {
			bits = 8
		}
		enc := deflate.NewEncoder(k.level, bits, false)
		out, err := enc.AppendCompressed(nil, pm.data)
		enc.Release()
		if err != nil {
			return nil, err
		}
		payload = out
		h.Rsv = frame.Rsv1
	}
	h.Length = int64(len(payload))
	b := frame.AppendHeader(make([]byte, 0, h.Size()+len(payload)), h)
	b = append(b, payload...)
	pm.frames[k] = b
	if k == (prepKey{}) {
		pm.plain.Store(&b)
	}
	return b, nil
}

// WritePreparedMessage writes pm to the connection. It is safe for
// concurrent use, like WriteMessage.
func (c *Conn) WritePreparedMessage(pm *PreparedMessage) error {
	return c.WritePreparedMessages(pm)
}

// WritePreparedMessages writes several prepared messages in order, as one
// vectored write when their bytes can be shared (see PreparedMessage),
// else one after another. Safe for concurrent use; the messages are not
// interleaved with other data messages.
func (c *Conn) WritePreparedMessages(pms ...*PreparedMessage) error {
	if err := c.acquireSlot(nil); err != nil {
		return err
	}
	defer c.releaseSlot()
	c.lockFrame(c.writeTimeout())
	defer c.wmu.Unlock()
	if err := c.writable(); err != nil {
		return err
	}
	c.wbound, c.wctl = c.writeTimeout(), false
	ws := c.writeScratch()
	batch := ws.batch[:0]
	for _, pm := range pms {
		b, shared, err := c.preparedFrame(pm)
		if err != nil {
			return err
		}
		if shared {
			batch = append(batch, b)
			continue
		}
		// Not shareable: write what is batched, then this one.
		if err := c.writeBatchLocked(batch); err != nil {
			return err
		}
		batch = batch[:0]
		op, _ := dataOpcode(pm.mt)
		if c.compressing(len(pm.data)) {
			bp, out, cerr := c.compress(pm.data)
			if err = cerr; err == nil {
				err = c.writeFrameLocked(true, frame.Rsv1, op, out)
			}
			putWriteBuf(bp)
		} else {
			err = c.writeFrameLocked(true, 0, op, pm.data)
		}
		if err != nil {
			return c.writeFailed(err)
		}
	}
	err := c.writeBatchLocked(batch)
	clear(batch)
	ws.batch = batch[:0]
	return err
}

// writeBatchLocked writes encoded frames after the pending ones, with one
// vectored write (wmu and the slot held).
func (c *Conn) writeBatchLocked(batch [][]byte) error {
	if len(batch) == 0 {
		return nil
	}
	var err error
	if len(batch) == 1 && len(batch[0]) <= maxCopy {
		if c.pend == nil {
			c.pend = getWriteBuf(len(batch[0]))
		}
		*c.pend = append(*c.pend, batch[0]...)
		err = c.sendPending(true)
	} else if err = c.flushLocked(); err == nil {
		err = c.ncWritev(batch)
	}
	return c.writeFailed(err)
}

// preparedFrame returns pm's frame for this connection, and false when
// the connection cannot share bytes (client masking, compression with
// context takeover).
func (c *Conn) preparedFrame(pm *PreparedMessage) ([]byte, bool, error) {
	if c.role == RoleClient {
		return nil, false, nil
	}
	k := prepKey{}
	if c.compressing(len(pm.data)) {
		d := c.negotiated
		if !d.ServerNoContextTakeover {
			return nil, false, nil
		}
		k = prepKey{compressed: true, level: c.o.compression.level(), limited: d.ServerMaxWindowBits < 15}
	}
	b, err := pm.frame(k)
	return b, err == nil, err
}
