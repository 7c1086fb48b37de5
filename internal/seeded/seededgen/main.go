// Command seededgen writes seeded tensors as safetensors so the Python
// reference can check its generator against the Go one byte for byte
// (python3 reference/reference.py selfcheck).
//
// It reads one JSON request from standard input,
//
//	{"seed": 1, "init": "pytorch", "entries": [{"name": "conv1.weight", "shape": [16, 3, 3, 3], "kind": "weight"}, ...]}
//
// with kinds spelled as seeded.Kind.String and the optional init as
// seeded.Init.String (default "seeded"), and writes the file that
// seeded.WriteInit produces to standard output.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/resgen/resgen/internal/seeded"
)

func main() {
	os.Exit(run(os.Stdin, os.Stdout, os.Stderr))
}

func run(stdin io.Reader, stdout, stderr io.Writer) int {
	var req struct {
		Seed    uint64
		Init    string
		Entries []struct {
			Name  string
			Shape []int
			Kind  string
		}
	}
	dec := json.NewDecoder(stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		fmt.Fprintf(stderr, "seededgen: reading request: %v\n", err)
		return 2
	}
	init, err := seeded.ParseInit(req.Init)
	if err != nil {
		fmt.Fprintf(stderr, "seededgen: %v\n", err)
		return 2
	}
	entries := make([]seeded.Entry, len(req.Entries))
	for i, e := range req.Entries {
		k, err := seeded.ParseKind(e.Kind)
		if err != nil {
			fmt.Fprintf(stderr, "seededgen: tensor %q: %v\n", e.Name, err)
			return 2
		}
		entries[i] = seeded.Entry{Name: e.Name, Shape: e.Shape, Kind: k}
	}
	w := bufio.NewWriter(stdout)
	if err := seeded.WriteInit(w, req.Seed, init, entries); err != nil {
		fmt.Fprintf(stderr, "seededgen: %v\n", err)
		return 1
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "seededgen: %v\n", err)
		return 1
	}
	return 0
}
