package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/resgen/resgen"
	"github.com/resgen/resgen/diagram"
	"github.com/resgen/resgen/ir"
)

// graph is "resgen graph SPEC [-o FILE.svg] [-after PASS]": an SVG picture
// of the network as the IR stands after PASS (default: the last pass, what
// build compiles).
func (c *cli) graph(args []string) int {
	names := ir.PassNames()
	fs := newFlags("graph", "graph SPEC [-o FILE.svg] [-after PASS]")
	out := fs.String("o", "", "output `file` (default: the spec's base name with .svg, in the working directory; - for stdout)")
	after := fs.String("after", names[len(names)-1], "draw the graph after `PASS` ("+strings.Join(names, ", ")+")")
	path, src, status := c.specArg(fs, args)
	if status >= 0 {
		return status
	}
	svg, err := graphSVG(path, src, *after)
	if err != nil {
		return c.fail(err)
	}
	dst := *out
	if dst == "" {
		base := filepath.Base(path)
		dst = strings.TrimSuffix(base, filepath.Ext(base)) + ".svg"
	}
	if dst == "-" {
		c.stdout.Write(svg)
		return exitOK
	}
	if d := filepath.Dir(dst); d != "." {
		if _, err := os.Stat(d); err != nil {
			return c.fail(fmt.Errorf("-o %s: the directory %s does not exist", dst, d))
		}
	}
	if err := writeFileAtomic(dst, svg); err != nil {
		return c.fail(fmt.Errorf("-o %s: %v", dst, err))
	}
	fmt.Fprintf(c.stdout, "resgen: wrote %s (%d bytes)\n", dst, len(svg))
	return exitOK
}

// graphSVG draws the spec's graph after the named pass. The picture is
// drawn while the pipeline stands at that pass, so later passes never show.
func graphSVG(path string, src []byte, after string) ([]byte, error) {
	names := ir.PassNames()
	if !slices.Contains(names, after) {
		return nil, fmt.Errorf("-after %q: want one of %s", after, strings.Join(names, ", "))
	}
	g, err := resgen.Parse(path, src)
	if err != nil {
		return nil, err
	}
	var svg []byte
	var derr error
	err = ir.Run(g, true, func(pass string, g *ir.Graph) {
		if pass == after {
			svg, derr = diagram.SVG(g, diagram.Options{Pass: pass})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: internal compiler error: %v", path, err)
	}
	if derr != nil {
		return nil, fmt.Errorf("%s: %v", path, derr)
	}
	return svg, nil
}
