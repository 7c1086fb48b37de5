// Package diagram draws a network as an SVG picture: one box per node of the
// IR (a fused layer, when drawn after the inference passes) with its op,
// output shape and parameter count; stages as labelled bands; residual
// shortcuts and U-Net skips as arcs. A network whose resolution goes down
// and back up is drawn as a U: encoder down the left, bottleneck along the
// bottom, decoder up the right, skips straight across.
//
// It is emission from the IR, like codegen: it reads the graph and never
// changes it. Layout (layout.go) places boxes on a grid of whole pixels; this
// file turns the placed diagram into SVG text.
package diagram

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/resgen/resgen/ir"
)

// Options controls SVG.
type Options struct {
	// Pass names the pass the graph is drawn after; it is shown under the
	// title ("" shows nothing).
	Pass string
	// Fold is the longest run of identical blocks in a stage that is drawn
	// in full; a longer run is drawn as its first block and one folded box
	// standing for the rest. 0 means DefaultFold; negative never folds.
	Fold int
}

// DefaultFold draws every block of ResNet-18/34/50 and folds the deep
// ones (ResNet-101/152, CIFAR ResNet-56 and deeper), whose stages repeat
// one block tens or hundreds of times.
const DefaultFold = 5

// SVG draws g.
func SVG(g *ir.Graph, opt Options) ([]byte, error) {
	d, err := build(g, opt)
	if err != nil {
		return nil, err
	}
	return render(d), nil
}

// kind is the colour class of a box.
type kind string

const (
	kindInput    kind = "input"
	kindConv     kind = "conv"
	kindConvT    kind = "convt"
	kindLinear   kind = "linear"
	kindResample kind = "resample"
	kindMerge    kind = "merge"
	kindAct      kind = "act"
	kindShortcut kind = "shortcut"
	kindOther    kind = "other"
	kindFold     kind = "fold"
)

// kinds is every box class in legend order, with its colours and caption.
var kinds = []struct {
	k            kind
	fill, stroke string
	caption      string
}{
	{kindInput, "#ececec", "#6b6b6b", "input"},
	{kindConv, "#dce9f7", "#3a6ea5", "conv"},
	{kindConvT, "#e7ddf5", "#6e4aa6", "transposed conv"},
	{kindLinear, "#d6efea", "#2e8677", "linear"},
	{kindResample, "#fde6cd", "#b8732a", "pool / upsample"},
	{kindMerge, "#dceed5", "#4a8a3a", "add / concat"},
	{kindAct, "#faf1c6", "#9c841b", "activation / batchnorm"},
	{kindShortcut, "#f8dce3", "#ad4567", "option-A shortcut"},
	{kindOther, "#f1f1f1", "#8a8a8a", "flatten / identity"},
	{kindFold, "#f4f4f4", "#6b6b6b", "folded identical blocks"},
}

// edge classes, in legend order.
const (
	edgeFlow       = "flow"
	edgeIdentity   = "identity"
	edgeProjection = "projection"
	edgeSkip       = "skip"
	edgeOther      = "other"
)

var edgeClasses = []struct {
	class, color, dash, caption string
}{
	{edgeFlow, "#555555", "", "data flow"},
	{edgeIdentity, "#4a8a3a", "", "identity shortcut"},
	{edgeProjection, "#ad4567", "6 4", "downsampling shortcut"},
	{edgeSkip, "#3a6ea5", "", "skip (concat)"},
	{edgeOther, "#8a8a8a", "3 3", "other input"},
}

// Text metrics. Box text is DejaVu Sans Mono (or another monospace font),
// whose advance is 0.6 em, so widths are known without measuring: layout
// sizes every box to fit its longest line.
const (
	nameSize  = 12 // px, bold: the first line of a box
	textSize  = 11 // px: the other lines of a box, band labels' second line
	labelSize = 12 // px, bold: band labels
	charEm    = 0.6
	boxPad    = 8 // horizontal padding inside a box
	boxH      = 52
)

func textWidth(s string, size int) int {
	return int(float64(len([]rune(s)))*charEm*float64(size) + 0.999)
}

// box is one node (or a folded run of blocks) placed on the page.
type box struct {
	X, Y, W, H int
	Lines      [3]string // name, op, shape and params
	Kind       kind
	Tip        string // tooltip: the node's full attributes
	Output     bool   // the graph's output
	Side       bool   // off the main path (a shortcut's conv or option-A)

	group  *group
	node   *ir.Node // first node for a folded box
	params int64
	shape  ir.Shape // of the (last) node's output
	block  string   // blockKey of the node
}

func (b *box) right() int   { return b.X + b.W }
func (b *box) bottom() int  { return b.Y + b.H }
func (b *box) centerX() int { return b.X + b.W/2 }
func (b *box) midY() int    { return b.Y + b.H/2 }

// band is the light background of a stage (or of part of one in a U).
type band struct {
	X, Y, W, H int
	Label, Sub string
}

// edge is one arrow; Path is filled in last, from the final coordinates.
type edge struct {
	From, To *box
	Class    string
	Path     string
	Label    string // drawn at LX, LY (skips: the tensor carried)
	LX, LY   int
	pts      []pt // the corners of an orthogonal path (nil for a curve)
}

// diagram is the whole placed picture.
type diagram struct {
	W, H            int
	Title, Subtitle string
	Boxes           []*box
	Bands           []*band
	Edges           []*edge
	legend          []legendItem
}

type legendItem struct {
	X, Y    int
	Kind    kind   // a box swatch, or
	Class   string // a line sample
	Caption string
}

// opLabel is the second line of a node's box: the op and what was fused
// into it, as a reader of the paper would say it.
func opLabel(n *ir.Node) string {
	var parts []string
	epilogue := func(residual bool, act ir.Act) {
		var e []string
		if residual {
			e = append(e, "+add")
		}
		if act == ir.ActReLU {
			e = append(e, "+relu")
		}
		if len(e) > 0 {
			parts = append(parts, strings.Join(e, " "))
		}
	}
	switch op := n.Op.(type) {
	case *ir.Input:
		return "input"
	case *ir.Conv:
		if op.Linear {
			parts = append(parts, "linear")
		} else {
			parts = append(parts, "conv "+window(op.KH, op.KW, op.StrideH, op.StrideW))
			if op.DilH != 1 || op.DilW != 1 {
				parts = append(parts, "dil "+pair(op.DilH, op.DilW))
			}
			if op.Groups != 1 {
				parts = append(parts, fmt.Sprintf("g%d", op.Groups))
			}
		}
		if op.BN != nil {
			parts = append(parts, "bn folded")
		}
		epilogue(op.Residual, op.Act)
	case *ir.ConvTranspose:
		parts = append(parts, "convT "+window(op.KH, op.KW, op.StrideH, op.StrideW))
		if op.Groups != 1 {
			parts = append(parts, fmt.Sprintf("g%d", op.Groups))
		}
		epilogue(op.Residual, op.Act)
	case *ir.Affine:
		parts = append(parts, "batchnorm")
		epilogue(false, op.Act)
	case *ir.Add:
		parts = append(parts, fmt.Sprintf("add %d", len(n.Inputs)))
		epilogue(false, op.Act)
	case *ir.Pool:
		parts = append(parts, op.Kind()+" "+window(op.KH, op.KW, op.StrideH, op.StrideW))
	case *ir.GlobalAvgPool:
		parts = append(parts, "global avgpool")
	case *ir.Concat:
		parts = append(parts, fmt.Sprintf("concat %d", len(n.Inputs)))
	case *ir.Upsample:
		mode := "nearest"
		if op.Bilinear {
			mode = "bilinear"
		}
		parts = append(parts, "upsample ×"+pair(op.ScaleH, op.ScaleW), mode)
	case *ir.ShortcutA:
		in := n.Inputs[0].Shape.C
		parts = append(parts, fmt.Sprintf("option A /%d", op.Stride), fmt.Sprintf("pad %d→%d ch", in, n.Shape.C))
	default:
		parts = append(parts, n.Op.Kind())
	}
	return strings.Join(parts, " · ")
}

// window is "3×3" or "3×3/2" (kernel and stride).
func window(kh, kw, sh, sw int) string {
	s := pair(kh, kw)
	if sh != 1 || sw != 1 {
		s += "/" + strconv.Itoa(sh)
		if sw != sh {
			s += "×" + strconv.Itoa(sw)
		}
	}
	return s
}

func pair(a, b int) string {
	return strconv.Itoa(a) + "×" + strconv.Itoa(b)
}

func kindOf(n *ir.Node) kind {
	switch op := n.Op.(type) {
	case *ir.Input:
		return kindInput
	case *ir.Conv:
		if op.Linear {
			return kindLinear
		}
		return kindConv
	case *ir.ConvTranspose:
		return kindConvT
	case *ir.Pool, *ir.GlobalAvgPool, *ir.Upsample:
		return kindResample
	case *ir.Add, *ir.Concat:
		return kindMerge
	case *ir.Affine, *ir.ReLU, *ir.Sigmoid, *ir.Softmax:
		return kindAct
	case *ir.ShortcutA:
		return kindShortcut
	}
	return kindOther
}

// shapeText is C×H×W, or just C for a vector.
func shapeText(s ir.Shape) string {
	if s.H == 1 && s.W == 1 {
		return strconv.Itoa(s.C)
	}
	return fmt.Sprintf("%d×%d×%d", s.C, s.H, s.W)
}

// shortCount is 950, 12.3k, 2.36M: three significant digits.
func shortCount(n int64) string {
	f := float64(n)
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10)
	case n < 1e6:
		return trim3(f/1e3) + "k"
	case n < 1e9:
		return trim3(f/1e6) + "M"
	}
	return trim3(f/1e9) + "G"
}

func trim3(f float64) string {
	switch {
	case f >= 100:
		return strconv.FormatFloat(f, 'f', 0, 64)
	case f >= 10:
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// grouped is 25,557,032.
func grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func shapeParams(s ir.Shape, params int64) string {
	t := shapeText(s)
	if params > 0 {
		t += " · " + shortCount(params) + " params"
	}
	return t
}

func tooltip(n *ir.Node) string {
	t := n.Name + " = " + n.Op.Kind()
	if a := n.Op.Attrs(); a != "" {
		t += " " + a
	}
	t += " → " + n.Shape.String()
	if len(n.Fused) > 0 {
		t += "\nfused: " + strings.Join(n.Fused, " ")
	}
	if p := ir.TrainableParams(n.Op); p > 0 {
		t += "\nparams: " + grouped(p)
	}
	if m := ir.MACs(n); m > 0 {
		t += "\nMACs: " + grouped(m)
	}
	return t
}

var errNoGraph = errors.New("diagram: empty graph")

// render writes the placed diagram as SVG. Every coordinate is a whole
// pixel; styles are classes in one <style> element so the file stays small
// and a reader can restyle it.
func render(d *diagram) []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">`+"\n", d.W, d.H, d.W, d.H)
	p("<style>\n")
	p(".t{font-family:DejaVu Sans, Helvetica, Arial, sans-serif;fill:#222}\n")
	p(".n{font-size:%dpx;font-weight:bold;fill:#1d1d1d}\n.o{font-size:%dpx;fill:#333}\n.s{font-size:%dpx;fill:#555}\n", nameSize, textSize, textSize)
	p(".bl{font-size:%dpx;font-weight:bold;fill:#444}\n.bs{font-size:%dpx;fill:#666}\n.el{font-size:%dpx;fill:#3a6ea5}\n", labelSize, textSize, textSize)
	p(".band{fill:#f6f7f9;stroke:#dfe2e7}\n.out{stroke-width:2.5}\n")
	for _, k := range kinds {
		p(".k-%s{fill:%s;stroke:%s}\n", k.k, k.fill, k.stroke)
	}
	for _, e := range edgeClasses {
		p(".e-%s{fill:none;stroke:%s;stroke-width:1.5", e.class, e.color)
		if e.dash != "" {
			p(";stroke-dasharray:%s", e.dash)
		}
		p("}\n")
	}
	p("</style>\n<defs>\n")
	for _, e := range edgeClasses {
		p(`<marker id="a-%s" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,1 L10,5 L0,9 z" fill="%s"/></marker>`+"\n", e.class, e.color)
	}
	p("</defs>\n")
	p(`<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", d.W, d.H)
	p(`<text class="t" x="%d" y="%d" font-size="20" font-weight="bold">%s</text>`+"\n", margin, 32, esc(d.Title))
	p(`<text class="t" x="%d" y="%d" font-size="13" fill="#555">%s</text>`+"\n", margin, 54, esc(d.Subtitle))
	for _, l := range d.legend {
		if l.Kind != "" {
			p(`<rect class="k-%s" x="%d" y="%d" width="16" height="12" rx="2"/>`, l.Kind, l.X, l.Y-10)
		} else {
			p(`<path class="e-%s" d="M%d,%d h22" marker-end="url(#a-%s)"/>`, l.Class, l.X, l.Y-4, l.Class)
		}
		p(`<text class="t" x="%d" y="%d" font-size="12">%s</text>`+"\n", l.X+legendSwatch, l.Y, esc(l.Caption))
	}
	for _, bd := range d.Bands {
		p(`<rect class="band" x="%d" y="%d" width="%d" height="%d" rx="8"/>`+"\n", bd.X, bd.Y, bd.W, bd.H)
		p(`<text class="bl" x="%d" y="%d">%s</text>`+"\n", bd.X+bandPad, bd.Y+16, esc(bd.Label))
		if bd.Sub != "" {
			p(`<text class="bs" x="%d" y="%d">%s</text>`+"\n", bd.X+bandPad, bd.Y+30, esc(bd.Sub))
		}
	}
	for _, e := range d.Edges {
		p(`<path class="e-%s" d="%s" marker-end="url(#a-%s)"/>`+"\n", e.Class, e.Path, e.Class)
		if e.Label != "" {
			p(`<text class="el" x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", e.LX, e.LY, esc(e.Label))
		}
	}
	for _, bx := range d.Boxes {
		p("<g>")
		if bx.Tip != "" {
			p("<title>%s</title>", esc(bx.Tip))
		}
		if bx.Kind == kindFold {
			// A stack of cards: the run it stands for.
			p(`<rect class="k-fold" x="%d" y="%d" width="%d" height="%d" rx="5"/>`, bx.X+8, bx.Y-8, bx.W-8, bx.H)
			p(`<rect class="k-fold" x="%d" y="%d" width="%d" height="%d" rx="5"/>`, bx.X+4, bx.Y-4, bx.W-4, bx.H)
		}
		class := "k-" + string(bx.Kind)
		if bx.Output {
			class += " out"
		}
		p(`<rect class="%s" x="%d" y="%d" width="%d" height="%d" rx="5"/>`, class, bx.X, bx.Y, bx.W, bx.H)
		for i, cl := range []string{"n", "o", "s"} {
			if bx.Lines[i] != "" {
				p(`<text class="%s" x="%d" y="%d">%s</text>`, cl, bx.X+boxPad, bx.Y+lineBase[i], esc(bx.Lines[i]))
			}
		}
		p("</g>\n")
	}
	p("</svg>\n")
	return b.Bytes()
}

// lineBase is each text line's baseline below a box's top.
var lineBase = [3]int{17, 32, 46}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
