// Package interop tests github.com/rfc6455/websocket against real, widely
// used peers instead of against itself. It has no API: everything is in its
// tests.
//
//   - TestBrowser starts our server on 127.0.0.1, serving browser.html, and
//     points headless Chromium at it. The page's script uses the browser's
//     own WebSocket for text and binary echo at 0 B, 125 B, 126 B, 64 KiB
//     and 16 MiB without and with permessage-deflate (several parameter
//     sets; the server checks Conn.Compressed), subprotocol selection, and
//     close codes with 123-byte reasons in both directions. The page POSTs
//     each result as JSON; the server checks its own side of every case.
//   - TestNodeClient runs ws-client.js (Node's ws package, the version
//     pinned in package-lock.json) against our server; TestNodeServer
//     dials ws-server.js with our client. Both cover echo at the same
//     sizes, fragmented messages each way (ws's {fin: false} sends, our
//     NextWriter), pings and pongs each way with 125-byte payloads and a
//     ping between the fragments of a message, close codes and reasons
//     each way, and compression on and off with several permessage-deflate
//     parameter sets (context takeover, no_context_takeover, 10-bit
//     windows), checking on the wire that compressed text is smaller.
//   - TestBrowserWasm builds wasm/ (GOOS=js GOARCH=wasm), serves it with
//     Go's wasm_exec.js and runs it in headless Chromium: our Dial, through
//     the browser's own WebSocket, against our server. Echo of text and
//     binary at 0 B, 125 B, 64 KiB and 1 MiB (with and without the
//     browser's compression), NextWriter/NextReader, close codes both
//     ways, subprotocol selection, and the options and pings the browser
//     refuses (ErrNotSupportedInBrowser).
//
// Payloads are deterministic (payload in interop_test.go and payload.js
// compute the same bytes), so each end checks what it receives without
// being told what was sent.
//
// # Running
//
// Install the peers once (Debian, as root: the chromium package when
// /usr/bin/chromium is missing, and npm ci here); make test does this
// itself:
//
//	bash scripts/setup.sh
//	go test -race ./interop/
//
// A missing browser, node or node_modules makes the tests fail with a
// message saying how to install them; they never skip silently.
// Developers without the peers may set WS_INTEROP_SKIP=1 to skip them (CI
// must not). CHROMIUM overrides the browser's path (default
// /usr/bin/chromium); node is found in PATH.
package interop
