package diagram

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/resgen/resgen/ir"
)

// Layout.
//
// Every node gets a box. The main path is the chain of nodes from the input
// to the output that always follows the input with the longest path behind
// it, so a residual add or a concat continues from the computed branch and
// its other input (a shortcut, a skip) is drawn as an arc. Nodes off that
// path (a projection shortcut's conv, an option-A shortcut) are side boxes.
//
// Nodes are grouped by the first component of their dotted names (stages:
// layer1, down2, up3); a run of undotted names is one group ("stem",
// "head"). Blocks are the second level ("layer3.5"); a run of more than
// Options.Fold identical blocks is drawn as its first block and one folded
// box for the rest, so ResNet-152 and ResNet-1202 stay a readable size.
//
// A network whose main path goes down in resolution and back up is drawn
// as a U (layoutU). Any other network is drawn in columns (layoutColumns): each
// group is a band holding its main path top to bottom, with shortcut arcs in
// lanes to its right and side boxes beyond them; groups are packed into
// columns of about the height of the tallest stage, read left to right.

const (
	margin       = 24 // around the page
	legendSwatch = 30 // a legend caption's offset from its swatch
	bandPad      = 10 // inside a band, around its boxes
	labelH       = 44 // a band's label area above its first box
	vgap         = 20 // between boxes along a column (the arrow)
	blockGap     = 10 // extra, between blocks of a stage
	groupGap     = 20 // between bands in a column
	colGap       = 56 // between columns
	laneOff      = 14 // first shortcut lane, right of the main boxes
	laneStep     = 10
	sideGap      = 16 // between the last lane and the side boxes
	minBoxW      = 200
	minSideW     = 150
	uGap         = 110 // between the U's arms and its bottleneck
	hgap         = 36  // between boxes along the bottleneck
	bandBottom   = 14  // below a band's last box
)

// group is a stage: a run of nodes whose names share the first component.
type group struct {
	key        string
	label, sub string
	nodes      []*ir.Node
	boxes      []*box // visible, in schedule order

	// column layout
	row    map[*box]int
	gapAt  []int // gapAt[r]: block gaps above row r
	rows   int
	height int
	y      int
	col    *column
}

// column is a column of bands in the column layout.
type column struct {
	x, w    int
	groups  []*group
	lanes   int  // shortcut lanes right of the main boxes
	sideX   int  // side boxes' offset from the main boxes
	hasSide bool // any side box
	height  int
}

type layouter struct {
	g           *ir.Graph
	opt         Options
	d           *diagram
	groups      []*group
	boxOf       map[*ir.Node]*box
	chain       []*box // main boxes in schedule order
	prev        map[*box]*box
	boxW        int
	sideW       int
	cols        []*column
	lane        map[*edge]int
	below       map[*edge]bool // routed under the bottleneck row
	bottomLanes int
}

func build(g *ir.Graph, opt Options) (*diagram, error) {
	if g == nil || g.Input == nil || g.Output == nil || len(g.Nodes) == 0 {
		return nil, errNoGraph
	}
	if opt.Fold == 0 {
		opt.Fold = DefaultFold
	}
	l := &layouter{g: g, opt: opt, d: &diagram{}, boxOf: map[*ir.Node]*box{}, prev: map[*box]*box{}, lane: map[*edge]int{}, below: map[*edge]bool{}}
	main := mainPath(g)
	l.makeGroups()
	for _, gr := range l.groups {
		l.makeBoxes(gr, main)
	}
	for _, gr := range l.groups {
		for _, b := range gr.boxes {
			l.d.Boxes = append(l.d.Boxes, b)
			if !b.Side {
				if n := len(l.chain); n > 0 {
					l.prev[b] = l.chain[n-1]
				}
				l.chain = append(l.chain, b)
			}
		}
	}
	l.labelGroups()
	l.makeEdges()
	l.sizeBoxes()
	if !l.layoutU() {
		l.layoutColumns()
	}
	l.header()
	return l.d, nil
}

// mainPath marks the nodes on the main path: from the output back to the
// input, always through the input with the longest path behind it (the
// first such input on a tie).
func mainPath(g *ir.Graph) map[*ir.Node]bool {
	depth := make(map[*ir.Node]int, len(g.Nodes))
	for _, n := range g.Nodes {
		d := 0
		for _, in := range n.Inputs {
			d = max(d, depth[in]+1)
		}
		depth[n] = d
	}
	main := map[*ir.Node]bool{}
	for n := g.Output; n != nil; {
		main[n] = true
		var next *ir.Node
		for _, in := range n.Inputs {
			if next == nil || depth[in] > depth[next] {
				next = in
			}
		}
		n = next
	}
	return main
}

func stageKey(name string) string {
	if i := strings.IndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	return ""
}

// blockKey is "layer3.5" for "layer3.5.conv1": the block of a repeated
// stage, whose second name component is its index; "" otherwise.
func blockKey(name string) string {
	parts := strings.SplitN(name, ".", 3)
	if len(parts) < 3 || parts[1] == "" {
		return ""
	}
	for _, r := range parts[1] {
		if r < '0' || r > '9' {
			return ""
		}
	}
	return parts[0] + "." + parts[1]
}

func (l *layouter) makeGroups() {
	for _, n := range l.g.Nodes {
		k := stageKey(n.Name)
		if len(l.groups) == 0 || l.groups[len(l.groups)-1].key != k {
			l.groups = append(l.groups, &group{key: k})
		}
		gr := l.groups[len(l.groups)-1]
		gr.nodes = append(gr.nodes, n)
	}
}

// segment is a block, or one node outside any block.
type segment struct {
	key   string
	nodes []*ir.Node
	sig   string
}

// signature says what a block computes, without its name: two blocks with
// equal signatures differ only in their weights.
func signature(key string, nodes []*ir.Node) string {
	in := map[*ir.Node]bool{}
	for _, n := range nodes {
		in[n] = true
	}
	var b strings.Builder
	for _, n := range nodes {
		fmt.Fprintf(&b, "%s=%s[%s]%v(", strings.TrimPrefix(n.Name, key+"."), n.Op.Kind(), strings.ReplaceAll(n.Op.Attrs(), key+".", ""), n.Shape)
		for _, x := range n.Inputs {
			if in[x] {
				b.WriteString(strings.TrimPrefix(x.Name, key+".") + ",")
			} else {
				b.WriteString("^,")
			}
		}
		b.WriteString(");")
	}
	return b.String()
}

func (l *layouter) makeBoxes(gr *group, main map[*ir.Node]bool) {
	var segs []*segment
	for _, n := range gr.nodes {
		k := blockKey(n.Name)
		if k == "" || len(segs) == 0 || segs[len(segs)-1].key != k {
			segs = append(segs, &segment{key: k})
		}
		s := segs[len(segs)-1]
		s.nodes = append(s.nodes, n)
	}
	for _, s := range segs {
		if s.key != "" {
			s.sig = signature(s.key, s.nodes)
		}
	}
	for i := 0; i < len(segs); {
		j := i + 1
		for j < len(segs) && segs[i].sig != "" && segs[j].sig == segs[i].sig {
			j++
		}
		for _, n := range segs[i].nodes {
			l.nodeBox(gr, n, main)
		}
		if l.opt.Fold > 0 && j-i > l.opt.Fold {
			l.foldBox(gr, segs[i], segs[i+1:j])
		} else {
			for _, s := range segs[i+1 : j] {
				for _, n := range s.nodes {
					l.nodeBox(gr, n, main)
				}
			}
		}
		i = j
	}
}

func (l *layouter) nodeBox(gr *group, n *ir.Node, main map[*ir.Node]bool) {
	p := ir.TrainableParams(n.Op)
	b := &box{
		Lines:  [3]string{n.Name, opLabel(n), shapeParams(n.Shape, p)},
		Kind:   kindOf(n),
		Tip:    tooltip(n),
		Output: n == l.g.Output,
		Side:   !main[n],
		group:  gr,
		node:   n,
		params: p,
		shape:  n.Shape,
		block:  blockKey(n.Name),
	}
	gr.boxes = append(gr.boxes, b)
	l.boxOf[n] = b
}

// foldBox stands for a run of blocks identical to like.
func (l *layouter) foldBox(gr *group, like *segment, run []*segment) {
	first, last := run[0], run[len(run)-1]
	var p int64
	for _, s := range run {
		for _, n := range s.nodes {
			p += ir.TrainableParams(n.Op)
		}
	}
	out := last.nodes[len(last.nodes)-1]
	b := &box{
		Lines: [3]string{first.key + " … " + last.key, fmt.Sprintf("×%d blocks like %s", len(run), like.key), shapeParams(out.Shape, p)},
		Kind:  kindFold,
		Tip:   fmt.Sprintf("%d blocks %s … %s, each computing what %s computes with its own weights\nparams: %s", len(run), first.key, last.key, like.key, grouped(p)),
		group: gr, node: first.nodes[0], params: p, shape: out.Shape, block: first.key,
	}
	for _, s := range run {
		for _, n := range s.nodes {
			l.boxOf[n] = b
			if n == l.g.Output {
				b.Output = true
			}
		}
	}
	gr.boxes = append(gr.boxes, b)
}

func (l *layouter) labelGroups() {
	firstDotted, lastDotted := -1, -1
	for i, gr := range l.groups {
		if gr.key != "" {
			if firstDotted < 0 {
				firstDotted = i
			}
			lastDotted = i
		}
	}
	for i, gr := range l.groups {
		var out *box
		var p int64
		blocks := map[string]bool{}
		for _, b := range gr.boxes {
			p += b.params
			if !b.Side {
				out = b
			}
		}
		for _, n := range gr.nodes {
			if k := blockKey(n.Name); k != "" {
				blocks[k] = true
			}
		}
		if out == nil {
			out = gr.boxes[len(gr.boxes)-1]
		}
		name := gr.key
		switch {
		case name != "":
		case firstDotted < 0:
			name = "layers"
		case i < firstDotted:
			name = "stem"
		case i > lastDotted:
			name = "head"
		default:
			name = gr.nodes[0].Name
		}
		gr.label = name + " · " + shapeText(out.shape)
		count := fmt.Sprintf("%d layers", len(gr.nodes))
		if len(gr.nodes) == 1 {
			count = "1 layer"
		}
		if len(blocks) > 1 {
			count = fmt.Sprintf("%d blocks", len(blocks))
		}
		if p > 0 {
			count += " · " + shortCount(p) + " params"
		}
		gr.sub = count
	}
}

// makeEdges draws one edge per distinct pair of boxes joined by a tensor.
func (l *layouter) makeEdges() {
	seen := map[[2]*box]bool{}
	for _, n := range l.g.Nodes {
		dst := l.boxOf[n]
		for i, in := range n.Inputs {
			src := l.boxOf[in]
			if src == dst || seen[[2]*box{src, dst}] {
				continue
			}
			seen[[2]*box{src, dst}] = true
			e := &edge{From: src, To: dst}
			_, concat := n.Op.(*ir.Concat)
			switch {
			case !src.Side && !dst.Side && l.prev[dst] == src:
				e.Class = edgeFlow
			case concat:
				e.Class = edgeSkip
				e.Label = shapeText(in.Shape)
			case src.Side || dst.Side:
				e.Class = edgeProjection
			case isResidual(n, i):
				e.Class = edgeIdentity
			default:
				e.Class = edgeOther
			}
			l.d.Edges = append(l.d.Edges, e)
		}
	}
}

// isResidual: input i of n is added to n's result.
func isResidual(n *ir.Node, i int) bool {
	switch op := n.Op.(type) {
	case *ir.Add:
		return true
	case *ir.Conv:
		return op.Residual && i == 1
	case *ir.ConvTranspose:
		return op.Residual && i == 1
	}
	return false
}

// sizeBoxes makes every main box as wide as the widest text of any main box
// or band label (so a flow arrow can pass right of a label), and every side
// box as wide as the widest side text.
func (l *layouter) sizeBoxes() {
	l.boxW, l.sideW = minBoxW, minSideW
	for _, b := range l.d.Boxes {
		w := boxTextWidth(b)
		if b.Side {
			l.sideW = max(l.sideW, w)
		} else {
			l.boxW = max(l.boxW, w)
		}
	}
	for _, gr := range l.groups {
		l.boxW = max(l.boxW, labelWidth(gr)+36)
		if !l.isU() {
			continue
		}
		// A U may split a group: its parts' labels must leave room too.
		var longest *box
		for _, b := range gr.boxes {
			if longest == nil || len(shapeText(b.shape)) > len(shapeText(longest.shape)) {
				longest = b
			}
		}
		label, sub := partLabel(gr, gr.boxes, longest)
		l.boxW = max(l.boxW, textWidth(label, labelSize)+36, textWidth(sub, textSize)+36)
	}
	for _, b := range l.d.Boxes {
		b.W, b.H = l.boxW, boxH
		if b.Side {
			b.W = l.sideW
		}
	}
}

func boxTextWidth(b *box) int {
	w := textWidth(b.Lines[0], nameSize)
	w = max(w, textWidth(b.Lines[1], textSize), textWidth(b.Lines[2], textSize))
	return w + 2*boxPad + 4
}

func labelWidth(gr *group) int {
	return max(textWidth(gr.label, labelSize), textWidth(gr.sub, textSize))
}

// isU: the main path goes down in resolution and then back up (an
// upsampling or a transposed convolution after a pooling or a strided
// conv), as in a U-Net.
func (l *layouter) isU() bool {
	down := false
	for _, b := range l.chain {
		p := l.prev[b]
		if p == nil || p.shape.H <= 1 || b.shape.H <= 1 {
			continue
		}
		down = down || b.shape.H < p.shape.H
		if down && b.shape.H > p.shape.H {
			return true
		}
	}
	return false
}

// layoutColumns places groups as bands in columns.
func (l *layouter) layoutColumns() {
	for _, gr := range l.groups {
		l.rowGroup(gr)
	}
	// Pack groups into columns about as tall as the tallest stage (at
	// least 12 boxes), keeping their order.
	limit := 12*(boxH+vgap) + labelH
	for _, gr := range l.groups {
		limit = max(limit, gr.height)
	}
	var col *column
	for _, gr := range l.groups {
		if col == nil || col.height+groupGap+gr.height > limit {
			col = &column{}
			l.cols = append(l.cols, col)
		} else {
			col.height += groupGap
		}
		gr.y = col.height
		gr.col = col
		col.height += gr.height
		col.groups = append(col.groups, gr)
	}
	for _, col := range l.cols {
		for _, gr := range col.groups {
			for _, b := range gr.boxes {
				b.Y = gr.y + labelH + gr.rowY(gr.row[b])
				col.hasSide = col.hasSide || b.Side
			}
		}
	}
	l.assignLanes()
	x := 0
	for _, col := range l.cols {
		col.x = x
		inner := l.boxW
		if col.lanes > 0 {
			inner += laneOff + col.lanes*laneStep
		}
		if col.hasSide {
			col.sideX = inner + sideGap
			if col.lanes == 0 {
				col.sideX = inner + 2*sideGap
			}
			inner = col.sideX + l.sideW
		}
		col.w = inner + 2*bandPad
		for _, gr := range col.groups {
			col.w = max(col.w, labelWidth(gr)+2*bandPad)
		}
		for _, gr := range col.groups {
			for _, b := range gr.boxes {
				b.X = x + bandPad
				if b.Side {
					b.X += col.sideX
				}
			}
			l.d.Bands = append(l.d.Bands, &band{X: x, Y: gr.y, W: col.w, H: gr.height, Label: gr.label, Sub: gr.sub})
		}
		x += col.w + colGap
	}
	l.d.W = x - colGap
	for _, col := range l.cols {
		l.d.H = max(l.d.H, col.height)
	}
}

// rowGroup gives each box of a group a row: main boxes in order, a side box
// beside the box that reads it (one row up per side box in between), never
// two side boxes in one row.
func (l *layouter) rowGroup(gr *group) {
	gr.row = map[*box]int{}
	r := 0
	var gaps int
	var last *box
	for _, b := range gr.boxes {
		if b.Side {
			continue
		}
		if last != nil && b.block != last.block {
			gaps++
		}
		for len(gr.gapAt) <= r {
			gr.gapAt = append(gr.gapAt, gaps)
		}
		gr.row[b] = r
		r++
		last = b
	}
	mainRows := r
	users := map[*box][]*box{}
	for _, e := range l.d.Edges {
		users[e.From] = append(users[e.From], e.To)
	}
	want := map[*box]int{}
	for i := len(gr.boxes) - 1; i >= 0; i-- {
		b := gr.boxes[i]
		if !b.Side {
			continue
		}
		w := max(mainRows-1, 0)
		for _, u := range users[b] {
			if u.group != gr {
				continue
			}
			if u.Side {
				if uw, ok := want[u]; ok {
					w = min(w, uw-1)
				}
			} else {
				w = min(w, gr.row[u])
			}
		}
		want[b] = max(w, 0)
	}
	next := 0
	for _, b := range gr.boxes {
		if !b.Side {
			continue
		}
		gr.row[b] = max(want[b], next)
		next = gr.row[b] + 1
		r = max(r, next)
	}
	gr.rows = max(r, 1)
	for len(gr.gapAt) < gr.rows {
		g := 0
		if len(gr.gapAt) > 0 {
			g = gr.gapAt[len(gr.gapAt)-1]
		}
		gr.gapAt = append(gr.gapAt, g)
	}
	gr.height = labelH + gr.rowY(gr.rows-1) + boxH + bandBottom
}

// rowY is the top of row r below the group's first box.
func (gr *group) rowY(r int) int {
	return r*(boxH+vgap) + gr.gapAt[r]*blockGap
}

// arc is where an identity shortcut runs: from (sx, sy) right to its lane,
// down to ty, left into its target.
type arc struct {
	e          *edge
	sx, sy, ty int
	port       bool // starts at the column's entry (its source is in an earlier column)
}

func (l *layouter) arcOf(e *edge) arc {
	dst := e.To
	a := arc{e: e, ty: dst.Y + dst.H*2/3}
	if e.From.group.col == dst.group.col {
		a.sx, a.sy = e.From.right(), e.From.Y+dst.H/3
	} else {
		a.port = true
		a.sy = l.entryBox(dst.group.col).Y - 6
	}
	return a
}

// entryBox is a column's first main box, where the flow from the previous
// column enters.
func (l *layouter) entryBox(col *column) *box {
	for _, b := range col.groups[0].boxes {
		if !b.Side {
			return b
		}
	}
	return col.groups[0].boxes[0]
}

// assignLanes gives every identity shortcut a lane right of its column's
// main boxes, the lowest lane free over its whole height.
func (l *layouter) assignLanes() {
	byCol := map[*column][]arc{}
	for _, e := range l.d.Edges {
		if e.Class == edgeIdentity && !e.To.Side && !e.From.Side {
			a := l.arcOf(e)
			byCol[e.To.group.col] = append(byCol[e.To.group.col], a)
		}
	}
	for col, arcs := range byCol {
		sort.SliceStable(arcs, func(i, j int) bool { return arcs[i].sy < arcs[j].sy })
		var busy []int // lowest y each lane is used to
		for _, a := range arcs {
			k := 0
			for k < len(busy) && busy[k] >= a.sy-4 {
				k++
			}
			if k == len(busy) {
				busy = append(busy, 0)
			}
			busy[k] = a.ty
			l.lane[a.e] = k
		}
		col.lanes = len(busy)
	}
}

// cell is the boxes of one arm of the U at one resolution level.
type cell struct {
	boxes []*box // top to bottom
	rel   map[*box]int
	h     int
	off   int
	bands []*band
}

// layoutU draws the encoder down the left, the bottleneck (the lowest
// resolution) left to right along the bottom, the decoder up the right, and
// each skip straight across at its level.
//
// It reports false, placing nothing, unless the main path is a valley:
// resolution never rising before the bottleneck nor falling after it, and
// no box outside the bottleneck at its resolution.
func (l *layouter) layoutU() bool {
	if !l.isU() {
		return false
	}
	var hs []int
	for _, b := range l.d.Boxes {
		if !slices.Contains(hs, b.shape.H) {
			hs = append(hs, b.shape.H)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(hs)))
	level := func(b *box) int { return slices.Index(hs, b.shape.H) }
	deepest := 0
	for _, b := range l.chain {
		deepest = max(deepest, level(b))
	}
	first, last := -1, -1
	for i, b := range l.chain {
		if level(b) == deepest {
			if first < 0 {
				first = i
			}
			if last == i-1 || last < 0 {
				last = i
			}
		}
	}
	idx := l.g.Index()
	startB, startD := idx[l.chain[first].node], len(l.g.Nodes)
	if last+1 < len(l.chain) {
		startD = idx[l.chain[last+1].node]
	}
	levels := deepest + 1
	enc, dec := make([]*cell, levels), make([]*cell, levels)
	for i := range enc {
		enc[i], dec[i] = &cell{rel: map[*box]int{}}, &cell{rel: map[*box]int{}}
	}
	for i, b := range l.chain {
		p := l.prev[b]
		if p != nil && (i < first && level(b) < level(p) || i > last && level(b) > level(p)) {
			return false
		}
	}
	var bottom []*box
	for _, b := range l.d.Boxes {
		i := idx[b.node]
		if (i < startB || i >= startD) && level(b) == deepest {
			return false
		}
		switch {
		case i < startB:
			enc[level(b)].boxes = append(enc[level(b)].boxes, b)
		case i < startD:
			bottom = append(bottom, b)
		default:
			dec[level(b)].boxes = append(dec[level(b)].boxes, b)
		}
	}
	for _, c := range dec {
		slices.Reverse(c.boxes) // the decoder reads upward
	}
	for _, c := range append(slices.Clone(enc), dec...) {
		l.stack(c)
	}
	l.bottomArcs(bottom)
	armW := l.boxW + 2*bandPad
	centerW := max(len(bottom)*l.boxW+(len(bottom)-1)*hgap+2*bandPad, 0)
	leftX, centerX := 0, armW+uGap
	rightX := centerX + centerW + uGap
	if len(bottom) == 0 {
		rightX = armW + uGap
	}
	// Rows: align each level's cells so its skip runs straight across.
	y := 0
	for lv := 0; lv < levels; lv++ {
		e, d := enc[lv], dec[lv]
		for _, ed := range l.d.Edges {
			if ed.Class != edgeSkip {
				continue
			}
			_, okS := e.rel[ed.From]
			_, okD := d.rel[ed.To]
			if okS && okD {
				delta := d.rel[ed.To] - e.rel[ed.From]
				e.off, d.off = max(delta, 0), max(-delta, 0)
				break
			}
		}
		h := max(e.off+e.h, d.off+d.h)
		if lv == deepest && len(bottom) > 0 {
			h = max(h, l.bottomH())
			l.placeBottom(bottom, centerX, y)
		}
		for _, c := range []*cell{e, d} {
			x := leftX
			if c == d {
				x = rightX
			}
			for _, b := range c.boxes {
				b.X, b.Y = x+bandPad, y+c.off+c.rel[b]
			}
			for _, bd := range c.bands {
				bd.X, bd.Y = x, bd.Y+y+c.off
				l.d.Bands = append(l.d.Bands, bd)
			}
		}
		if h > 0 {
			y += h + groupGap
		}
	}
	l.d.W = rightX + armW
	l.d.H = y - groupGap
	return true
}

// stack places a cell's boxes top to bottom, a band label above each run of
// one group.
func (l *layouter) stack(c *cell) {
	y := 0
	var bd *band
	for i, b := range c.boxes {
		if i == 0 || b.group != c.boxes[i-1].group {
			if bd != nil {
				bd.H = y - vgap + bandBottom - bd.Y
				y = bd.Y + bd.H + groupGap
			}
			bd = &band{Y: y, W: l.boxW + 2*bandPad}
			c.bands = append(c.bands, bd)
			y += labelH
		}
		c.rel[b] = y
		y += boxH + vgap
	}
	if bd != nil {
		bd.H = y - vgap + bandBottom - bd.Y
		c.h = bd.Y + bd.H
	}
	labelRuns(c.bands, c.boxes)
}

func (l *layouter) placeBottom(bottom []*box, x, y int) {
	var bd *band
	for i, b := range bottom {
		b.X, b.Y = x+bandPad+i*(l.boxW+hgap), y+labelH
		if i == 0 || b.group != bottom[i-1].group {
			bd = &band{X: b.X - bandPad, Y: y, H: l.bottomH()}
			l.d.Bands = append(l.d.Bands, bd)
		}
		bd.W = b.right() + bandPad - bd.X
	}
	labelRuns(l.d.Bands[len(l.d.Bands)-len(runs(bottom)):], bottom)
}

// bottomH is the bottleneck band's height: its boxes and, below them, the
// lanes of the arcs between boxes that are not neighbours.
func (l *layouter) bottomH() int {
	h := labelH + boxH + bandBottom
	if l.bottomLanes > 0 {
		h += 6 + l.bottomLanes*laneStep
	}
	return h
}

// bottomArcs gives every edge between two bottleneck boxes that are not
// neighbours a lane below the row, the lowest free over its span.
func (l *layouter) bottomArcs(bottom []*box) {
	at := map[*box]int{}
	for i, b := range bottom {
		at[b] = i
	}
	var busy []int // rightmost index each lane is used to
	for _, e := range l.d.Edges {
		i, okI := at[e.From]
		j, okJ := at[e.To]
		if !okI || !okJ || abs(i-j) <= 1 {
			continue
		}
		lo, hi := min(i, j), max(i, j)
		k := 0
		for k < len(busy) && busy[k] >= lo {
			k++
		}
		if k == len(busy) {
			busy = append(busy, 0)
		}
		busy[k] = hi
		l.lane[e] = k
		l.below[e] = true
	}
	l.bottomLanes = len(busy)
}

// runs splits boxes into runs of one group.
func runs(boxes []*box) [][]*box {
	var rs [][]*box
	for i, b := range boxes {
		if i == 0 || b.group != boxes[i-1].group {
			rs = append(rs, nil)
		}
		rs[len(rs)-1] = append(rs[len(rs)-1], b)
	}
	return rs
}

// labelRuns labels each band with its group, or, when the U splits a group
// over several places, with the part the band holds.
func labelRuns(bands []*band, boxes []*box) {
	for i, r := range runs(boxes) {
		gr := r[0].group
		bands[i].Label, bands[i].Sub = gr.label, gr.sub
		if len(r) < len(gr.boxes) {
			out := r[len(r)-1]
			for _, b := range r {
				if !b.Side {
					out = b
				}
			}
			bands[i].Label, bands[i].Sub = partLabel(gr, r, out)
		}
	}
}

func partLabel(gr *group, r []*box, out *box) (string, string) {
	var p int64
	for _, b := range r {
		p += b.params
	}
	name := strings.SplitN(gr.label, " · ", 2)[0]
	sub := fmt.Sprintf("%d of %d layers", len(r), len(gr.boxes))
	if p > 0 {
		sub += " · " + shortCount(p) + " params"
	}
	return name + " · " + shapeText(out.shape), sub
}

// header adds the title, the subtitle and the legend, moves everything
// below them and routes the edges.
func (l *layouter) header() {
	d := l.d
	var params, macs int64
	for _, n := range l.g.Nodes {
		params += ir.TrainableParams(n.Op)
		macs += ir.MACs(n)
	}
	d.Title = fmt.Sprintf("%s · %s params · %s MACs", l.g.Name, grouped(params), shortCount(macs))
	d.Subtitle = fmt.Sprintf("input %s → output %s · %d nodes", shapeText(l.g.Input.Shape), shapeText(l.g.Output.Shape), len(l.g.Nodes))
	if l.opt.Pass != "" {
		d.Subtitle += " after pass " + l.opt.Pass
	}
	if l.g.Memory != nil {
		d.Subtitle += fmt.Sprintf(" · activations %sB", shortCount(int64(l.g.Memory.PeakBytes())))
	}
	width := max(d.W, textWidth(d.Title, 20), textWidth(d.Subtitle, 13), 640)
	// Legend: the box kinds and arrow classes this picture uses.
	used := map[string]bool{}
	for _, b := range d.Boxes {
		used[string(b.Kind)] = true
	}
	for _, e := range d.Edges {
		used["e-"+e.Class] = true
	}
	x, y := margin, 80
	add := func(it legendItem) {
		w := legendSwatch + textWidth(it.Caption, 12) + 14
		if x > margin && x+w > margin+width {
			x, y = margin, y+22
		}
		it.X, it.Y = x, y
		d.legend = append(d.legend, it)
		x += w
	}
	for _, k := range kinds {
		if used[string(k.k)] {
			add(legendItem{Kind: k.k, Caption: k.caption})
		}
	}
	for _, e := range edgeClasses {
		if used["e-"+e.class] {
			add(legendItem{Class: e.class, Caption: e.caption})
		}
	}
	top := y + 24
	for _, b := range d.Boxes {
		b.X += margin
		b.Y += top
	}
	for _, bd := range d.Bands {
		bd.X += margin
		bd.Y += top
	}
	for _, col := range l.cols {
		col.x += margin
	}
	for _, e := range d.Edges {
		l.route(e)
	}
	d.W = width + 2*margin
	d.H += top + margin
}
