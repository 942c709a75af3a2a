// Command gen writes the corpora of package corpus into its testdata
// directory: go generate ./internal/corpus (run from the module root, or
// go run ./gen from internal/corpus).
package main

import (
	"log"
	"os"
	"path/filepath"

	"github.com/rfc6455/websocket/internal/corpus"
)

func main() {
	dir := "testdata"
	if _, err := os.Stat(dir); err != nil {
		log.Fatalf("run from internal/corpus: %v", err)
	}
	for _, name := range corpus.Names {
		msgs := corpus.Generate(name)
		if err := os.WriteFile(filepath.Join(dir, name+".msgs"), corpus.Encode(msgs), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
