package interop

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	websocket "github.com/rfc6455/websocket"
)

// upgradeServerEcho serves an echo on a websocket.UpgradeServer (the
// opening handshake answered without an http.Server) with compression on,
// and fallback for the other requests; it returns the listener's address.
// With upgrades the echo is a websocket.Handler served as the
// UpgradeServer's Upgrades (the way handlers written for an http.Server
// move over), else the UpgradeServer's own Handler.
func upgradeServerEcho(t *testing.T, fallback http.Handler, upgrades bool) string {
	t.Helper()
	cfg := websocket.DefaultConfig()
	cfg.Compression = &websocket.CompressionOptions{}
	echo := func(c *websocket.Conn, r *http.Request) {
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, p); err != nil {
				return
			}
		}
	}
	s := &websocket.UpgradeServer{Config: cfg, Handler: echo, Fallback: fallback}
	if upgrades {
		mux := http.NewServeMux()
		mux.Handle("/echo", websocket.Handler(cfg, echo))
		s.Handler, s.Upgrades = nil, mux
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

// upgradeServerModes runs f as a subtest with each way of serving on an
// UpgradeServer.
func upgradeServerModes(t *testing.T, f func(t *testing.T, upgrades bool)) {
	for _, upgrades := range []bool{false, true} {
		name := "Handler"
		if upgrades {
			name = "Upgrades"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, upgrades)
		})
	}
}

// Node's ws client against an UpgradeServer (both ways): text, a 256 KiB binary
// message, both compressed, and a clean close.
func TestNodeClientUpgradeServer(t *testing.T) {
	t.Parallel()
	upgradeServerModes(t, nodeClientUpgradeServer)
}

func nodeClientUpgradeServer(t *testing.T, upgrades bool) {
	node := nodePath(t)
	addr := upgradeServerEcho(t, nil, upgrades)
	script := `
const WebSocket = require('ws');
const ws = new WebSocket(process.argv[1], {perMessageDeflate: true});
const big = Buffer.alloc(256 << 10);
for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
let n = 0;
ws.on('open', () => { ws.send('hello ✓'); ws.send(big); });
ws.on('message', (data, isBinary) => {
  n++;
  if (n === 1 && (isBinary || data.toString() !== 'hello ✓')) { console.log('bad text echo'); process.exit(1); }
  if (n === 2) {
    if (!isBinary || !big.equals(data)) { console.log('bad binary echo'); process.exit(1); }
    console.log('extensions: ' + ws.extensions);
    ws.close(1000, 'bye');
  }
});
ws.on('close', (code) => { console.log('closed ' + code); process.exit(code === 1000 && n === 2 ? 0 : 1); });
ws.on('error', (e) => { console.log('error ' + e.message); process.exit(1); });
`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "-e", script, "ws://"+addr+"/echo")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("extensions: permessage-deflate")) || !bytes.Contains(out, []byte("closed 1000")) {
		t.Fatalf("node output:\n%s", out)
	}
}

// Headless Chromium loads a page from the UpgradeServer's fallback and
// talks WebSocket to the same origin through the UpgradeServer (both
// ways).
func TestBrowserUpgradeServer(t *testing.T) {
	t.Parallel()
	upgradeServerModes(t, browserUpgradeServer)
}

func browserUpgradeServer(t *testing.T, upgrades bool) {
	chromium := chromiumPath(t)
	result := make(chan string, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><script>
const ws = new WebSocket('ws://' + location.host + '/echo');
const big = new Uint8Array(100000).map((_, i) => (i * 13) & 0xff);
let step = 0;
function report(s) { fetch('/result?r=' + encodeURIComponent(s)); }
ws.binaryType = 'arraybuffer';
ws.onopen = () => { ws.send('hello ✓'); };
ws.onmessage = (e) => {
  if (step === 0) {
    if (e.data !== 'hello ✓') { report('bad text ' + e.data); return; }
    step = 1; ws.send(big);
  } else {
    const got = new Uint8Array(e.data);
    if (got.length !== big.length || got.some((b, i) => b !== big[i])) { report('bad binary'); return; }
    ws.close(1000, 'bye');
  }
};
ws.onclose = (e) => report('closed ' + e.code + ' ' + (e.wasClean ? 'clean' : 'unclean') + ' ' + ws.extensions);
ws.onerror = () => report('error');
</script>`)
	})
	mux.HandleFunc("/result", func(w http.ResponseWriter, r *http.Request) {
		select {
		case result <- r.URL.Query().Get("r"):
		default:
		}
	})
	addr := upgradeServerEcho(t, mux, upgrades)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log, _ := startChromium(t, ctx, chromium, fmt.Sprintf("http://%s/page", addr))
	select {
	case got := <-result:
		if !strings.HasPrefix(got, "closed 1000 clean permessage-deflate") {
			t.Fatalf("browser reported %q", got)
		}
	case <-ctx.Done():
		t.Fatalf("no result from the browser in 60s; chromium output (tail):\n%s", log)
	}
}
