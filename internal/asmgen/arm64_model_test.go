package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the static model table in docs/arm64.md")

// loopModel counts one pass of a kernel's four-k loop (fours: … BGE fours)
// in the emitted assembly: instructions, FMLAs, loads (a 128-bit LDP counts
// as two), the bytes they read, and FMLAs per accumulator (its dependency
// chain per pass).
type loopModel struct {
	instrs, fmla, loads, bytes, chain int
}

func neonLoopModel(nv, rows int) loopModel {
	var b bytes.Buffer
	k := neonKernel{nv: nv, rows: rows, buf: &b}
	k.emit()
	body := b.String()
	body = body[strings.Index(body, "fours:\n")+len("fours:\n"):]
	body = body[:strings.Index(body, "BGE fours")+len("BGE fours")]
	var m loopModel
	for _, l := range strings.Split(body, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		m.instrs++
		switch {
		case strings.Contains(l, "// FMLA"):
			m.fmla++
		case strings.HasPrefix(l, "FLDPQ"):
			m.loads += 2
			m.bytes += 32
		case strings.HasPrefix(l, "FMOVQ"):
			m.loads++
			m.bytes += 16
		}
	}
	m.chain = m.fmla / (nv * rows)
	return m
}

// core is a published issue width: instructions decoded per cycle, 128-bit
// FMLA pipes, load pipes and FMLA latency (cycles).
type core struct {
	name                         string
	decode, fmla, loads, latency int
}

var cores = []core{
	{"Neoverse-N1", 4, 2, 2, 4},
	{"Apple M1 (Firestorm)", 8, 4, 3, 4},
}

// fractionOfPeak is the estimated share of the core's FMLA peak the loop
// reaches: the FMLA pipes' cycles over the loop's cycles, the loop taking
// as long as its busiest resource or its accumulators' dependency chains.
func (c core) fractionOfPeak(m loopModel) float64 {
	pipes := float64(m.fmla) / float64(c.fmla)
	cycles := max(pipes, float64(m.instrs)/float64(c.decode), float64(m.loads)/float64(c.loads), float64(m.chain*c.latency))
	return pipes / cycles
}

func modelTable() string {
	var b strings.Builder
	b.WriteString("| kernel (cols×rows) | instructions | FMLA | FMLA share | loads | bytes loaded | FMLA per byte |")
	for _, c := range cores {
		fmt.Fprintf(&b, " %s |", c.name)
	}
	b.WriteString("\n|---|---:|---:|---:|---:|---:|---:|")
	for range cores {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for nv := 4; nv >= 1; nv-- {
		for rows := neonMaxRows(nv); rows >= 1; rows-- {
			if !splitRows(nv)[rows] && rows != 1 {
				continue
			}
			m := neonLoopModel(nv, rows)
			fmt.Fprintf(&b, "| %d×%d | %d | %d | %.0f%% | %d | %d | %.3f |", 4*nv, rows, m.instrs, m.fmla,
				100*float64(m.fmla)/float64(m.instrs), m.loads, m.bytes, float64(m.fmla)/float64(m.bytes))
			for _, c := range cores {
				fmt.Fprintf(&b, " %.0f%% |", 100*c.fractionOfPeak(m))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// splitRows are the row counts of nv-vector kernels that full tiles run:
// runtime's gemmTile1 splits a tile of 14 (32-column panels) or 25 pixels
// (16-column panels) evenly over the fewest calls.
func splitRows(nv int) map[int]bool {
	rows := map[int]bool{}
	for _, mr := range []int{14, 25} {
		n := (mr + neonMaxRows(nv) - 1) / neonMaxRows(nv)
		rows[mr/n] = true
		rows[(mr+n-1)/n] = true
	}
	return rows
}

const (
	modelBegin = "<!-- model table: go test ./internal/asmgen -run NEONModel -update -->\n"
	modelEnd   = "<!-- end of model table -->\n"
)

// TestNEONModelTable keeps docs/arm64.md's table of the kernels' inner
// loops equal to what the generator emits.
func TestNEONModelTable(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "arm64.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, modelBegin), strings.Index(s, modelEnd)
	if i < 0 || j < i {
		t.Fatalf("%s: no model table markers", path)
	}
	want := s[:i+len(modelBegin)] + modelTable() + s[j:]
	if want == s {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s: the model table is stale: run go test ./internal/asmgen -run NEONModel -update", path)
}

// TestNEONLoopModel pins the counts of the widest kernel, worked by hand:
// per pass, 6 A loads, then for each of 4 k two B pairs, 24 FMLAs and the
// B pointer's ADD, then SUB, CMP, BGE.
func TestNEONLoopModel(t *testing.T) {
	got := neonLoopModel(4, 6)
	want := loopModel{instrs: 6 + 4*(2+24+1) + 3, fmla: 96, loads: 6 + 4*2*2, bytes: 6*16 + 4*64, chain: 4}
	if got != want {
		t.Errorf("neonLoopModel(4, 6) = %+v, want %+v", got, want)
	}
}
