package diagram

import (
	"fmt"
	"strings"
)

// Routing: every arrow is drawn from the boxes' final coordinates, after
// layout and the header have placed everything.

type pt struct{ x, y int }

// route fills in an edge's path from the final coordinates.
func (l *layouter) route(e *edge) {
	s, t := e.From, e.To
	label := e.Label
	e.Label = "" // set again where there is a clear place for it
	switch {
	case l.below[e]:
		y := s.bottom() + 6 + (l.lane[e]+1)*laneStep
		e.pts = path(pt{s.centerX() + 12, s.bottom()}, pt{s.centerX() + 12, y}, pt{t.centerX() - 12, y}, pt{t.centerX() - 12, t.bottom()})
	case l.cols == nil && s.X == t.X && !l.adjacent(s, t):
		// Along one arm of the U past other boxes: left of them.
		x := s.X - 6
		e.pts = path(pt{s.X, s.midY() - 6}, pt{x, s.midY() - 6}, pt{x, t.midY() + 6}, pt{t.X, t.midY() + 6})
	case e.Class == edgeFlow && s.X == t.X && s.W == t.W:
		x := l.flowX(s, t)
		if t.Y > s.Y {
			e.pts = path(pt{x, s.bottom()}, pt{x, boxRectTop(t)})
		} else {
			e.pts = path(pt{x, s.Y}, pt{x, t.bottom()})
		}
	case e.Class == edgeFlow && s.Y == t.Y:
		e.pts = path(pt{s.right(), s.midY()}, pt{t.X, t.midY()})
	case e.Class == edgeFlow && l.cols != nil && s.group.col != t.group.col:
		gx := t.group.col.x - colGap/2
		e.pts = path(pt{s.centerX(), s.bottom()}, pt{s.centerX(), s.bottom() + 7}, pt{gx, s.bottom() + 7}, pt{gx, t.midY()}, pt{t.X, t.midY()})
	case e.Class == edgeFlow && l.cols == nil && t.Y > s.bottom():
		// Into the bottleneck: down the left arm, then right.
		e.pts = path(pt{s.centerX(), s.bottom()}, pt{s.centerX(), t.midY()}, pt{t.X, t.midY()})
	case e.Class == edgeFlow && l.cols == nil && t.bottom() < s.Y:
		// Out of the bottleneck: right, then up the right arm.
		e.pts = path(pt{s.right(), s.midY()}, pt{t.centerX(), s.midY()}, pt{t.centerX(), t.bottom()})
	case e.Class == edgeSkip && l.cols == nil && s.right() < t.X:
		mx := (s.right() + t.X) / 2
		e.pts = path(pt{s.right(), s.midY()}, pt{mx, s.midY()}, pt{mx, t.midY()}, pt{t.X, t.midY()})
		if s.midY() == t.midY() {
			e.Label, e.LX, e.LY = label, mx, s.midY()-6
		}
	case e.Class == edgeIdentity && l.cols != nil && !s.Side && !t.Side:
		a := l.arcOf(e)
		lx := t.right() + laneOff + l.lane[e]*laneStep
		if a.port {
			gx := t.group.col.x - colGap/2
			in := l.entryBox(t.group.col)
			e.pts = path(pt{gx, in.midY()}, pt{gx, a.sy}, pt{lx, a.sy}, pt{lx, a.ty}, pt{t.right(), a.ty})
		} else {
			e.pts = path(pt{a.sx, a.sy}, pt{lx, a.sy}, pt{lx, a.ty}, pt{t.right(), a.ty})
		}
	case e.Class == edgeProjection && l.cols != nil && t.Side:
		// Into a side box from the left, down a trunk just left of the side
		// boxes, so it never runs through one.
		trunk, in := t.X-8, t.Y+t.H/3
		switch {
		case s.Side:
			out := s.Y + s.H*2/3
			e.pts = path(pt{s.X, out}, pt{trunk, out}, pt{trunk, in}, pt{t.X, in})
		case s.group.col == t.group.col:
			out := s.Y + s.H/3
			e.pts = path(pt{s.right(), out}, pt{trunk, out}, pt{trunk, in}, pt{t.X, in})
		default:
			gx := t.group.col.x - colGap/2
			entry := l.entryBox(t.group.col)
			e.pts = path(pt{gx, entry.midY()}, pt{gx, entry.Y - 6}, pt{trunk, entry.Y - 6}, pt{trunk, in}, pt{t.X, in})
		}
	case e.Class == edgeProjection && l.cols != nil && s.Side && !t.Side && s.X > t.right():
		// Out of a side box's lower left into the box that adds it.
		out, in := s.Y+s.H*2/3, t.Y+t.H*2/3
		e.pts = path(pt{s.X, out}, pt{s.X - 8, out}, pt{s.X - 8, in}, pt{t.right(), in})
	default:
		// Anything else: a curve out of the source's right side into the
		// target's right side.
		sx, sy, tx, ty := s.right(), s.midY(), t.right(), t.midY()
		c := 60
		if t.X > s.right() {
			tx = t.X
			e.Path = fmt.Sprintf("M%d,%d C%d,%d %d,%d %d,%d", sx, sy, sx+c, sy, tx-c, ty, tx, ty)
			return
		}
		e.Path = fmt.Sprintf("M%d,%d C%d,%d %d,%d %d,%d", sx, sy, max(sx, tx)+c, sy, max(sx, tx)+c, ty, tx, ty)
	}
	if e.pts != nil {
		e.Path = poly(e.pts...)
	}
}

// boxRectTop is where an arrow into a box from above ends: above the
// stacked cards of a folded box.
func boxRectTop(b *box) int {
	if b.Kind == kindFold {
		return b.Y - 8
	}
	return b.Y
}

// adjacent: two boxes of one column with no box between them.
func (l *layouter) adjacent(s, t *box) bool {
	lo, hi := min(s.Y, t.Y), max(s.Y, t.Y)
	for _, b := range l.d.Boxes {
		if b != s && b != t && b.X == s.X && b.Y > lo && b.Y < hi {
			return false
		}
	}
	return true
}

// flowX is where a vertical arrow between two stacked boxes runs: through
// their middle, or right of any band label between them.
func (l *layouter) flowX(s, t *box) int {
	x := s.centerX()
	lo, hi := min(s.bottom(), t.bottom()), max(s.Y, t.Y)
	for _, bd := range l.d.Bands {
		if bd.Y+4 < hi && bd.Y+34 > lo && bd.X <= s.X && s.right() <= bd.X+bd.W {
			x = max(x, bd.X+bandPad+max(textWidth(bd.Label, labelSize), textWidth(bd.Sub, textSize))+14)
		}
	}
	return x
}

func path(ps ...pt) []pt { return ps }

// poly is an orthogonal polyline with rounded corners.
func poly(in ...pt) string {
	const r = 6
	// Drop repeated points and the middle of straight runs: no corner there.
	var ps []pt
	for _, p := range in {
		if n := len(ps); n > 0 && ps[n-1] == p {
			continue
		}
		if n := len(ps); n > 1 && (ps[n-2].x == ps[n-1].x && ps[n-1].x == p.x || ps[n-2].y == ps[n-1].y && ps[n-1].y == p.y) {
			ps[n-1] = p
			continue
		}
		ps = append(ps, p)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "M%d,%d", ps[0].x, ps[0].y)
	for i := 1; i < len(ps)-1; i++ {
		a, p, c := ps[i-1], ps[i], ps[i+1]
		in := min(r, dist(a, p)/2)
		out := min(r, dist(p, c)/2)
		p1 := toward(p, a, in)
		p2 := toward(p, c, out)
		fmt.Fprintf(&b, " L%d,%d Q%d,%d %d,%d", p1.x, p1.y, p.x, p.y, p2.x, p2.y)
	}
	last := ps[len(ps)-1]
	fmt.Fprintf(&b, " L%d,%d", last.x, last.y)
	return b.String()
}

func dist(a, b pt) int { return abs(a.x-b.x) + abs(a.y-b.y) }

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// toward is the point d from p in the direction of q (orthogonal segments).
func toward(p, q pt, d int) pt {
	return pt{p.x + sign(q.x-p.x)*d, p.y + sign(q.y-p.y)*d}
}

func sign(x int) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}
