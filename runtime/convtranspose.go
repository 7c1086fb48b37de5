package runtime

import (
	"fmt"
	"sort"
)

// ConvTransposeConfig describes a transposed 2-D convolution over one NHWC
// image, with PyTorch's ConvTranspose2d semantics. output_padding is implied
// by OutH and OutW.
type ConvTransposeConfig struct {
	InC, InH, InW, OutC, OutH, OutW                  int
	KH, KW, StrideH, StrideW, PadH, PadW, DilH, DilW int
	Groups                                           int
	Act                                              Act

	// OutPitch, when not 0, is the floats between consecutive output
	// pixels (≥ OutC): the output is OutC channels of a wider NHWC map,
	// such as a concat's, and Forward writes nothing else of it. dst then
	// spans (OutH·OutW−1)·OutPitch + OutC floats.
	OutPitch int
}

// ConvTranspose2D is a transposed convolution with packed weights.
//
// It runs as StrideH×StrideW ordinary stride-1 convolutions ("phases"), one
// per residue of the output coordinates modulo the stride: the output pixels
// of one phase are reached by a fixed subset of kernel taps, so no zeros are
// inserted and nothing is scattered. Like Conv2D it owns scratch memory, so
// one ConvTranspose2D must not run two Forward calls at the same time.
type ConvTranspose2D struct {
	cfg ConvTransposeConfig
	e   convEngine
}

// NewConvTranspose2D validates cfg and packs weight (PyTorch layout
// [InC][OutC/Groups][KH][KW]) and bias (len OutC, or nil for zeros).
func NewConvTranspose2D(cfg ConvTransposeConfig, weight, bias []float32) (*ConvTranspose2D, error) {
	if err := convCheck(cfg.InC, cfg.InH, cfg.InW, cfg.OutC, cfg.OutH, cfg.OutW,
		cfg.KH, cfg.KW, cfg.StrideH, cfg.StrideW, cfg.PadH, cfg.PadW, cfg.DilH, cfg.DilW, cfg.Groups, cfg.Act); err != nil {
		return nil, fmt.Errorf("convtranspose2d: %w", err)
	}
	sh, sw, dh, dw := cfg.StrideH, cfg.StrideW, cfg.DilH, cfg.DilW
	baseH := (cfg.InH-1)*sh - 2*cfg.PadH + dh*(cfg.KH-1) + 1
	baseW := (cfg.InW-1)*sw - 2*cfg.PadW + dw*(cfg.KW-1) + 1
	if opH, opW := cfg.OutH-baseH, cfg.OutW-baseW; opH < 0 || opH >= max(sh, dh) || opW < 0 || opW >= max(sw, dw) {
		return nil, fmt.Errorf("convtranspose2d: output %dx%d, want %dx%d plus an output padding smaller than the stride or dilation (%dx%d)",
			cfg.OutH, cfg.OutW, baseH, baseW, max(sh, dh), max(sw, dw))
	}
	opitch, err := convOutPitch(cfg.OutC, cfg.OutPitch)
	if err != nil {
		return nil, fmt.Errorf("convtranspose2d: %w", err)
	}
	cinG, coutG := cfg.InC/cfg.Groups, cfg.OutC/cfg.Groups
	if want := cfg.InC * coutG * cfg.KH * cfg.KW; len(weight) != want {
		return nil, fmt.Errorf("convtranspose2d: weight has %d values, want %d = %dx%dx%dx%d", len(weight), want, cfg.InC, coutG, cfg.KH, cfg.KW)
	}
	if len(bias) != 0 && len(bias) != cfg.OutC {
		return nil, fmt.Errorf("convtranspose2d: bias has %d values, want %d or none", len(bias), cfg.OutC)
	}

	c := &ConvTranspose2D{cfg: cfg}
	e := &c.e
	e.init("convtranspose2d", cfg.InC, cfg.InH, cfg.InW, cfg.OutC, cfg.OutH, cfg.OutW, cfg.Groups, cfg.Act, bias)
	e.outPitch = opitch

	// Output row oh = ih*sh - PadH + kh*dh. In phase r (oh = r + sh*t) tap
	// kh contributes when r + PadH - kh*dh is a multiple of sh, reading
	// input row ih = t + (r + PadH - kh*dh)/sh.
	type axisTap struct{ k, off int }
	axisTaps := func(r, stride, pad, dil, kernel int) []axisTap {
		var taps []axisTap
		for k := range kernel {
			if d := r + pad - k*dil; d%stride == 0 {
				taps = append(taps, axisTap{k, d / stride})
			}
		}
		return taps
	}
	phaseLen := func(r, stride, out int) int { return (out - r + stride - 1) / stride }

	// Padding so that every tap of every phase reads inside the buffer.
	top, bottom, left, right := 0, 0, 0, 0
	for r := range min(sh, cfg.OutH) {
		for _, tp := range axisTaps(r, sh, cfg.PadH, dh, cfg.KH) {
			top = max(top, -tp.off)
			bottom = max(bottom, phaseLen(r, sh, cfg.OutH)-1+tp.off-(cfg.InH-1))
		}
	}
	for r := range min(sw, cfg.OutW) {
		for _, tp := range axisTaps(r, sw, cfg.PadW, dw, cfg.KW) {
			left = max(left, -tp.off)
			right = max(right, phaseLen(r, sw, cfg.OutW)-1+tp.off-(cfg.InW-1))
		}
	}
	// Every tap reads InC/Groups consecutive channels, so pixels can be
	// spaced wider than InC; see the pitch in NewConv2D.
	pitch := cfg.InC
	if cfg.InC%512 == 0 {
		pitch += 16
	}
	e.setPadding(top, bottom, left, right, pitch)

	for rh := range min(sh, cfg.OutH) {
		for rw := range min(sw, cfg.OutW) {
			th, tw := axisTaps(rh, sh, cfg.PadH, dh, cfg.KH), axisTaps(rw, sw, cfg.PadW, dw, cfg.KW)
			ph := convPhase{
				rows: phaseLen(rh, sh, cfg.OutH), cols: phaseLen(rw, sw, cfg.OutW),
				aRow: e.wp * pitch, aCol: pitch,
				cBase: (rh*cfg.OutW + rw) * opitch,
				cRow:  sh * cfg.OutW * opitch, cCol: sw * opitch,
				kc: cinG,
			}
			for _, a := range th {
				for _, b := range tw {
					ph.koff = append(ph.koff, ((a.off+top)*e.wp+b.off+left)*pitch)
					ph.wtaps = append(ph.wtaps, a.k*cfg.KW+b.k)
				}
			}
			ph.packed = convAligned(cfg.Groups * e.panels * len(ph.wtaps) * cinG * e.nr)
			khw := cfg.KH * cfg.KW
			e.packPhase(&ph, weight, khw, coutG*khw, khw)
			e.addPhase(ph)
		}
	}
	// Every phase reads the whole input: run the phases' tiles of one
	// row t together, so that an input row is fetched once for all of
	// them rather than once per phase (a U-Net's last up-convolution
	// reads 4 MB, twice L2, four times over). Panel-major tiles keep their
	// order, which their prefetches follow.
	if !e.panelsOuter && len(e.phases) > 1 {
		sort.SliceStable(e.tiles, func(i, j int) bool {
			a, b := &e.tiles[i], &e.tiles[j]
			if a.group != b.group {
				return a.group < b.group
			}
			return a.t < b.t
		})
	}
	return c, nil
}

// Forward computes dst = act(convtranspose(src) + bias + residual) over NHWC
// images. residual is nil or shaped like dst (with OutPitch, laid out like
// it too); dst may be the same slice as residual but must not overlap src.
func (c *ConvTranspose2D) Forward(p *Pool, dst, src, residual []float32) {
	c.e.forward(p, dst, src, residual)
}
