package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// reportInfo is what the report says about how it was made.
type reportInfo struct {
	Config   config
	StateDir string
	Smoke    bool
	Every    int
}

// The image files, beside degradation.md.
const (
	errorPNG = "degradation-error.png"
	normPNG  = "degradation-gradnorms.png"
	deepPNG  = "degradation-1202.png"
)

// The projection's target: the paper's CIFAR-10 runs.
const (
	projEpochs, projImages, projPixels = 200, 50000, 32 * 32
	ourPixels                          = 28 * 28
)

// writeReport writes dir/degradation.md and its plots from the states in
// stateDir, whatever has finished.
func writeReport(stateDir, dir string, info reportInfo) error {
	states, err := loadStates(stateDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r := &report{states: states, info: info}
	md := r.markdown()
	for _, img := range []struct {
		name string
		draw func() (*vgimg.Canvas, error)
	}{
		{errorPNG, r.errorPlot},
		{normPNG, r.normPlot},
		{deepPNG, r.deepPlot},
	} {
		c, err := img.draw()
		if err != nil {
			return fmt.Errorf("%s: %v", img.name, err)
		}
		err = writeFileAtomic(filepath.Join(dir, img.name), func(w io.Writer) error {
			_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
			return err
		})
		if err != nil {
			return err
		}
	}
	return writeFileAtomic(filepath.Join(dir, "degradation.md"), func(w io.Writer) error {
		_, err := io.WriteString(w, md)
		return err
	})
}

type report struct {
	states map[string]*state
	info   reportInfo
	b      strings.Builder
}

func (r *report) p(format string, args ...any) { fmt.Fprintf(&r.b, format, args...) }

// shallow are the four networks of Fig. 6 that have a state.
func (r *report) shallow() []*netInfo {
	var out []*netInfo
	for _, n := range nets {
		if !isDeep(n) && r.states[n.Name] != nil {
			out = append(out, n)
		}
	}
	return out
}

func (r *report) markdown() string {
	r.p("# The degradation experiment on Fashion-MNIST\n\n")
	r.p("Written by `go run ./examples/degradation` from the state in `%s` on %s; rerun it to resume, or `-report-only` to rewrite this page. Do not edit by hand.\n\n",
		r.info.StateDir, time.Now().UTC().Format("2006-01-02 15:04 MST"))
	if r.info.Smoke {
		r.p("**This is a smoke run** (`-smoke`): a few steps on a few hundred images. Its numbers say that the program works, nothing about the networks.\n\n")
	}
	if len(r.states) == 0 {
		r.p("Nothing has run yet.\n")
		return r.b.String()
	}
	r.p("He et al. 2015 (§4.2, Fig. 6) train plain networks and ResNets of 20 to 110 layers on CIFAR-10: plain-56 ends with a *higher training error* than plain-20 (the degradation problem), while ResNet-56 ends lower than ResNet-20, and ResNet-1202 still trains. ")
	r.p("This page repeats that with the trainers resgen generates (`resgen build -train`, pure Go) on Fashion-MNIST.\n\n")
	r.recipe()
	r.results()
	r.timing()
	r.gradients()
	r.deep()
	r.conclusions()
	return r.b.String()
}

func (r *report) recipe() {
	c := r.info.Config
	total := c.Epochs * ((c.TrainN + c.Batch - 1) / c.Batch)
	r.p("## Recipe\n\n")
	r.p("- Data: Fashion-MNIST, %d training images (1×28×28, normalized with mean %.4f and std %.4f), %d test images; each training batch is a 2-pixel padded random crop plus a random horizontal flip of each image, shuffled anew each epoch (seed %d).\n",
		c.TrainN, dataMean, dataStd, c.TestN, c.Seed)
	r.p("- Networks: resgen's presets `cifar-plain20`, `cifar-plain56`, `cifar-resnet20`, `cifar-resnet56` (option A shortcuts) with `--input 1x28x28`, generated with `-train` into examples/degradation/nets/.\n")
	r.p("- Optimizer, as the paper: SGD, learning rate %g, momentum %g, weight decay %g, batch %d; the learning rate is divided by 10 at 50%% and 75%% of the budget.\n", c.LR, c.Momentum, c.WeightDecay, c.Batch)
	r.p("- **Budget: %d epochs** = %d steps (learning rate %g from step %d, %g from step %d). The paper trains 64k steps (164 epochs of CIFAR-10's 50k images).\n",
		c.Epochs, total, c.LR/10, total/2+1, c.LR/100, (3*total+3)/4+1)
	r.p("- Initialization: the generated Trainer's default, PyTorch's (U(±1/√fan_in) for convolutions and the linear layer, BatchNorm γ = 1, β = 0), not the paper's He normal initialization.\n")
	r.p("- Training error: a clean pass (no augmentation, BatchNorm in evaluation mode, `Trainer.Eval`) over the first %d training images after each epoch, not the error on the augmented batches as seen, which Step does not return. The training loss column is the mean loss of the augmented batches as seen. Test error: all %d test images, evaluation mode.\n", c.TrainEvalN, c.TestN)
	r.p("- Checkpoints after each epoch and every %d steps. A resumed run restarts SGD's momentum buffers (Trainer.Save writes the state_dict only), like a new torch.optim.SGD; the tables say how often that happened.\n\n", r.info.Every)
}

func pct(x float64) string {
	if x < 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f%%", 100*x)
}

// partial says how far a run got, or "" when it is done.
func partial(s *state) string {
	if s.done() {
		return ""
	}
	return fmt.Sprintf(" (partial: %d of %d epochs)", s.Epoch, s.Plan.Epochs)
}

// trainRate is the measured images per second of a run's finished epochs
// (failed steps count: they ran forward and backward too).
func trainRate(s *state) (imagesPerSec float64, threads int) {
	var img, sec float64
	for _, e := range s.Epochs {
		img += float64(e.Images + e.Failed*s.Plan.Batch)
		sec += e.TrainSeconds
		threads = e.Threads
	}
	if sec == 0 {
		img, sec, threads = float64(s.Cur.Images+s.Cur.Failed*s.Plan.Batch), s.Cur.TrainSeconds, s.Threads
	}
	if sec == 0 {
		return 0, threads
	}
	return img / sec, threads
}

func (r *report) results() {
	r.p("## Results\n\n")
	r.p("| network | layers | parameters | epochs done | training error (clean) | training loss (augmented) | test error | training time per epoch | evaluation time | resumes |\n")
	r.p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range r.shallow() {
		s := r.states[n.Name]
		if len(s.Epochs) == 0 {
			r.p("| %s | %d | %d | 0 of %d (step %d of %d) | – | – | – | – | – | %d |\n", n.Title, n.Depth, n.Params, s.Plan.Epochs, s.Step, s.Plan.StepsPerEpoch, s.Resumes)
			continue
		}
		last := s.Epochs[len(s.Epochs)-1]
		var train, eval float64
		for _, e := range s.Epochs {
			train += e.TrainSeconds
			eval += e.EvalSeconds
		}
		k := float64(len(s.Epochs))
		r.p("| %s | %d | %d | %d of %d | %s | %.4f | %s | %s | %s | %d |\n", n.Title, n.Depth, n.Params, s.Epoch, s.Plan.Epochs,
			pct(last.TrainErr), last.TrainLoss, pct(last.TestErr), duration(train/k), duration(eval/k), s.Resumes)
	}
	r.p("\nErrors after the last finished epoch of each run. Per-epoch curves:\n\n![training and test error per epoch](%s)\n\n", errorPNG)
	r.p("Solid lines: test error; dashed: training error (clean pass), as in the paper's Fig. 6.\n\n")
	for _, n := range r.shallow() {
		s := r.states[n.Name]
		if len(s.Errors) > 0 {
			r.p("%s: %d steps failed (non-finite), first: `%s`\n\n", n.Title, len(s.Failed), s.Errors[0])
		}
	}
}

func (r *report) timing() {
	r.p("## Time\n\n")
	r.p("Measured wall time of the training steps (batch preparation included, evaluation excluded) on this machine, 2 cores shared with other work, so the numbers are upper bounds. ")
	r.p("Projected: the paper's schedule length of %d epochs of %d CIFAR images of 32×32, scaling the time per image by the pixels (32·32 / 28·28 = %.3f; the convolutions' work is proportional to H·W):\n\n", projEpochs, projImages, float64(projPixels)/ourPixels)
	r.p("| network | threads | images/s | ms per 28×28 image | per epoch of %d | projected %d epochs × %d × 32×32 |\n|---|---:|---:|---:|---:|---|\n", r.info.Config.TrainN, projEpochs, projImages)
	for _, n := range nets {
		s := r.states[n.Name]
		if s == nil {
			continue
		}
		rate, threads := trainRate(s)
		if rate == 0 {
			continue
		}
		ms := 1000 / rate
		proj := float64(projEpochs*projImages) * ms / 1000 * float64(projPixels) / ourPixels
		epoch := "–"
		if !isDeep(n) {
			epoch = duration(float64(s.Plan.TrainN) / rate)
		}
		r.p("| %s | %d | %.0f | %.2f | %s | %d × %d × %.2f ms × %.3f = %.0f h (%.1f days) |\n", n.Title, threads, rate, ms, epoch,
			projEpochs, projImages, ms, float64(projPixels)/ourPixels, proj/3600, proj/86400)
	}
	r.p("\n")
}

// layerNorms picks the weights of the convolutions and the linear layer
// out of a GradNorms list, in order: one value per weighted layer.
func layerNorms(ns []paramNorm) []paramNorm {
	var out []paramNorm
	for _, n := range ns {
		if strings.HasSuffix(n.Name, ".weight") && (strings.Contains(n.Name, "conv") || strings.HasPrefix(n.Name, "fc.")) {
			out = append(out, n)
		}
	}
	return out
}

func (r *report) normsAt(net string, step int) []paramNorm {
	s := r.states[net]
	if s == nil {
		return nil
	}
	for _, rec := range s.Norms {
		if rec.Step == step {
			return layerNorms(rec.Norms)
		}
	}
	return nil
}

// ends returns the gradient norm of the first and the last convolution.
func ends(ns []paramNorm) (first, last float64) {
	first, last = -1, -1
	for _, n := range ns {
		if strings.HasPrefix(n.Name, "fc.") {
			continue
		}
		if first < 0 {
			first = n.Norm
		}
		last = n.Norm
	}
	return first, last
}

func (r *report) gradients() {
	c := r.info.Config
	r.p("## Gradient norms\n\n")
	r.p("`Trainer.GradNorms` after step 1 (initialization) and after step %d of the runs above: the L2 norm of each convolution's (and the final linear layer's) weight gradient, by layer index from the input (1) to the output.\n\n", c.NormSteps[len(c.NormSteps)-1])
	r.p("![gradient norms per layer](%s)\n\n", normPNG)
	r.p("| network | after step | first conv | last conv | first / last | fc | non-finite |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, net := range []string{"plain56", "resnet56", "plain20", "resnet20", "plain1202", "resnet1202"} {
		s := r.states[net]
		if s == nil {
			continue
		}
		for _, rec := range s.Norms {
			ns := layerNorms(rec.Norms)
			first, last := ends(ns)
			bad, fc := 0, -1.0
			for _, n := range ns {
				if n.Norm < 0 {
					bad++
				}
				if strings.HasPrefix(n.Name, "fc.") {
					fc = n.Norm
				}
			}
			ratio := "–"
			if first > 0 && last > 0 {
				ratio = fmt.Sprintf("%.3g", first/last)
			}
			r.p("| %s | %d | %s | %s | %s | %s | %d of %d |\n", netByName(net).Title, rec.Step, norm(first), norm(last), ratio, norm(fc), bad, len(ns))
		}
	}
	r.p("\n")
}

func norm(x float64) string {
	if x < 0 {
		return "non-finite"
	}
	return fmt.Sprintf("%.3g", x)
}

// lossWindow is the moving average of the deep runs' loss curves.
const lossWindow = 20

// meanLoss averages the successful losses of steps [i, j).
func meanLoss(ls []float64, i, j int) float64 {
	sum, n := 0.0, 0
	for _, l := range ls[max(i, 0):min(j, len(ls))] {
		if l >= 0 {
			sum += l
			n++
		}
	}
	if n == 0 {
		return -1
	}
	return sum / float64(n)
}

func (r *report) deep() {
	r.p("## ResNet-1202 and plain-1202\n\n")
	c := r.info.Config
	r.p("%d steps at batch %d; learning rate %g for the first %d steps, then %g: the paper's recipe for 110 layers and more (\"0.1 is slightly too large to start converging\", so it warms up at 0.01 for about 400 iterations); same momentum, weight decay and augmentation; test error over the first %d test images at the end (outputs that are not finite count as errors).\n\n",
		c.DeepSteps, c.DeepBatch, c.LR/10, c.DeepWarmup, c.LR, c.DeepTestN)
	r.p("| network | parameters | steps done | failed steps | mean loss, first %d | mean loss, last %d | test error | ms per step | resumes |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n", lossWindow, lossWindow)
	any := false
	for _, n := range nets {
		s := r.states[n.Name]
		if !isDeep(n) || s == nil {
			continue
		}
		any = true
		test := "–"
		if len(s.Epochs) > 0 {
			test = pct(s.Epochs[0].TestErr)
			if k := s.Epochs[0].NonFinite; k > 0 {
				test += fmt.Sprintf(" (%d non-finite)", k)
			}
		}
		rate, _ := trainRate(s)
		ms := "–"
		if rate > 0 {
			ms = fmt.Sprintf("%.0f", 1000*float64(s.Plan.Batch)/rate)
		}
		r.p("| %s | %d | %d of %d | %d | %s | %s | %s | %s | %d |\n", n.Title, n.Params, s.Steps, s.Plan.StepsPerEpoch, len(s.Failed),
			lossStr(meanLoss(s.Losses, 0, lossWindow)), lossStr(meanLoss(s.Losses, len(s.Losses)-lossWindow, len(s.Losses))), test, ms, s.Resumes)
	}
	if !any {
		r.p("| (not run yet) |||||||||\n")
	}
	r.p("\n![loss per step of the 1202-layer networks](%s)\n\n", deepPNG)
	for _, n := range nets {
		s := r.states[n.Name]
		if isDeep(n) && s != nil && len(s.Errors) > 0 {
			r.p("%s: %d of %d steps refused by the Trainer; the first: `%s`\n\n", n.Title, len(s.Failed), s.Steps, s.Errors[0])
		}
	}
}

func lossStr(x float64) string {
	if x < 0 {
		return "–"
	}
	return fmt.Sprintf("%.4f", x)
}

// conclusions compares the runs at the last epoch all four finished, so
// a partial report compares like with like.
func (r *report) conclusions() {
	r.p("## What this shows\n\n")
	common := math.MaxInt
	four := []string{"plain20", "plain56", "resnet20", "resnet56"}
	for _, net := range four {
		s := r.states[net]
		if s == nil {
			common = 0
			break
		}
		common = min(common, len(s.Epochs))
	}
	if common == 0 {
		r.p("Not every one of the four networks has finished an epoch yet; nothing to compare.\n\n")
	} else {
		at := func(net string) epochResult { return r.states[net].Epochs[common-1] }
		p20, p56, r20, r56 := at("plain20"), at("plain56"), at("resnet20"), at("resnet56")
		budget := r.states["plain20"].Plan.Epochs
		if common < budget {
			r.p("**Partial**: compared after epoch %d of %d, the last one all four networks finished.\n\n", common, budget)
		} else {
			r.p("After all %d epochs:\n\n", budget)
		}
		if p56.TrainErr > p20.TrainErr {
			r.p("- Plain networks: plain-56 has the higher training error (%s against plain-20's %s) and test error %s against %s: the deeper plain network is harder to optimize, the degradation of the paper's Fig. 6 (left).\n",
				pct(p56.TrainErr), pct(p20.TrainErr), pct(p56.TestErr), pct(p20.TestErr))
		} else {
			r.p("- Plain networks: plain-56's training error (%s) is not higher than plain-20's (%s), unlike the paper's Fig. 6 (left); test error %s against %s.\n",
				pct(p56.TrainErr), pct(p20.TrainErr), pct(p56.TestErr), pct(p20.TestErr))
		}
		if r56.TrainErr < r20.TrainErr {
			r.p("- ResNets: ResNet-56 reaches the lower training error (%s against ResNet-20's %s; test %s against %s), as in Fig. 6 (right): with shortcuts, depth helps.\n",
				pct(r56.TrainErr), pct(r20.TrainErr), pct(r56.TestErr), pct(r20.TestErr))
		} else {
			r.p("- ResNets: ResNet-56's training error (%s) is not lower than ResNet-20's (%s; test %s against %s), unlike Fig. 6 (right).\n",
				pct(r56.TrainErr), pct(r20.TrainErr), pct(r56.TestErr), pct(r20.TestErr))
		}
		r.p("- Training loss on the augmented batches as seen (BatchNorm on each batch's statistics, not the running ones): plain-20 %.4f, plain-56 %.4f, ResNet-20 %.4f, ResNet-56 %.4f.",
			p20.TrainLoss, p56.TrainLoss, r20.TrainLoss, r56.TrainLoss)
		if (r56.TrainLoss < p56.TrainLoss) != (r56.TrainErr < p56.TrainErr) {
			r.p(" It ranks ResNet-56 and plain-56 the other way round from the clean pass, which runs BatchNorm on its running statistics; a likely cause (not measured here) is that those lag the weights while the learning rate is high.")
		}
		r.p("\n")
		r.p("- At 56 layers the shortcuts are worth %+.2f points of training error and %+.2f of test error (plain-56 minus ResNet-56); at 20 layers %+.2f and %+.2f.\n",
			100*(p56.TrainErr-r56.TrainErr), 100*(p56.TestErr-r56.TestErr), 100*(p20.TrainErr-r20.TrainErr), 100*(p20.TestErr-r20.TestErr))
		if common < budget || budget < 50 {
			r.p("- Caveat: %s is a short budget next to the paper's 164, and Fashion-MNIST (grey 28×28 pictures of clothing) is not CIFAR-10: the signs of the gaps can be compared with the paper, their sizes cannot.\n", plural(common, "epoch"))
		}
		r.p("\n")
	}
	r.gradientSentences()
	r.deepSentences()
}

func (r *report) gradientSentences() {
	for _, step := range r.info.Config.NormSteps {
		var parts []string
		for _, net := range []string{"plain56", "resnet56"} {
			first, last := ends(r.normsAt(net, step))
			if first <= 0 || last <= 0 {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s's first convolution gets %.3g against %.3g at its last: %s",
				netByName(net).Title, first, last, trend(first/last)))
		}
		if len(parts) > 0 {
			r.p("- Gradients after step %d: %s.\n", step, strings.Join(parts, "; "))
		}
	}
	r.p("\n")
}

// trend says what a first-to-last gradient-norm ratio means.
func trend(ratio float64) string {
	switch {
	case ratio < 0.1:
		return fmt.Sprintf("the gradient shrinks %.3g× toward the input (it vanishes)", 1/ratio)
	case ratio > 10:
		return fmt.Sprintf("the gradient grows %.3g× toward the input (it explodes rather than vanishes)", ratio)
	}
	return fmt.Sprintf("within a factor of 10 (ratio %.3g), neither vanishing nor exploding", ratio)
}

func (r *report) deepSentences() {
	for _, net := range []string{"resnet1202", "plain1202"} {
		s := r.states[net]
		if s == nil || len(s.Losses) == 0 {
			continue
		}
		title := netByName(net).Title
		first, last := meanLoss(s.Losses, 0, lossWindow), meanLoss(s.Losses, len(s.Losses)-lossWindow, len(s.Losses))
		state := fmt.Sprintf("after %d of %d steps", s.Steps, s.Plan.StepsPerEpoch)
		switch {
		case len(s.Failed) == len(s.Losses):
			r.p("- %s %s: every step was refused (a non-finite gradient); it did not train at all. ", title, state)
		case first >= 0 && last >= 0 && last < first:
			r.p("- %s %s: the loss fell from %.3f (mean of the first %d steps) to %.3f (last %d); it trains. ", title, state, first, lossWindow, last, lossWindow)
		case first >= 0 && last >= 0:
			r.p("- %s %s: the loss did not fall (%.3f over the first %d steps, %.3f over the last %d). ", title, state, first, lossWindow, last, lossWindow)
		}
		if len(s.Failed) > 0 && len(s.Failed) < len(s.Losses) {
			r.p("%d steps were refused for a non-finite gradient. ", len(s.Failed))
		}
		if len(s.Epochs) > 0 {
			r.p("Test error on %d images: %s.", s.Plan.TestN, pct(s.Epochs[0].TestErr))
		}
		r.p("\n")
	}
	r.p("\n")
}

// Colors by depth, the same in every plot.
var depthColor = map[int]color.Color{
	20: color.RGBA{0, 114, 178, 255},
	56: color.RGBA{213, 94, 0, 255},
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.X.Label.TextStyle.Font.Size = vg.Points(11)
	p.Y.Label.TextStyle.Font.Size = vg.Points(11)
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Add(plotter.NewGrid())
	return p
}

func addLine(p *plot.Plot, xys plotter.XYs, label string, c color.Color, width vg.Length, dashed bool) error {
	if len(xys) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	l.Color = c
	l.Width = width
	if dashed {
		l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	}
	p.Add(l)
	if label != "" {
		p.Legend.Add(label, l)
	}
	return nil
}

// addPoints marks each point, so that a curve of one epoch shows.
func addPoints(p *plot.Plot, xys plotter.XYs, c color.Color) error {
	if len(xys) == 0 {
		return nil
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return err
	}
	sc.GlyphStyle.Color = c
	sc.GlyphStyle.Radius = vg.Points(2.2)
	sc.GlyphStyle.Shape = draw.CircleGlyph{}
	p.Add(sc)
	return nil
}

// tile draws plots side by side on one canvas.
func tile(w, h vg.Length, plots ...*plot.Plot) *vgimg.Canvas {
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(120))
	dc := draw.New(c)
	t := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Millimeter * 6, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := plot.Align([][]*plot.Plot{plots}, t, dc)
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}
	return c
}

func (r *report) errorPlot() (*vgimg.Canvas, error) {
	panels := map[bool]*plot.Plot{
		false: newPlot("plain networks", "epoch", "error (%)"),
		true:  newPlot("ResNets", "epoch", "error (%)"),
	}
	hi, epochs := 0.0, 1
	progress := map[bool][]string{} // epochs done of the unfinished runs, by panel
	for _, n := range r.shallow() {
		s := r.states[n.Name]
		var train, test plotter.XYs
		for _, e := range s.Epochs {
			if e.TrainErr >= 0 {
				train = append(train, plotter.XY{X: float64(e.Epoch), Y: 100 * e.TrainErr})
			}
			test = append(test, plotter.XY{X: float64(e.Epoch), Y: 100 * e.TestErr})
			hi = math.Max(hi, 100*math.Max(e.TrainErr, e.TestErr))
		}
		epochs = max(epochs, s.Plan.Epochs)
		p := panels[n.Residual]
		label := n.Title
		if !s.done() {
			progress[n.Residual] = append(progress[n.Residual], fmt.Sprintf("%s %d", n.Title, s.Epoch))
		}
		if err := addLine(p, test, label+" test", depthColor[n.Depth], vg.Points(2.2), false); err != nil {
			return nil, err
		}
		if err := addLine(p, train, label+" train", depthColor[n.Depth], vg.Points(1.2), true); err != nil {
			return nil, err
		}
		if err := addPoints(p, test, depthColor[n.Depth]); err != nil {
			return nil, err
		}
		if err := addPoints(p, train, depthColor[n.Depth]); err != nil {
			return nil, err
		}
	}
	for _, p := range panels {
		p.X.Min, p.X.Max = 0, float64(epochs)
		p.Y.Min, p.Y.Max = 0, math.Max(5, math.Ceil(hi*1.15))
	}
	p0, p1 := panels[false], panels[true]
	p0.Title.Text = "plain networks on Fashion-MNIST (solid: test, dashed: train)"
	p1.Title.Text = "ResNets on Fashion-MNIST (solid: test, dashed: train)"
	for residual, p := range panels {
		if ps := progress[residual]; len(ps) > 0 {
			p.Title.Text += fmt.Sprintf("\npartial: %s of %d epochs", strings.Join(ps, ", "), epochs)
		}
	}
	return tile(30*vg.Centimeter, 11*vg.Centimeter, p0, p1), nil
}

// Colors of the plain and the residual network where both share a panel.
var (
	plainColor    = color.RGBA{204, 0, 0, 255}
	residualColor = color.RGBA{0, 90, 181, 255}
)

func netColor(n *netInfo) color.Color {
	if n.Residual {
		return residualColor
	}
	return plainColor
}

func (r *report) normPlot() (*vgimg.Canvas, error) {
	steps := r.info.Config.NormSteps
	// series adds one network's norms after one step: dashed at
	// initialization, solid later.
	series := func(p *plot.Plot, net string, step int) (bool, error) {
		var xys plotter.XYs
		bad := 0
		for i, n := range r.normsAt(net, step) {
			if n.Norm > 0 {
				xys = append(xys, plotter.XY{X: float64(i + 1), Y: n.Norm})
			} else {
				bad++ // non-finite (stored as −1): no place on a log axis
			}
		}
		if len(xys) == 0 {
			return false, nil
		}
		n := netByName(net)
		what, width := fmt.Sprintf("after step %d", step), vg.Points(2)
		if step == 1 {
			what, width = "after step 1 (initialization)", vg.Points(1.2)
		}
		if bad > 0 {
			what += fmt.Sprintf(", %d non-finite not drawn", bad)
		}
		return true, addLine(p, xys, n.Title+" "+what, netColor(n), width, step == 1)
	}
	panel := func(title string, lines func(p *plot.Plot) (bool, error)) (*plot.Plot, error) {
		p := newPlot(title, "layer (1 = input side)", "‖∂loss/∂W‖₂ (log scale)")
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = decadeTicks{}
		ok, err := lines(p)
		if err != nil {
			return nil, err
		}
		if ok {
			// Room above the curves for the legend.
			lo, hi := math.Log10(p.Y.Min), math.Log10(p.Y.Max)
			p.Y.Max = math.Pow(10, hi+0.45*(hi-lo)+0.3)
			p.Y.Min = math.Pow(10, lo-0.1)
		}
		if !ok {
			p.Y.Scale = plot.LinearScale{}
			p.Y.Tick.Marker = plot.DefaultTicks{}
			p.Title.Text += " (not measured yet)"
		}
		return p, nil
	}
	p56, err := panel("weight-gradient norm per layer, 56 layers", func(p *plot.Plot) (bool, error) {
		any := false
		for _, net := range []string{"plain56", "resnet56"} {
			for _, step := range steps {
				ok, err := series(p, net, step)
				if err != nil {
					return false, err
				}
				any = any || ok
			}
		}
		return any, nil
	})
	if err != nil {
		return nil, err
	}
	pDeep, err := panel("the same at initialization, 1202 layers", func(p *plot.Plot) (bool, error) {
		any := false
		for _, net := range []string{"plain1202", "resnet1202"} {
			ok, err := series(p, net, 1)
			if err != nil {
				return false, err
			}
			any = any || ok
		}
		return any, nil
	})
	if err != nil {
		return nil, err
	}
	return tile(30*vg.Centimeter, 12*vg.Centimeter, p56, pDeep), nil
}

func (r *report) deepPlot() (*vgimg.Canvas, error) {
	p := newPlot(fmt.Sprintf("1202 layers on Fashion-MNIST, batch %d: training loss per step", r.info.Config.DeepBatch), "step", "cross-entropy loss (augmented batch)")
	avgMax := 0.0
	for _, net := range []string{"resnet1202", "plain1202"} {
		s := r.states[net]
		if s == nil {
			continue
		}
		var raw, avg plotter.XYs
		for i, l := range s.Losses {
			if l >= 0 {
				raw = append(raw, plotter.XY{X: float64(i + 1), Y: l})
			}
			if m := meanLoss(s.Losses, i+1-lossWindow, i+1); m >= 0 && i+1 >= min(lossWindow, len(s.Losses)) {
				avg = append(avg, plotter.XY{X: float64(i + 1), Y: m})
				avgMax = math.Max(avgMax, m)
			}
		}
		n := netByName(net)
		label := fmt.Sprintf("%s (%d of %d steps", n.Title, s.Steps, s.Plan.StepsPerEpoch)
		if len(s.Failed) > 0 {
			label += fmt.Sprintf(", %d refused", len(s.Failed))
		}
		label += ")"
		c := netColor(n).(color.RGBA)
		faint := color.RGBA{c.R/3 + 170, c.G/3 + 170, c.B/3 + 170, 255}
		if err := addLine(p, raw, "", faint, vg.Points(0.8), false); err != nil {
			return nil, err
		}
		if err := addLine(p, avg, label+fmt.Sprintf(", mean of %d", lossWindow), c, vg.Points(2), false); err != nil {
			return nil, err
		}
	}
	p.X.Min = 0
	p.Y.Min = 0
	// The raw losses of a diverging step would squash the curves: the
	// axis follows the moving averages (the table has the numbers).
	p.Y.Max = math.Max(3, 1.3*avgMax)
	return tile(20*vg.Centimeter, 12*vg.Centimeter, p), nil
}

// decadeTicks labels powers of ten, few enough to read over any range
// (plot.LogTicks labels every decade, which crowds a range of 40).
type decadeTicks struct{}

func (decadeTicks) Ticks(lo, hi float64) []plot.Tick {
	a, b := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	step := max(1, (b-a+7)/8)
	var ts []plot.Tick
	for k := a; k <= b; k++ {
		v := math.Pow(10, float64(k))
		if v < lo || v > hi {
			continue
		}
		t := plot.Tick{Value: v}
		if k%step == 0 {
			if k >= -3 && k <= 4 {
				t.Label = strconv.FormatFloat(v, 'f', -1, 64)
			} else {
				t.Label = fmt.Sprintf("1e%d", k)
			}
		}
		ts = append(ts, t)
	}
	return ts
}

// plural writes n and the noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
