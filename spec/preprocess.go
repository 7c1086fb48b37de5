package spec

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Preprocess is the picture transform of a spec's `preprocess:`: torchvision's
// Resize → CenterCrop → ToTensor → Normalize, as used in training. Parse has
// checked it against the input: its final size is the input's H×W and it has
// one mean and std per input channel.
type Preprocess struct {
	Gray             bool      // color: gray (PIL convert("L")); else rgb
	ResizeShort      int       // resize: N, the shorter side to N (0: see ResizeH)
	ResizeH, ResizeW int       // resize: [H, W] (0: none or ResizeShort)
	Interp           string    // nearest, bilinear or bicubic
	CropH, CropW     int       // crop: center crop (0: none)
	Mean, Std        []float64 // Normalize, after ToTensor's /255; one per channel
	Pos              Pos       // the preprocess: mapping
}

// MaxLabels bounds the number of labels, and maxLabelsFile the size of a
// labels file, so a hostile spec cannot make Parse read without end.
const (
	MaxLabels     = 1 << 16
	maxLabelsFile = 4 << 20
)

var (
	preprocessKeys = []string{"color", "resize", "interpolation", "crop", "mean", "std"}
	interpModes    = []string{"nearest", "bilinear", "bicubic"}
)

// preprocess reads `preprocess:` and checks it against the input. Checks
// that need the input are skipped when the input itself had errors (zero
// sizes).
func (p *parser) preprocess(n *yaml.Node, in Input) *Preprocess {
	pp := &Preprocess{Pos: p.pos(n), Interp: "bilinear"}
	var colorNode, resizeNode, cropNode, meanNode, stdNode *yaml.Node
	for _, m := range p.mapping(n, "preprocess") {
		switch m.key {
		case "color":
			colorNode = m.val
		case "resize":
			resizeNode = m.val
		case "interpolation":
			if s := p.literal(m.val, "preprocess interpolation"); s != "" {
				if !contains(interpModes, s) {
					p.errorf(m.val, "preprocess interpolation must be one of %s, got %q%s",
						joinNames(interpModes), s, suggest(s, interpModes))
				} else {
					pp.Interp = s
				}
			}
		case "crop":
			cropNode = m.val
		case "mean":
			meanNode = m.val
		case "std":
			stdNode = m.val
		default:
			p.errs.errorf(m.keyPos, "preprocess: unknown key %q%s; expected %s",
				m.key, suggest(m.key, preprocessKeys), strings.Join(preprocessKeys, ", "))
		}
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	known := in.C > 0 && in.H > 0 && in.W > 0

	// color: the default follows the channels, the only two a picture has.
	switch {
	case colorNode != nil:
		s := p.literal(colorNode, "preprocess color")
		switch {
		case s == "":
		case s != "rgb" && s != "gray":
			p.errorf(colorNode, "preprocess color must be rgb or gray, got %q%s", s, suggest(s, []string{"rgb", "gray"}))
		case s == "gray" && known && in.C != 1:
			p.errorf(colorNode, "preprocess color: gray gives 1 channel, but the input has %d; use rgb for 3 or change input channels", in.C)
		case s == "rgb" && known && in.C != 3:
			p.errorf(colorNode, "preprocess color: rgb gives 3 channels, but the input has %d; use gray for 1 or change input channels", in.C)
		default:
			pp.Gray = s == "gray"
		}
	case known && in.C == 1:
		pp.Gray = true
	case known && in.C != 3:
		p.errorf(n, "preprocess: the input has %d channels, but a picture gives 3 (rgb) or 1 (gray)", in.C)
	}

	if resizeNode != nil {
		h, w, pair := p.size(resizeNode, "preprocess resize")
		if pair {
			pp.ResizeH, pp.ResizeW = h, w
		} else {
			pp.ResizeShort = h
		}
	}
	if cropNode != nil {
		pp.CropH, pp.CropW, _ = p.size(cropNode, "preprocess crop")
	}

	if meanNode != nil {
		pp.Mean = p.numbers(meanNode, "preprocess mean", in.C, false)
	}
	if stdNode != nil {
		pp.Std = p.numbers(stdNode, "preprocess std", in.C, true)
	}
	// Without Normalize, ToTensor's [0, 1] values go in as they are.
	if meanNode == nil && in.C > 0 {
		pp.Mean = make([]float64, in.C)
	}
	if stdNode == nil && in.C > 0 {
		pp.Std = make([]float64, in.C)
		for i := range pp.Std {
			pp.Std[i] = 1
		}
	}

	// The transform must end at the input's size.
	badSize := false
	switch {
	case pp.CropH > 0 && pp.ResizeH > 0 && (pp.CropH > pp.ResizeH || pp.CropW > pp.ResizeW):
		p.errorf(cropNode, "preprocess crop %dx%d is larger than the resized picture %dx%d", pp.CropH, pp.CropW, pp.ResizeH, pp.ResizeW)
		badSize = true
	case pp.CropH > 0 && pp.ResizeShort > 0 && min(pp.CropH, pp.CropW) > pp.ResizeShort:
		p.errorf(cropNode, "preprocess crop %dx%d is larger than the resized picture in both directions (resize: %d is its shorter side)", pp.CropH, pp.CropW, pp.ResizeShort)
		badSize = true
	}
	switch {
	case !known || badSize:
	case pp.CropH > 0:
		if pp.CropH != in.H || pp.CropW != in.W {
			p.errorf(cropNode, "preprocess crop %dx%d must be the input size %dx%d", pp.CropH, pp.CropW, in.H, in.W)
		}
	case pp.ResizeShort > 0:
		p.errorf(resizeNode, "preprocess resize: %d sets only the shorter side, so the size depends on the picture; add crop: [%d, %d] (the input size) or resize to [%d, %d]",
			pp.ResizeShort, in.H, in.W, in.H, in.W)
	case pp.ResizeH > 0:
		if pp.ResizeH != in.H || pp.ResizeW != in.W {
			p.errorf(resizeNode, "preprocess resize %dx%d must be the input size %dx%d (or add crop: [%d, %d])", pp.ResizeH, pp.ResizeW, in.H, in.W, in.H, in.W)
		}
	}
	return pp
}

// literal returns the text of a scalar without expressions: preprocess and
// labels are data, not structure, so they take no $vars.
func (p *parser) literal(n *yaml.Node, what string) string {
	s := p.scalar(n, what)
	if strings.Contains(s, "$") && n.Style == 0 {
		p.errorf(n, "%s must be a literal value; expressions ($…) are not supported here", what)
		return ""
	}
	return s
}

// integer reads a literal integer from 1 to MaxInt.
func (p *parser) integer(n *yaml.Node, what string) (int, bool) {
	s := p.literal(n, what)
	if s == "" {
		return 0, false
	}
	var i int64
	if n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		p.errorf(n, "%s must be an integer, got %s", what, nodeText(n))
		return 0, false
	}
	if i < 1 || i > MaxInt {
		p.errorf(n, "%s must be from 1 to %d, got %d", what, MaxInt, i)
		return 0, false
	}
	return int(i), true
}

// size reads an integer or [h, w]; pair says which. Sizes with errors are 0.
func (p *parser) size(n *yaml.Node, what string) (h, w int, pair bool) {
	if !p.noAlias(n) {
		return 0, 0, false
	}
	switch {
	case n.Kind == yaml.ScalarNode:
		i, _ := p.integer(n, what)
		return i, i, false
	case n.Kind == yaml.SequenceNode && len(n.Content) == 2:
		h, okH := p.integer(n.Content[0], what+" height")
		w, okW := p.integer(n.Content[1], what+" width")
		if !okH || !okW {
			return 0, 0, true
		}
		return h, w, true
	}
	p.errorf(n, "%s must be an integer or [height, width], got %s", what, nodeText(n))
	return 0, 0, false
}

// numbers reads a list of finite numbers, one per channel (c, if c > 0);
// positive requires each to be > 0.
func (p *parser) numbers(n *yaml.Node, what string, c int, positive bool) []float64 {
	if !p.noAlias(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s must be a list of numbers, one per channel, got %s", what, nodeText(n))
		return nil
	}
	var out []float64
	ok := true
	for _, e := range n.Content {
		s := p.literal(e, what)
		if s == "" {
			ok = false
			continue
		}
		var f float64
		if t := e.ShortTag(); t != "!!int" && t != "!!float" || e.Decode(&f) != nil {
			p.errorf(e, "%s must be a list of numbers, got %s", what, nodeText(e))
			ok = false
			continue
		}
		switch {
		case math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > MaxInt:
			p.errorf(e, "%s must be finite numbers within ±%d, got %s", what, MaxInt, e.Value)
			ok = false
		case positive && f <= 0:
			p.errorf(e, "%s must be > 0 (it divides), got %s", what, e.Value)
			ok = false
		}
		out = append(out, f)
	}
	if c > 0 && len(n.Content) != c {
		p.errorf(n, "%s has %d values, but the input has %s", what, len(n.Content), channels(c))
		return nil
	}
	if !ok {
		return nil
	}
	return out
}

// labels reads `labels:`, a list of class names or the name of a file next
// to the spec with one name per line. Their count is checked against the
// network's output by ir.
func (p *parser) labels(n *yaml.Node) []string {
	if !p.noAlias(n) {
		return nil
	}
	var labels []string
	switch {
	case n.Kind == yaml.SequenceNode:
		seen := make(map[string]Pos)
		for i, e := range n.Content {
			if e.Kind == yaml.ScalarNode && e.ShortTag() == "!!null" {
				p.errorf(e, "labels[%d]: empty label", i)
				return nil
			}
			s := p.scalar(e, "a label")
			if s == "" && e.Kind != yaml.ScalarNode {
				return nil
			}
			if msg := badLabel(s); msg != "" {
				p.errorf(e, "labels[%d]: %s", i, msg)
				return nil
			}
			if first, dup := seen[s]; dup {
				p.errorf(e, "labels[%d]: duplicate label %q (first at %d:%d)", i, s, first.Line, first.Col)
				return nil
			}
			seen[s] = p.pos(e)
			labels = append(labels, s)
		}
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && n.Value != "":
		var err error
		if labels, err = p.labelsFile(n.Value); err != nil {
			p.errorf(n, "labels: %v", err)
			return nil
		}
	default:
		p.errorf(n, "labels must be a list of class names or the name of a file with one per line, got %s", nodeText(n))
		return nil
	}
	switch {
	case len(labels) == 0:
		p.errorf(n, "labels: no labels given")
		return nil
	case len(labels) > MaxLabels:
		p.errorf(n, "labels: %d labels, more than the limit %d", len(labels), MaxLabels)
		return nil
	}
	return labels
}

// labelsFile reads a labels file, name relative to the spec's directory.
// Only files inside that directory are read, and only so much of them.
// Errors name the file as written in the spec.
func (p *parser) labelsFile(name string) ([]string, error) {
	if !filepath.IsLocal(name) {
		return nil, fmt.Errorf("file %q must be a relative path inside the spec's directory", name)
	}
	dir := filepath.Dir(p.file)
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			where := ""
			if dir != "." {
				where = " (" + path + ")"
			}
			return nil, fmt.Errorf("no file %s next to the spec%s", name, where)
		}
		return nil, fmt.Errorf("%s: %v", name, unwrapPath(err))
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxLabelsFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, unwrapPath(err))
	}
	if len(b) > maxLabelsFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxLabelsFile)
	}
	// Trailing blank lines are an editor's, not empty labels.
	text := strings.TrimRight(string(b), " \t\r\n")
	if text == "" {
		return nil, fmt.Errorf("%s has no labels", name)
	}
	var labels []string
	seen := make(map[string]int)
	for i, line := range strings.Split(text, "\n") {
		s := strings.TrimSpace(line)
		if msg := badLabel(s); msg != "" {
			return nil, fmt.Errorf("%s:%d: %s", name, i+1, msg)
		}
		if first, dup := seen[s]; dup {
			return nil, fmt.Errorf("%s:%d: duplicate label %q (first on line %d)", name, i+1, s, first)
		}
		seen[s] = i + 1
		labels = append(labels, s)
		if len(labels) > MaxLabels {
			return nil, fmt.Errorf("%s has more than %d labels", name, MaxLabels)
		}
	}
	return labels, nil
}

// unwrapPath drops the path an *os.PathError repeats.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// badLabel says what is wrong with a class name, or "". Labels become Go
// string literals and lines of text, so they are printable, one line, and
// not padded with spaces.
func badLabel(s string) string {
	switch {
	case s == "":
		return "empty label"
	case !utf8.ValidString(s):
		return fmt.Sprintf("label %s is not valid UTF-8", strconv.QuoteToASCII(s))
	case strings.TrimSpace(s) != s:
		return fmt.Sprintf("label %q starts or ends with white space", s)
	case len(s) > 200:
		return fmt.Sprintf("label %.20q… is longer than 200 bytes", s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return fmt.Sprintf("label %q has a control character", s)
		}
	}
	return ""
}

// channels is "1 channel" or "n channels".
func channels(n int) string {
	if n == 1 {
		return "1 channel"
	}
	return strconv.Itoa(n) + " channels"
}
