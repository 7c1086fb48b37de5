package diagram

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/resgen/resgen"
	"github.com/resgen/resgen/ir"
	"github.com/resgen/resgen/spec"
)

var update = flag.Bool("update", false, "rewrite golden files")

// drawn is a diagram and its SVG, made while the pipeline stood at a pass.
type drawn struct {
	d   *diagram
	svg []byte
}

// drawAfter lowers src, runs the inference passes and draws the graph after
// the named pass (as resgen graph does), checking that drawing leaves the
// graph as it was.
func drawAfter(t *testing.T, filename string, src []byte, pass string, opt Options) drawn {
	t.Helper()
	g, err := resgen.Parse(filename, src)
	if err != nil {
		t.Fatal(err)
	}
	var out drawn
	found := false
	err = ir.Run(g, true, func(p string, g *ir.Graph) {
		if p != pass {
			return
		}
		found = true
		before := ir.Format(g)
		opt.Pass = p
		d, err := build(g, opt)
		if err != nil {
			t.Fatal(err)
		}
		out = drawn{d, render(d)}
		if after := ir.Format(g); after != before {
			t.Errorf("drawing changed the graph (-before +after):\n%s", cmp.Diff(before, after))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("no pass %q", pass)
	}
	return out
}

func preset(t *testing.T, name string) []byte {
	t.Helper()
	src, err := spec.Preset(name, spec.PresetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func lastPass() string {
	names := ir.PassNames()
	return names[len(names)-1]
}

// TestGolden: testdata/CASE/spec.yaml drawn after the pass named in
// testdata/CASE/pass (default the last) is testdata/CASE/want.svg.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "spec.yaml"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, sp := range dirs {
		dir := filepath.Dir(sp)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(sp)
			if err != nil {
				t.Fatal(err)
			}
			pass := lastPass()
			if b, err := os.ReadFile(filepath.Join(dir, "pass")); err == nil {
				pass = strings.TrimSpace(string(b))
			}
			got := drawAfter(t, "spec.yaml", src, pass, Options{})
			for _, p := range checkLayout(got.d) {
				t.Error(p)
			}
			checkXML(t, got.svg)
			want := filepath.Join(dir, "want.svg")
			if *update {
				if err := os.WriteFile(want, got.svg, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(b), string(got.svg)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", want, diff)
			}
		})
	}
}

// TestPresets draws every preset after lowering and after the last pass:
// well-formed XML, nothing overlapping, totals as resgen summary counts them.
func TestPresets(t *testing.T) {
	for _, p := range spec.Presets() {
		t.Run(p.Name, func(t *testing.T) {
			src := preset(t, p.Name)
			sum, err := resgen.Summarize(p.Name+".yaml", src)
			if err != nil {
				t.Fatal(err)
			}
			for _, pass := range []string{"lower", lastPass()} {
				got := drawAfter(t, p.Name+".yaml", src, pass, Options{})
				for _, prob := range checkLayout(got.d) {
					t.Errorf("after %s: %s", pass, prob)
				}
				checkXML(t, got.svg)
				want := fmt.Sprintf("%s · %s params · %s MACs", sum.Name, grouped(sum.Params), shortCount(sum.MACs))
				if got.d.Title != want {
					t.Errorf("after %s: title %q, want %q", pass, got.d.Title, want)
				}
			}
		})
	}
}

// TestFold: ResNet-152's layer3 (36 blocks) is block 0, block 1 and one
// folded box for the other 34; with Fold < 0 every node has its own box.
func TestFold(t *testing.T) {
	src := preset(t, "resnet152")
	d := drawAfter(t, "resnet152.yaml", src, lastPass(), Options{}).d
	var folds []string
	for _, b := range d.Boxes {
		if b.Kind == kindFold {
			folds = append(folds, b.Lines[0]+" "+b.Lines[1])
		}
	}
	want := []string{"layer2.2 … layer2.7 ×6 blocks like layer2.1", "layer3.2 … layer3.35 ×34 blocks like layer3.1"}
	if diff := cmp.Diff(want, folds); diff != "" {
		t.Errorf("folded boxes (-want +got):\n%s", diff)
	}
	g, err := resgen.Parse("resnet152.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	d, err = build(g, Options{Fold: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Boxes) != len(g.Nodes) {
		t.Errorf("Fold -1: %d boxes for %d nodes", len(d.Boxes), len(g.Nodes))
	}
	for _, p := range checkLayout(d) {
		t.Error(p)
	}
}

// TestShortcuts: ResNet-50's side boxes are exactly its projection
// shortcuts, each block's shortcut is an arc of the right class, and
// U-Net's skips are its four concats' first inputs.
func TestShortcuts(t *testing.T) {
	d := drawAfter(t, "resnet50.yaml", preset(t, "resnet50"), lastPass(), Options{}).d
	var side []string
	count := map[string]int{}
	for _, b := range d.Boxes {
		if b.Side {
			side = append(side, b.Lines[0])
		}
	}
	for _, e := range d.Edges {
		count[e.Class]++
	}
	wantSide := []string{"layer1.0.downsample.0", "layer2.0.downsample.0", "layer3.0.downsample.0", "layer4.0.downsample.0"}
	if diff := cmp.Diff(wantSide, side); diff != "" {
		t.Errorf("side boxes (-want +got):\n%s", diff)
	}
	// 16 blocks: 4 projections (into and out of the side box), 12 identities.
	if count[edgeProjection] != 8 || count[edgeIdentity] != 12 || count[edgeSkip] != 0 || count[edgeOther] != 0 {
		t.Errorf("edges by class %v, want 8 projection, 12 identity", count)
	}
	u := drawAfter(t, "unet.yaml", preset(t, "unet"), lastPass(), Options{}).d
	var skips []string
	for _, e := range u.Edges {
		if e.Class == edgeSkip {
			skips = append(skips, e.From.Lines[0]+" → "+e.To.Lines[0])
			if e.From.midY() != e.To.midY() || e.From.X >= e.To.X {
				t.Errorf("skip %s → %s is not straight across", e.From.Lines[0], e.To.Lines[0])
			}
		}
		if e.Class != edgeSkip && e.Class != edgeFlow {
			t.Errorf("unet edge %s → %s of class %s", e.From.Lines[0], e.To.Lines[0], e.Class)
		}
	}
	wantSkips := []string{
		"down3.maxpool_conv.1.double_conv.3 → up1.cat",
		"down2.maxpool_conv.1.double_conv.3 → up2.cat",
		"down1.maxpool_conv.1.double_conv.3 → up3.cat",
		"inc.double_conv.3 → up4.cat",
	}
	if diff := cmp.Diff(wantSkips, skips); diff != "" {
		t.Errorf("skips (-want +got):\n%s", diff)
	}
	// The U: the encoder left of the bottleneck, the decoder right of it,
	// the bottleneck below both.
	at := map[string]*box{}
	for _, b := range u.Boxes {
		at[b.Lines[0]] = b
	}
	enc, bott, dec := at["down3.maxpool_conv.1.double_conv.3"], at["down4.maxpool_conv.1.double_conv.0"], at["up1.cat"]
	if !(enc.right() < bott.X && bott.right() < dec.X && bott.Y > enc.bottom() && bott.Y > dec.bottom()) {
		t.Errorf("not a U: encoder %+v, bottleneck %+v, decoder %+v", *enc, *bott, *dec)
	}
}

func TestEmptyGraph(t *testing.T) {
	if _, err := SVG(&ir.Graph{}, Options{}); err == nil {
		t.Error("SVG of an empty graph: no error")
	}
}

func TestCounts(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1.00k", 9540: "9.54k", 148000: "148k", 2359296: "2.36M", 4089184256: "4.09G"} {
		if got := shortCount(n); got != want {
			t.Errorf("shortCount(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{7: "7", 1000: "1,000", 25557032: "25,557,032"} {
		if got := grouped(n); got != want {
			t.Errorf("grouped(%d) = %q, want %q", n, got, want)
		}
	}
}

// checkXML decodes the whole document.
func checkXML(t *testing.T, svg []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	depth, root := 0, ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				root = tok.Name.Local
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if root != "svg" || depth != 0 {
		t.Fatalf("root element %q, depth at end %d", root, depth)
	}
}

type rect struct{ x, y, w, h int }

func (a rect) overlaps(b rect, gap int) bool {
	return a.x < b.x+b.w+gap && b.x < a.x+a.w+gap && a.y < b.y+b.h+gap && b.y < a.y+a.h+gap
}

func (a rect) inside(b rect) bool {
	return a.x >= b.x && a.y >= b.y && a.x+a.w <= b.x+b.w && a.y+a.h <= b.y+b.h
}

// segRect is an orthogonal segment as a rectangle one pixel thick.
func segRect(a, b pt) rect {
	x, y := min(a.x, b.x), min(a.y, b.y)
	return rect{x, y, max(a.x, b.x) - x + 1, max(a.y, b.y) - y + 1}
}

func boxRect(b *box) rect {
	if b.Kind == kindFold {
		return rect{b.X, b.Y - 8, b.W, b.H + 8} // the stacked cards behind it
	}
	return rect{b.X, b.Y, b.W, b.H}
}

// checkLayout lists what is wrong with a placed diagram: boxes or bands
// that overlap, text wider than its box or band, a box outside every band
// or under a band's label, anything off the page.
func checkLayout(d *diagram) []string {
	var probs []string
	page := rect{0, 0, d.W, d.H}
	top := d.H
	for i, a := range d.Boxes {
		ra := boxRect(a)
		top = min(top, ra.y)
		if !ra.inside(page) {
			probs = append(probs, fmt.Sprintf("box %s %+v off the page %dx%d", a.Lines[0], ra, d.W, d.H))
		}
		if w := boxTextWidth(a); w > a.W {
			probs = append(probs, fmt.Sprintf("box %s: text %d px wide in %d", a.Lines[0], w, a.W))
		}
		for _, b := range d.Boxes[i+1:] {
			if ra.overlaps(boxRect(b), 4) {
				probs = append(probs, fmt.Sprintf("boxes %s %+v and %s %+v overlap", a.Lines[0], ra, b.Lines[0], boxRect(b)))
			}
		}
		in := false
		for _, bd := range d.Bands {
			if ra.inside(rect{bd.X, bd.Y, bd.W, bd.H}) {
				in = true
			}
		}
		if !in {
			probs = append(probs, fmt.Sprintf("box %s %+v in no band", a.Lines[0], ra))
		}
	}
	for i, a := range d.Bands {
		ra := rect{a.X, a.Y, a.W, a.H}
		top = min(top, ra.y)
		if !ra.inside(page) {
			probs = append(probs, fmt.Sprintf("band %s off the page", a.Label))
		}
		lw := max(textWidth(a.Label, labelSize), textWidth(a.Sub, textSize))
		if lw > a.W-2*bandPad {
			probs = append(probs, fmt.Sprintf("band %s: label %d px wide in %d", a.Label, lw, a.W))
		}
		label := rect{a.X + bandPad, a.Y, lw, 34}
		for _, b := range d.Boxes {
			if label.overlaps(boxRect(b), 2) {
				probs = append(probs, fmt.Sprintf("band label %s over box %s", a.Label, b.Lines[0]))
			}
		}
		for _, b := range d.Bands[i+1:] {
			if ra.overlaps(rect{b.X, b.Y, b.W, b.H}, 4) {
				probs = append(probs, fmt.Sprintf("bands %s and %s overlap", a.Label, b.Label))
			}
		}
	}
	for _, e := range d.Edges {
		if e.Path == "" {
			probs = append(probs, fmt.Sprintf("edge %s → %s not routed", e.From.Lines[0], e.To.Lines[0]))
		}
		// An orthogonal arrow passes through no box but its ends, and
		// through no band label.
		for i := 1; i < len(e.pts); i++ {
			seg := segRect(e.pts[i-1], e.pts[i])
			for _, b := range d.Boxes {
				if b == e.From || b == e.To {
					continue
				}
				r := boxRect(b)
				if seg.overlaps(rect{r.x + 1, r.y + 1, r.w - 2, r.h - 2}, -1) {
					probs = append(probs, fmt.Sprintf("%s edge %s → %s crosses box %s", e.Class, e.From.Lines[0], e.To.Lines[0], b.Lines[0]))
				}
			}
			for _, bd := range d.Bands {
				lw := max(textWidth(bd.Label, labelSize), textWidth(bd.Sub, textSize))
				if seg.overlaps(rect{bd.X + bandPad, bd.Y + 4, lw, 30}, -1) {
					probs = append(probs, fmt.Sprintf("%s edge %s → %s crosses the label of band %s", e.Class, e.From.Lines[0], e.To.Lines[0], bd.Label))
				}
			}
		}
		if e.Label == "" {
			continue
		}
		w := textWidth(e.Label, textSize)
		lr := rect{e.LX - w/2, e.LY - 10, w, 13}
		for _, b := range d.Boxes {
			if lr.overlaps(boxRect(b), 2) {
				probs = append(probs, fmt.Sprintf("edge label %s over box %s", e.Label, b.Lines[0]))
			}
		}
	}
	for _, l := range d.legend {
		if l.X+legendSwatch+textWidth(l.Caption, 12) > d.W || l.Y+4 > top {
			probs = append(probs, fmt.Sprintf("legend %q at %d,%d outside the header", l.Caption, l.X, l.Y))
		}
	}
	return probs
}

// TestCheckLayoutCatches: the layout check finds what it is meant to find.
func TestCheckLayoutCatches(t *testing.T) {
	src := preset(t, "cifar-resnet20")
	for name, spoil := range map[string]func(d *diagram){
		"overlap":    func(d *diagram) { d.Boxes[2].Y = d.Boxes[1].Y + 10 },
		"wide text":  func(d *diagram) { d.Boxes[1].Lines[1] += strings.Repeat("x", 40) },
		"off page":   func(d *diagram) { d.W = 100 },
		"no band":    func(d *diagram) { d.Bands = d.Bands[1:] },
		"band label": func(d *diagram) { d.Bands[1].Y = d.Boxes[len(d.Boxes)-1].Y },
	} {
		d := drawAfter(t, "c.yaml", src, lastPass(), Options{}).d
		if p := checkLayout(d); len(p) != 0 {
			t.Fatalf("before spoiling: %v", p)
		}
		spoil(d)
		if len(checkLayout(d)) == 0 {
			t.Errorf("%s: not caught", name)
		}
	}
}
