// Command client is the client testee for the Autobahn|Testsuite
// fuzzingserver (wstest -m fuzzingserver). It asks the fuzzer how many
// cases there are (GET /getCaseCount, a WebSocket that sends the count as
// one text message), runs each case (/runCase?case=N&agent=A) by echoing
// every data message until the connection ends, and finally asks the
// fuzzer to write its reports (/updateReports?agent=A).
//
// Usage:
//
//	client [-url ws://127.0.0.1:9001] [-agent rfc6455-websocket] [-compress] [-stream] [-case-timeout 10m] [-v]
//
// -compress offers permessage-deflate with context takeover (cases 12.x
// and 13.x need it) and compresses every message; -stream echoes through
// NextReader/NextWriter. Each case is bounded by -case-timeout: the
// fuzzer's own longest wait is 480 s (cases 12.x/13.x).
//
// The exit status is 1 when the case count could not be had, when a case
// could not be opened or ran out of time, or when the reports could not be
// requested; how the cases went is for the fuzzer's report to say.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rfc6455/websocket"
	"github.com/rfc6455/websocket/autobahn/internal/echo"
)

// readLimit bounds one message: Autobahn 9.1.6 and 9.2.6 send 16 MiB.
const readLimit = 64 << 20

// handshakeTimeout bounds each opening handshake with the (local) fuzzer.
const handshakeTimeout = 30 * time.Second

// options configure a run of the client testee.
type options struct {
	URL         string        // the fuzzingserver, ws://host:port
	Agent       string        // the name the reports carry
	Compress    bool          // offer permessage-deflate
	Stream      bool          // echo with NextReader/NextWriter
	CaseTimeout time.Duration // bound on one case, handshake included
	Logf        func(string, ...any)
}

func main() {
	var o options
	flag.StringVar(&o.URL, "url", "ws://127.0.0.1:9001", "fuzzingserver URL")
	flag.StringVar(&o.Agent, "agent", "rfc6455-websocket", "agent name in the reports")
	flag.BoolVar(&o.Compress, "compress", false, "offer permessage-deflate (with context takeover)")
	flag.BoolVar(&o.Stream, "stream", false, "echo with NextReader/NextWriter instead of ReadMessage/WriteMessage")
	flag.DurationVar(&o.CaseTimeout, "case-timeout", 10*time.Minute, "time limit of one case")
	verbose := flag.Bool("v", false, "log how each case ended")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "client: unexpected arguments %q\n", flag.Args())
		flag.Usage()
		os.Exit(2)
	}
	if *verbose {
		o.Logf = log.Printf
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stderr); err != nil {
		log.Printf("client: %v", err)
		os.Exit(1)
	}
}

// run executes every case of the fuzzingserver at o.URL and requests the
// reports; progress goes to progress. It returns an error when the run was
// incomplete (see the command's doc).
func run(ctx context.Context, o options, progress io.Writer) error {
	if o.CaseTimeout <= 0 {
		return errors.New("case timeout must be positive")
	}
	base := strings.TrimSuffix(o.URL, "/")
	n, err := caseCount(ctx, o, base+"/getCaseCount")
	if err != nil {
		return fmt.Errorf("getCaseCount: %w", err)
	}
	fmt.Fprintf(progress, "client: agent %q: running %d cases against %s\n", o.Agent, n, base)
	agent := url.QueryEscape(o.Agent)
	var failed []string
	for i := 1; i <= n; i++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := runCase(ctx, o, fmt.Sprintf("%s/runCase?case=%d&agent=%s", base, i, agent)); err != nil {
			fmt.Fprintf(progress, "client: case %d: %v\n", i, err)
			failed = append(failed, strconv.Itoa(i))
		}
		if i%50 == 0 || i == n {
			fmt.Fprintf(progress, "client: %d/%d cases done\n", i, n)
		}
	}
	if err := updateReports(ctx, o, base+"/updateReports?agent="+agent); err != nil {
		return fmt.Errorf("updateReports: %w", err)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d cases could not run to their end: %s", len(failed), n, strings.Join(failed, " "))
	}
	return nil
}

// dialOptions are the testee's client settings.
func dialOptions(o options, timeout time.Duration) *websocket.DialOptions {
	opts := &websocket.DialOptions{
		Options: websocket.Options{ReadLimit: readLimit},
		// The fuzzer is local: never go through an environment proxy.
		Proxy:            func(*http.Request) (*url.URL, error) { return nil, nil },
		HandshakeTimeout: timeout,
	}
	if o.Compress {
		opts.Compression = &websocket.CompressionOptions{ContextTakeover: true, Threshold: -1}
	}
	return opts
}

// session dials u and bounds the whole connection by o.CaseTimeout (and
// ctx): when it passes, the connection is closed. done must be called when
// finished; it closes the connection and returns the context's error when
// that is what ended the connection, else nil.
func session(ctx context.Context, o options, u string) (c *websocket.Conn, done func() error, err error) {
	ctx, cancel := context.WithTimeout(ctx, o.CaseTimeout)
	c, _, err = websocket.Dial(ctx, u, dialOptions(o, min(o.CaseTimeout, handshakeTimeout)))
	if err != nil {
		cancel()
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.CloseNow() })
	return c, func() error {
		var err error
		if !stop() {
			err = ctx.Err()
		}
		cancel()
		c.CloseNow()
		return err
	}, nil
}

// caseCount reads the number of cases: one text message holding a JSON
// number, then the fuzzer's close.
func caseCount(ctx context.Context, o options, u string) (int, error) {
	c, done, err := session(ctx, o, u)
	if err != nil {
		return 0, err
	}
	defer func() { _ = done() }()
	mt, p, err := c.ReadMessage()
	if err != nil {
		return 0, err
	}
	if mt != websocket.TextMessage {
		return 0, fmt.Errorf("case count came as a %v message", mt)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(p)))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("case count %q is not a number of cases", p)
	}
	// Finish the close handshake the fuzzer starts.
	_ = drain(c)
	return n, nil
}

// drain reads until the connection ends (normally with the peer's close,
// which the library answers) and returns the reason.
func drain(c *websocket.Conn) error {
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return err
		}
	}
}

// runCase runs one case: echo until the connection ends. Whatever ends it
// (close, protocol error, reset) is the fuzzer's to judge; only failing to
// connect and running out of time are errors here.
func runCase(ctx context.Context, o options, u string) error {
	c, done, err := session(ctx, o, u)
	if err != nil {
		return err
	}
	err = echo.Loop(c, o.Stream)
	if cerr := done(); cerr != nil {
		return fmt.Errorf("cut off: %w (echo ended with: %v)", cerr, err)
	}
	if o.Logf != nil {
		o.Logf("%s (compressed=%v): %v", u, c.Compressed(), err)
	}
	return nil
}

// updateReports asks the fuzzer to write the reports for the agent; it
// answers with a close once they are written.
func updateReports(ctx context.Context, o options, u string) error {
	c, done, err := session(ctx, o, u)
	if err != nil {
		return err
	}
	err = drain(c)
	if cerr := done(); cerr != nil {
		return fmt.Errorf("cut off: %w (%v)", cerr, err)
	}
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseNoStatusReceived) {
		return fmt.Errorf("connection ended without a normal close: %w", err)
	}
	return nil
}
