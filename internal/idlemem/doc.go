// Package idlemem checks what an idle server connection costs in goroutine
// stack: an idle connection's reader parks in ReadMessage, and its stack
// stays at the runtime's smallest size (2 KiB) as long as the deepest
// point of the wait, below the caller's frames, leaves room for them. The
// test runs in a process of its own (this package) with the collector off,
// so the runtime's adaptive starting stack size cannot change under it;
// under -race every frame is larger, hence the build tag (make test runs
// this package without -race as well).
package idlemem
