package runtime

import (
	"errors"
	"fmt"
)

// Loader builds the kernels of a generated model from a safetensors file.
// Generated New calls it once per layer, straight-line; problems are
// collected so that one call to Err reports every missing or malformed
// tensor at once, each by name.
type Loader struct {
	w    *Weights
	errs []error
}

// NewLoader parses the weights: a safetensors file or a torch.save (.pth)
// file, told apart by content (see ReadWeights).
func NewLoader(weights []byte) (*Loader, error) {
	st, err := ReadWeights(weights)
	if err != nil {
		return nil, err
	}
	return &Loader{w: NewWeights(st)}, nil
}

// ConvParams names the state_dict tensors of a convolution or linear layer.
type ConvParams struct {
	Weight string
	Bias   string  // "" if the layer has no bias
	Linear bool    // weight is [out][in] rather than OIHW
	BN     string  // prefix of a BatchNorm folded into the layer, or ""
	Eps    float64 // the BatchNorm's epsilon
}

// Conv2D loads, folds and packs one convolution.
func (l *Loader) Conv2D(layer string, cfg ConvConfig, p ConvParams) *Conv2D {
	if cfg.Groups < 1 {
		cfg.Groups = 1
	}
	shape := []int{cfg.OutC, cfg.InC / cfg.Groups, cfg.KH, cfg.KW}
	if p.Linear {
		shape = []int{cfg.OutC, cfg.InC}
	}
	w := l.w.Tensor(p.Weight, shape...)
	var b []float32
	if p.Bias != "" {
		b = l.w.Tensor(p.Bias, cfg.OutC)
	}
	if p.BN != "" {
		gamma, beta, mean, variance := l.batchNorm(p.BN, cfg.OutC)
		w, b = FoldBatchNorm(w, b, gamma, beta, mean, variance, p.Eps)
	}
	c, err := NewConv2D(cfg, w, b)
	if err != nil {
		l.errs = append(l.errs, fmt.Errorf("layer %s: %w", layer, err))
	}
	return c
}

// ConvTranspose2D loads and packs one transposed convolution.
func (l *Loader) ConvTranspose2D(layer string, cfg ConvTransposeConfig, weight, bias string) *ConvTranspose2D {
	if cfg.Groups < 1 {
		cfg.Groups = 1
	}
	w := l.w.Tensor(weight, cfg.InC, cfg.OutC/cfg.Groups, cfg.KH, cfg.KW)
	var b []float32
	if bias != "" {
		b = l.w.Tensor(bias, cfg.OutC)
	}
	c, err := NewConvTranspose2D(cfg, w, b)
	if err != nil {
		l.errs = append(l.errs, fmt.Errorf("layer %s: %w", layer, err))
	}
	return c
}

// BatchNorm loads a standalone BatchNorm as a per-channel scale and shift.
func (l *Loader) BatchNorm(prefix string, c int, eps float64) (scale, shift []float32) {
	gamma, beta, mean, variance := l.batchNorm(prefix, c)
	return BatchNormAffine(gamma, beta, mean, variance, eps)
}

func (l *Loader) batchNorm(prefix string, c int) (gamma, beta, mean, variance []float32) {
	gamma, beta = l.w.Tensor(prefix+".weight", c), l.w.Tensor(prefix+".bias", c)
	mean, variance = l.w.Tensor(prefix+".running_mean", c), l.w.Tensor(prefix+".running_var", c)
	for i, v := range variance {
		if v < 0 {
			l.errs = append(l.errs, fmt.Errorf("tensor %q: variance %v at index %d is negative", prefix+".running_var", v, i))
			break
		}
	}
	return gamma, beta, mean, variance
}

// Err reports every problem met while loading, or nil.
func (l *Loader) Err() error {
	return errors.Join(append([]error{l.w.Err()}, l.errs...)...)
}
