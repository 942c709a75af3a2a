package websocket

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sync"
)

// JSON messages.
//
// ReadJSON and WriteJSON have the meaning of gorilla/websocket's and
// Plumego's: one JSON value per message. They stream: ReadJSON reads
// NextReader's reader into a reused buffer for json.Unmarshal, and
// WriteJSON encodes into a NextWriter, so a message is held whole only
// where encoding/json needs it, in buffers that are reused. The Context
// variants bound the call like Read and Write do.

// WriteJSON sends the JSON encoding of v (encoding/json, followed by a
// newline, as gorilla's WriteJSON writes it) as one text message. When v
// cannot be encoded, the encoding error is returned and nothing is sent.
// It is safe for concurrent use, like every write: the message goes out
// whole. With compression negotiated the message is compressed (as every
// NextWriter message; see EnableWriteCompression).
//
// This is also Plumego's Conn.WriteJSON, whose meaning is the same
// (Plumego sends json.Marshal's output, without the newline).
func (c *Conn) WriteJSON(v any) error {
	w := jsonWriter{c: c}
	err := json.NewEncoder(&w).Encode(v)
	if w.w == nil {
		return err // not encodable, or NextWriter failed: nothing sent
	}
	if cerr := w.w.Close(); err == nil {
		err = cerr
	}
	return err
}

// jsonWriter opens the message on the first write, so that an encoding
// error (found before encoding/json writes anything) sends nothing.
type jsonWriter struct {
	c   *Conn
	ctx context.Context // may be nil
	w   io.WriteCloser
}

func (j *jsonWriter) Write(p []byte) (int, error) {
	if j.w == nil {
		w, err := j.c.nextWriter(j.ctx, TextMessage, false)
		if err != nil {
			return 0, err
		}
		j.w = w
	}
	return j.w.Write(p)
}

// ReadJSON reads the next data message (text or binary) and decodes it
// into v with encoding/json, as one JSON value: an empty message is
// io.ErrUnexpectedEOF, and anything but white space after the value is a
// *json.SyntaxError (gorilla's ReadJSON ignores what follows the first
// value). The message streams from NextReader into a buffer reused across
// calls (buffers above 64 KiB are not kept), so a read allocates only
// what decoding into v does. A decoding error leaves the connection
// usable; read errors are those of NextReader.
func (c *Conn) ReadJSON(v any) error {
	_, r, err := c.NextReader()
	if err != nil {
		return err
	}
	bp, _ := jsonBufPool.Get().(*bytes.Buffer)
	if bp == nil {
		bp = new(bytes.Buffer)
	}
	defer func() {
		if bp.Cap() <= jsonBufKeep {
			bp.Reset()
			jsonBufPool.Put(bp)
		}
	}()
	bp.Reset()
	if _, err := bp.ReadFrom(r); err != nil {
		return err
	}
	if bp.Len() == 0 {
		return io.ErrUnexpectedEOF
	}
	return json.Unmarshal(bp.Bytes(), v)
}

// jsonBufPool holds ReadJSON's buffers, up to jsonBufKeep bytes each.
var jsonBufPool sync.Pool

const jsonBufKeep = 64 << 10

// ReadJSONContext is ReadJSON bounded by ctx: if ctx ends first the
// connection is closed (a frame may be half read) and ctx.Err() is
// returned.
func (c *Conn) ReadJSONContext(ctx context.Context, v any) error {
	stop := c.watch(ctx)
	err := c.ReadJSON(v)
	if stop() && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// WriteJSONContext is WriteJSON bounded by ctx: if ctx ends first the
// connection is closed (a frame may be half written) and ctx.Err() is
// returned.
func (c *Conn) WriteJSONContext(ctx context.Context, v any) error {
	stop := c.watch(ctx)
	err := c.WriteJSON(v)
	if stop() && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// BroadcastRoomJSON encodes v once (json.Marshal) and broadcasts it as a
// text message to room, like BroadcastPrepared; it returns the encoding
// error, with a zero BroadcastResult, when v cannot be encoded.
func (h *Hub) BroadcastRoomJSON(room string, v any) (BroadcastResult, error) {
	pm, err := preparedJSON(v)
	if err != nil {
		return BroadcastResult{}, err
	}
	return h.BroadcastPrepared(room, pm), nil
}

// BroadcastAllJSON encodes v once and broadcasts it as a text message to
// every member, like BroadcastAllPrepared.
func (h *Hub) BroadcastAllJSON(v any) (BroadcastResult, error) {
	pm, err := preparedJSON(v)
	if err != nil {
		return BroadcastResult{}, err
	}
	return h.BroadcastAllPrepared(pm), nil
}

func preparedJSON(v any) (*PreparedMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return NewPreparedMessage(TextMessage, b)
}
