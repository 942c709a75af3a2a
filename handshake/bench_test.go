package handshake

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"testing"
)

func benchRequest(b *testing.B) (*http.Request, int) {
	raw := seedRequest + "Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader([]byte(raw))))
	if err != nil {
		b.Fatal(err)
	}
	return r, len(raw)
}

func BenchmarkServer(b *testing.B) {
	r, n := benchRequest(b)
	cfg := &ServerConfig{Subprotocols: []string{"superchat"}, Deflate: &DeflateOptions{}}
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		if _, err := Server(r, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkServerPlain(b *testing.B) {
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader([]byte(seedRequest + "\r\n"))))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(seedRequest) + 2))
	for b.Loop() {
		if _, err := Server(r, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseExtensions(b *testing.B) {
	v := `permessage-deflate; server_no_context_takeover; client_max_window_bits="10", permessage-deflate; client_max_window_bits, x-foo`
	h := http.Header{"Sec-Websocket-Extensions": {v}}
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, err := ParseExtensions(h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAcceptKey(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(sampleKey)))
	for b.Loop() {
		AcceptKey(sampleKey)
	}
}

func BenchmarkNewClientRequest(b *testing.B) {
	cfg := &ClientConfig{Subprotocols: []string{"chat"}, Deflate: &DeflateOptions{}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := NewClientRequest(context.Background(), "ws://example.com/chat", cfg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyResponse(b *testing.B) {
	resp := response101("Sec-WebSocket-Extensions", "permessage-deflate; server_no_context_takeover; client_max_window_bits=12",
		"Sec-WebSocket-Protocol", "chat")
	cfg := &ClientConfig{Subprotocols: []string{"chat"}, Deflate: &DeflateOptions{}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyResponse(resp, sampleKey, cfg); err != nil {
			b.Fatal(err)
		}
	}
}
