// Command wsserver runs one library's comparison server (package servers)
// by hand, for profiling or for another load generator:
//
//	go run ./cmd/wsserver -lib ours -addr 127.0.0.1:9001 -cpuprofile cpu.pprof
//
// It serves /echo, /bcast, /ctl, /stats and /gc until SIGINT or SIGTERM.
package main

import (
	"fmt"
	"os"

	"github.com/rfc6455/websocket/bench/servers"
)

func main() {
	if err := servers.Main(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wsserver:", err)
		os.Exit(1)
	}
}
