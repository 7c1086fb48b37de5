package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/resgen/resgen/dataset"
	rt "github.com/resgen/resgen/runtime"
)

// Fashion-MNIST's training-set mean and standard deviation, as
// reference/fashion.py normalizes.
const dataMean, dataStd = 0.2860, 0.3530

// augSalt separates the augmentation generator from dataset.Shuffle's,
// which is seeded by the same (seed, epoch).
const augSalt = 0x9e3779b97f4a7c15

// A plan is what one network's run does. A saved state resumes only under
// the same plan, so a changed budget never mixes two schedules.
type plan struct {
	Net           string
	Batch         int
	Epochs        int // the budget
	StepsPerEpoch int // batches per epoch; the last of a full pass may be short
	TrainN        int // training images used (the first TrainN)
	TrainEvalN    int // images of the clean training-error pass; 0: none
	TestN         int // test images evaluated at the end of each epoch
	LR            float64
	Momentum      float64
	WeightDecay   float64
	Drops         bool // learning rate ÷10 at 50% and at 75% of the steps
	WarmupSteps   int  // steps at WarmupLR before LR (the paper's recipe for 110 layers and more)
	WarmupLR      float64
	NormSteps     []int // steps (1-based, counted over the run) after which GradNorms is recorded
	Seed          uint64
	Augment       dataset.Augment
}

// lr is the learning rate of step i (0-based, over the run): the paper
// divides it by 10 at 32k and 48k of 64k iterations, i.e. at 50% and 75%.
func (p *plan) lr(i int) float64 {
	total := p.Epochs * p.StepsPerEpoch
	switch {
	case i < p.WarmupSteps:
		return p.WarmupLR
	case !p.Drops:
		return p.LR
	case 4*i >= 3*total:
		return p.LR / 100
	case 2*i >= total:
		return p.LR / 10
	}
	return p.LR
}

// epochResult is what one epoch measured.
type epochResult struct {
	Epoch        int     // 1-based
	LR           float64 // at the epoch's last step
	TrainLoss    float64 // mean Step loss over the augmented batches as seen (failed steps excluded)
	TrainErr     float64 // clean pass over TrainEvalN training images in evaluation mode; -1 if none
	TestErr      float64 // over TestN test images in evaluation mode
	TestLoss     float64 // −1 if some output was not finite
	NonFinite    int     // test images whose outputs were not all finite (counted as errors)
	Images       int     // trained on
	Steps        int     // Steps called
	Failed       int     // Steps refused for a non-finite loss or gradient
	TrainSeconds float64 // wall time of batch preparation and Steps
	EvalSeconds  float64
	Threads      int
}

// normRecord is the gradient norms after one step.
type normRecord struct {
	Step  int
	Norms []paramNorm // a non-finite norm is stored as −1 (JSON has no Inf)
}

// epochAcc accumulates the epoch in progress.
type epochAcc struct {
	LossSum      float64
	Images       int
	Steps        int
	Failed       int
	TrainSeconds float64
}

// A state is one network's run so far; it is saved as NAME.json in the
// state directory, beside the checkpoint it names.
type state struct {
	Plan    plan
	Epoch   int    // epochs completed
	Step    int    // steps done in epoch Epoch
	Steps   int    // steps done in all
	RNG     []byte // augmentation generator after Step steps of epoch Epoch
	Weights string // the checkpoint (Trainer.Save), a file in the state directory; "" before the first
	Cur     epochAcc
	Epochs  []epochResult
	Losses  []float64 // every step's loss; −1 when the step failed with a non-finite loss
	Failed  []int     // steps (1-based) that failed
	Errors  []string  // the first few failures, as the Trainer worded them
	Norms   []normRecord
	Resumes int // times this run was resumed from a checkpoint (each restarts SGD momentum)
	Threads int // of the process that trained last
}

func (s *state) done() bool { return s.Epoch >= s.Plan.Epochs }

// experiment runs plans and keeps their state in dir.
type experiment struct {
	ctx     context.Context // cancelled on SIGINT/SIGTERM: checkpoint and stop
	dir     string
	threads int
	every   int // checkpoint every this many steps (and at each epoch end)
	train   *dataset.Images
	trainY  []uint8
	test    *dataset.Images
	testY   []uint8
	prog    *progress
	stopAt  int // testing: stop (as if interrupted) after this many steps of this process; 0: never
	stepped int // steps run by this process
}

var errStopped = errors.New("stopped; rerun the same command to resume")

func (e *experiment) statePath(net string) string { return filepath.Join(e.dir, net+".json") }

// load returns the saved state of p's network, or a fresh one. It refuses
// a state saved under another plan.
func (e *experiment) load(p plan) (*state, error) {
	path := e.statePath(p.Net)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &state{Plan: p}, nil
	}
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if !reflect.DeepEqual(s.Plan, p) {
		old, _ := json.Marshal(s.Plan)
		want, _ := json.Marshal(p)
		return nil, fmt.Errorf("%s was saved under another plan:\n\thave %s\n\twant %s\nremove it, or pass another -state directory", path, old, want)
	}
	return &s, nil
}

// open makes the Trainer of s: from its checkpoint, or initialized.
func (e *experiment) open(n *netInfo, s *state) (trainer, error) {
	c := trainConfig{LR: s.Plan.LR, Momentum: s.Plan.Momentum, WeightDecay: s.Plan.WeightDecay, Threads: e.threads, Seed: s.Plan.Seed}
	var w []byte
	if s.Weights != "" {
		var err error
		if w, err = os.ReadFile(filepath.Join(e.dir, s.Weights)); err != nil {
			return nil, fmt.Errorf("resuming %s: %v", n.Name, err)
		}
		s.Resumes++
	}
	t, err := n.New(w, c)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", n.Name, err)
	}
	s.Threads = e.threads
	return t, nil
}

// checkpoint saves the Trainer and then the state that names it, each
// through a temporary file and a rename, so that a crash at any moment
// leaves a state and the checkpoint it names. rng is the augmentation
// generator of the epoch in progress.
func (e *experiment) checkpoint(s *state, t trainer, rng *rand.PCG) error {
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		return err
	}
	var err error
	if s.RNG, err = rng.MarshalBinary(); err != nil {
		return err
	}
	name := fmt.Sprintf("%s-%07d.safetensors", s.Plan.Net, s.Steps)
	old := s.Weights
	if name != old {
		if err := writeFileAtomic(filepath.Join(e.dir, name), t.Save); err != nil {
			return err
		}
	}
	s.Weights = name
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	err = writeFileAtomic(e.statePath(s.Plan.Net), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
	if err != nil {
		return err
	}
	if old != "" && old != name {
		os.Remove(filepath.Join(e.dir, old))
	}
	return nil
}

// writeFileAtomic writes path through a temporary file in the same
// directory and a rename.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = f.Chmod(0o644) // CreateTemp makes it 0600
	if err == nil {
		err = write(f)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %v", path, err)
	}
	return nil
}

// advance trains s for at most k steps, stopping at the end of the epoch;
// there it evaluates and records the epoch. It checkpoints every e.every
// steps, at the epoch's end, and when stopped.
func (e *experiment) advance(n *netInfo, s *state, t trainer, k int) error {
	p := &s.Plan
	const px = 28 * 28
	order := dataset.Shuffle(p.TrainN, p.Seed, s.Epoch)
	rng := rand.NewPCG(p.Seed^augSalt, uint64(s.Epoch))
	if s.Step > 0 {
		if err := rng.UnmarshalBinary(s.RNG); err != nil {
			return fmt.Errorf("%s: resuming the augmentation generator: %v", n.Name, err)
		}
	}
	r := rand.New(rng)
	x := make([]float32, p.Batch*px)
	y := make([]int32, p.Batch)
	e.prog.start(n.Title, s)
	for end := min(p.StepsPerEpoch, s.Step+k); s.Step < end; {
		if e.ctx.Err() != nil || (e.stopAt > 0 && e.stepped >= e.stopAt) {
			e.prog.clear()
			if err := e.checkpoint(s, t, rng); err != nil {
				return err
			}
			return errStopped
		}
		t0 := time.Now()
		lo := s.Step * p.Batch % p.TrainN
		idx := order[lo:min(lo+p.Batch, p.TrainN)]
		xb := x[:len(idx)*px]
		if err := e.train.AugmentedBatch(xb, idx, dataMean, dataStd, p.Augment, r); err != nil {
			return err
		}
		for i, j := range idx {
			y[i] = int32(e.trainY[j])
		}
		t.SetLR(p.lr(s.Steps))
		loss, err := t.Step(xb, y[:len(idx)])
		s.Step++
		s.Steps++
		e.stepped++
		s.Cur.Steps++
		if err != nil {
			// Any other Step error (lengths, labels) is a bug here; a
			// non-finite loss or gradient is a result: the Trainer refuses
			// the update and says so.
			if !strings.Contains(err.Error(), "updated") {
				return err
			}
			s.Cur.Failed++
			s.Failed = append(s.Failed, s.Steps)
			if len(s.Errors) < 5 {
				s.Errors = append(s.Errors, err.Error())
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				loss = -1
			}
		} else {
			s.Cur.LossSum += loss * float64(len(idx))
			s.Cur.Images += len(idx)
		}
		s.Losses = append(s.Losses, loss)
		if contains(p.NormSteps, s.Steps) {
			s.Norms = append(s.Norms, normRecord{Step: s.Steps, Norms: finiteNorms(t.norms())})
		}
		s.Cur.TrainSeconds += time.Since(t0).Seconds()
		e.prog.step(s, len(idx), loss)
		if s.Step%e.every == 0 && s.Step < p.StepsPerEpoch {
			if err := e.checkpoint(s, t, rng); err != nil {
				return err
			}
		}
	}
	if s.Step < p.StepsPerEpoch {
		return e.checkpoint(s, t, rng)
	}
	e.prog.evaluating(s)
	t0 := time.Now()
	res := epochResult{
		Epoch:        s.Epoch + 1,
		LR:           p.lr(s.Steps - 1),
		TrainLoss:    s.Cur.LossSum / float64(max(s.Cur.Images, 1)),
		TrainErr:     -1,
		Images:       s.Cur.Images,
		Steps:        s.Cur.Steps,
		Failed:       s.Cur.Failed,
		TrainSeconds: s.Cur.TrainSeconds,
		Threads:      e.threads,
	}
	if s.Cur.Images == 0 {
		res.TrainLoss = -1
	}
	var err error
	if p.TrainEvalN > 0 {
		if res.TrainErr, _, _, err = evaluate(t, e.train, e.trainY, p.TrainEvalN, p.Batch); err != nil {
			return fmt.Errorf("%s: %v", n.Name, err)
		}
	}
	if res.TestErr, res.TestLoss, res.NonFinite, err = evaluate(t, e.test, e.testY, p.TestN, p.Batch); err != nil {
		return fmt.Errorf("%s: %v", n.Name, err)
	}
	res.EvalSeconds = time.Since(t0).Seconds()
	s.Epochs = append(s.Epochs, res)
	s.Epoch++
	s.Step = 0
	s.Cur = epochAcc{}
	e.prog.epochDone(s, res)
	// The next epoch's generator; saved so that a resume at the boundary
	// is like any other.
	return e.checkpoint(s, t, rand.NewPCG(p.Seed^augSalt, uint64(s.Epoch)))
}

// evaluate returns the error rate and the mean cross-entropy of t on the
// first n images, in batches of batch (the training batch size, so the
// Trainer's buffers do not grow). An image with a non-finite output counts
// as an error, and makes the loss −1.
func evaluate(t trainer, im *dataset.Images, labels []uint8, n, batch int) (errRate, loss float64, nonFinite int, err error) {
	const px, classes = 28 * 28, 10
	x := make([]float32, batch*px)
	out := make([]float32, batch*classes)
	idx := make([]int, 0, batch)
	wrong := 0
	for lo := 0; lo < n; lo += batch {
		idx = idx[:0]
		for i := lo; i < min(lo+batch, n); i++ {
			idx = append(idx, i)
		}
		xb, ob := x[:len(idx)*px], out[:len(idx)*classes]
		if err := im.Batch(xb, idx, dataMean, dataStd); err != nil {
			return 0, 0, 0, err
		}
		if err := t.Eval(ob, xb); err != nil {
			return 0, 0, 0, err
		}
		for k, i := range idx {
			z := ob[k*classes : (k+1)*classes]
			if rt.FirstNonFinite(z) >= 0 {
				nonFinite++
				wrong++
				continue
			}
			best := 0
			for c := range z {
				if z[c] > z[best] {
					best = c
				}
			}
			if best != int(labels[i]) {
				wrong++
			}
			loss += crossEntropy(z, int(labels[i]))
		}
	}
	if nonFinite > 0 {
		loss = -1 * float64(n)
	}
	return float64(wrong) / float64(n), loss / float64(n), nonFinite, nil
}

// crossEntropy is −log softmax(z)[label], in float64.
func crossEntropy(z []float32, label int) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	sum := 0.0
	for _, v := range z {
		sum += math.Exp(float64(v) - m)
	}
	return m + math.Log(sum) - float64(z[label])
}

func finiteNorms(ns []paramNorm) []paramNorm {
	for i := range ns {
		if math.IsNaN(ns[i].Norm) || math.IsInf(ns[i].Norm, 0) {
			ns[i].Norm = -1
		}
	}
	return ns
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// loadStates reads every state in dir, keyed by network name; networks
// without one are absent.
func loadStates(dir string) (map[string]*state, error) {
	out := map[string]*state{}
	for _, n := range nets {
		path := filepath.Join(dir, n.Name+".json")
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var s state
		d := json.NewDecoder(bytes.NewReader(b))
		if err := d.Decode(&s); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		out[n.Name] = &s
	}
	return out, nil
}
