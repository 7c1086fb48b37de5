package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress reports training on stderr: on a terminal, one line redrawn
// with \r at most four times a second; otherwise one line per epoch (or
// per chunk of a long run), so logs stay readable.
type progress struct {
	w    io.Writer
	tty  bool
	last time.Time // last redraw
	wide int       // length of the line on screen, to blank it

	title     string
	t0        time.Time // start of this stretch of steps
	images    int       // images stepped in this stretch
	steps     int
	chunkFrom int // s.Steps at start
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) start(title string, s *state) {
	p.title = title
	p.t0 = time.Now()
	p.images, p.steps = 0, 0
	p.chunkFrom = s.Steps
}

func (p *progress) step(s *state, images int, loss float64) {
	p.images += images
	p.steps++
	if !p.tty {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 250*time.Millisecond && s.Step < s.Plan.StepsPerEpoch {
		return
	}
	p.last = now
	rate := p.rate()
	mean := s.Cur.LossSum / float64(max(s.Cur.Images, 1))
	eta := "?"
	if rate > 0 {
		left := (s.Plan.StepsPerEpoch - s.Step) * s.Plan.Batch
		eta = duration(float64(left) / rate)
	}
	line := fmt.Sprintf("%-11s epoch %d/%d  step %d/%d  loss %.4f (epoch mean %.4f)  %.0f img/s  ETA %s",
		p.title, s.Epoch+1, s.Plan.Epochs, s.Step, s.Plan.StepsPerEpoch, loss, mean, rate, eta)
	p.draw(line)
}

func (p *progress) rate() float64 {
	d := time.Since(p.t0).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(p.images) / d
}

func (p *progress) draw(line string) {
	pad := ""
	if n := len(line); n < p.wide {
		pad = strings.Repeat(" ", p.wide-n)
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.wide = max(p.wide, len(line)) // what is on screen now, pad included
}

// clear blanks the redrawn line so that a permanent line can follow.
func (p *progress) clear() {
	if p.tty && p.wide > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.wide))
		p.wide = 0
	}
}

func (p *progress) evaluating(s *state) {
	if p.tty {
		p.draw(fmt.Sprintf("%-11s epoch %d/%d  evaluating", p.title, s.Epoch+1, s.Plan.Epochs))
	}
}

func (p *progress) epochDone(s *state, r epochResult) {
	p.clear()
	train := ""
	if r.TrainErr >= 0 {
		train = fmt.Sprintf(", train error %.2f%%", 100*r.TrainErr)
	}
	failed := ""
	if r.Failed > 0 {
		failed = fmt.Sprintf(", %d of %d steps failed", r.Failed, r.Steps)
	}
	fmt.Fprintf(p.w, "%s epoch %d/%d: train loss %.4f%s, test error %.2f%%%s; %.0f img/s, %s training + %s evaluation\n",
		p.title, r.Epoch, s.Plan.Epochs, r.TrainLoss, train, 100*r.TestErr, failed,
		float64(r.Images+r.Failed*s.Plan.Batch)/r.TrainSeconds, duration(r.TrainSeconds), duration(r.EvalSeconds))
}

// chunkDone is the line of a stretch of a long run that did not end an epoch.
func (p *progress) chunkDone(s *state) {
	p.clear()
	if p.steps == 0 {
		return
	}
	fmt.Fprintf(p.w, "%s steps %d-%d of %d: last loss %.4f; %.0f img/s, %.0f ms/step\n",
		p.title, p.chunkFrom+1, s.Steps, s.Plan.StepsPerEpoch*s.Plan.Epochs, s.Losses[len(s.Losses)-1],
		p.rate(), 1000*time.Since(p.t0).Seconds()/float64(p.steps))
}

// duration formats seconds as 1h02m, 3m05s or 12s.
func duration(sec float64) string {
	d := time.Duration(sec * float64(time.Second)).Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}
