package spec

import (
	_ "embed"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// PresetInfo describes a built-in spec and its defaults.
type PresetInfo struct {
	Name        string
	Description string
	Classes     int    // default number of classes
	Input       [3]int // default C, H, W
	Width       int    // default base width (channels of the first stage)
}

// PresetOptions adjusts a preset. Zero values mean the preset's defaults
// (listed in PresetInfo); negative values are errors.
type PresetOptions struct {
	Classes int    // 0 = default
	Input   [3]int // C, H, W; zero = default
	Width   int    // 0 = default
}

type preset struct {
	PresetInfo
	minSize  int // smallest H and W (the network's total downsampling)
	multiple int // H and W must be multiples of this (0: any)
	widest   int // widest layer, in multiples of the base width
	minWidth int // smallest base width (0: 1)
	gen      func(w *writer, p *preset, o PresetOptions)
	data     *dataset // what the preset is trained on by convention, or nil
}

// dataset is the picture transform and class names a preset's spec carries
// for the dataset its architecture was published with.
type dataset struct {
	name        string
	transform   string // where the numbers come from, for the comment
	resize      int    // shorter side at the default input (0: no resize, no crop)
	crop        int    // center crop at the default input
	mean, std   string // as printed, so the spec shows the familiar numbers
	labels      []string
	labelSource string // where the names come from, for the comment
}

// imagenetLabels is torchvision 0.14's list, written by
//
//	/usr/bin/python3 -c "from torchvision.models import ResNet18_Weights; print('\n'.join(ResNet18_Weights.IMAGENET1K_V1.meta['categories']))"
//
//go:embed imagenet_labels.txt
var imagenetLabels string

var (
	imagenetData = &dataset{
		name:        "ImageNet",
		transform:   "torchvision's ImageNet evaluation transform (ResNet18_Weights.IMAGENET1K_V1.transforms())",
		resize:      256,
		crop:        224,
		mean:        "[0.485, 0.456, 0.406]",
		std:         "[0.229, 0.224, 0.225]",
		labels:      strings.Split(strings.TrimSpace(imagenetLabels), "\n"),
		labelSource: "the 1,000 ImageNet classes as torchvision 0.14 lists them\n" + `(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])`,
	}
	cifarData = &dataset{
		name:        "CIFAR-10",
		transform:   "CIFAR-10's per-channel statistics; pictures must be the input size",
		mean:        "[0.4914, 0.4822, 0.4465]",
		std:         "[0.2470, 0.2435, 0.2616]",
		labels:      strings.Fields("airplane automobile bird cat deer dog frog horse ship truck"),
		labelSource: "the CIFAR-10 classes",
	}
)

var presets = map[string]*preset{}

func init() {
	imagenet := [3]int{3, 224, 224}
	cifar := [3]int{3, 32, 32}
	add := func(p *preset) { presets[p.Name] = p }
	for _, r := range []struct {
		depth      int
		bottleneck bool
		blocks     [4]int
	}{
		{18, false, [4]int{2, 2, 2, 2}},
		{34, false, [4]int{3, 4, 6, 3}},
		{50, true, [4]int{3, 4, 6, 3}},
		{101, true, [4]int{3, 4, 23, 3}},
		{152, true, [4]int{3, 8, 36, 3}},
	} {
		kind, widest := "BasicBlock", 8
		if r.bottleneck {
			kind, widest = "Bottleneck", 32
		}
		arch := resnetArch{depth: r.depth, bottleneck: r.bottleneck, blocks: r.blocks, groups: 1, widthPerGroup: 64}
		add(&preset{
			PresetInfo: PresetInfo{
				Name:        fmt.Sprintf("resnet%d", r.depth),
				Description: fmt.Sprintf("torchvision ResNet-%d (%s, %v), ImageNet", r.depth, kind, r.blocks),
				Classes:     1000, Input: imagenet, Width: 64,
			},
			minSize: 32, widest: widest, data: imagenetData,
			gen: func(w *writer, p *preset, o PresetOptions) { genResNet(w, p, o, arch, true) },
		})
		if r.depth <= 34 {
			arch.bottleneck = false
			add(&preset{
				PresetInfo: PresetInfo{
					Name:        fmt.Sprintf("plain%d", r.depth),
					Description: fmt.Sprintf("ResNet-%d without shortcuts (He et al. 2015 plain network), ImageNet", r.depth),
					Classes:     1000, Input: imagenet, Width: 64,
				},
				minSize: 32, widest: widest, data: imagenetData,
				gen: func(w *writer, p *preset, o PresetOptions) { genResNet(w, p, o, arch, false) },
			})
		}
	}
	// The rest of torchvision's family: its Bottleneck with a wider 3×3
	// conv, split into groups for ResNeXt. torchvision's width of the inner
	// convs is int(planes · width_per_group / 64) · groups.
	for _, r := range []struct {
		name                  string
		depth                 int
		blocks                [4]int
		groups, widthPerGroup int
	}{
		{"resnext50_32x4d", 50, [4]int{3, 4, 6, 3}, 32, 4},
		{"resnext101_32x8d", 101, [4]int{3, 4, 23, 3}, 32, 8},
		{"resnext101_64x4d", 101, [4]int{3, 4, 23, 3}, 64, 4},
		{"wide_resnet50_2", 50, [4]int{3, 4, 6, 3}, 1, 128},
		{"wide_resnet101_2", 101, [4]int{3, 4, 23, 3}, 1, 128},
	} {
		arch := resnetArch{depth: r.depth, bottleneck: true, blocks: r.blocks, groups: r.groups, widthPerGroup: r.widthPerGroup}
		desc := fmt.Sprintf("torchvision ResNeXt-%d %dx%dd (Bottleneck, %v, %d-group 3×3 convs), ImageNet",
			r.depth, r.groups, r.widthPerGroup, r.blocks, r.groups)
		if r.groups == 1 {
			desc = fmt.Sprintf("torchvision Wide ResNet-%d-2 (ResNet-%d with the bottleneck's inner convs twice as wide), ImageNet", r.depth, r.depth)
		}
		add(&preset{
			PresetInfo: PresetInfo{Name: r.name, Description: desc, Classes: 1000, Input: imagenet, Width: 64},
			// The widest layer is the last stage's planes×4 (or its
			// inner width, as wide for resnext101_32x8d).
			minSize: 32, widest: 32, data: imagenetData,
			// Below this the inner width of stage 1 would round to 0.
			minWidth: (64 + r.widthPerGroup - 1) / r.widthPerGroup,
			gen:      func(w *writer, p *preset, o PresetOptions) { genResNet(w, p, o, arch, true) },
		})
	}
	for _, depth := range []int{20, 32, 44, 56, 110, 1202} {
		n := (depth - 2) / 6
		add(&preset{
			PresetInfo: PresetInfo{
				Name:        fmt.Sprintf("cifar-resnet%d", depth),
				Description: fmt.Sprintf("CIFAR ResNet-%d (He et al. 2015 §4.2, option A shortcuts, %d blocks per stage)", depth, n),
				Classes:     10, Input: cifar, Width: 16,
			},
			minSize: 4, widest: 4, data: cifarData,
			gen: func(w *writer, p *preset, o PresetOptions) { genCIFAR(w, p, o, depth, true) },
		})
		add(&preset{
			PresetInfo: PresetInfo{
				Name:        fmt.Sprintf("cifar-plain%d", depth),
				Description: fmt.Sprintf("CIFAR plain-%d (He et al. 2015 §4.2 without shortcuts)", depth),
				Classes:     10, Input: cifar, Width: 16,
			},
			minSize: 4, widest: 4, data: cifarData,
			gen: func(w *writer, p *preset, o PresetOptions) { genCIFAR(w, p, o, depth, false) },
		})
	}
	add(&preset{
		PresetInfo: PresetInfo{
			Name:        "preact-resnet18",
			Description: "pre-activation ResNet-18 (He et al. 2016) on the torchvision ImageNet skeleton",
			Classes:     1000, Input: imagenet, Width: 64,
		},
		minSize: 32, widest: 8, data: imagenetData,
		gen: func(w *writer, p *preset, o PresetOptions) { genPreAct(w, p, o, false) },
	})
	add(&preset{
		PresetInfo: PresetInfo{
			Name:        "cifar-preact-resnet110",
			Description: "pre-activation ResNet-110 for CIFAR (He et al. 2016, 18 blocks per stage)",
			Classes:     10, Input: cifar, Width: 16,
		},
		minSize: 4, widest: 4, data: cifarData,
		gen: func(w *writer, p *preset, o PresetOptions) { genPreAct(w, p, o, true) },
	})
	add(&preset{
		PresetInfo: PresetInfo{
			Name:        "unet",
			Description: "U-Net as in milesial/Pytorch-UNet (bilinear=False); H and W divisible by 16",
			Classes:     2, Input: [3]int{3, 256, 256}, Width: 64,
		},
		minSize: 16, multiple: 16, widest: 16,
		gen: genUNet,
	})
}

// Presets lists the built-in specs, sorted by name.
func Presets() []PresetInfo {
	var l []PresetInfo
	for _, p := range presets {
		l = append(l, p.PresetInfo)
	}
	sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	return l
}

// Preset returns the YAML text of a built-in spec, adjusted by opt. The text
// is meant to be read and edited; it parses with Parse.
func Preset(name string, opt PresetOptions) ([]byte, error) {
	p := presets[name]
	if p == nil {
		var names []string
		for _, i := range Presets() {
			names = append(names, i.Name)
		}
		return nil, fmt.Errorf("unknown preset %q%s; presets: %s", name, suggest(name, names), strings.Join(names, ", "))
	}
	if opt.Input == [3]int{} {
		opt.Input = p.Input
	}
	if opt.Width == 0 {
		opt.Width = p.Width
	}
	if opt.Classes == 0 {
		opt.Classes = p.Classes
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if opt.Classes < 1 || opt.Classes > MaxInt {
		bad("classes must be from 1 to %d, got %d (%s has %d by default)", MaxInt, opt.Classes, name, p.Classes)
	}
	if minWidth := max(1, p.minWidth); opt.Width < minWidth {
		if minWidth > 1 {
			bad("width must be ≥ %d for %s (narrower, the inner width of stage 1 rounds to 0), got %d", minWidth, name, opt.Width)
		} else {
			bad("width must be ≥ 1, got %d", opt.Width)
		}
	} else if opt.Width > MaxInt/p.widest {
		bad("width %d is too large: the widest layer would have %d×%d channels, over the limit %d", opt.Width, p.widest, opt.Width, MaxInt)
	}
	c, h, wd := opt.Input[0], opt.Input[1], opt.Input[2]
	if c < 1 || c > MaxInt {
		bad("input channels must be from 1 to %d, got %d", MaxInt, c)
	}
	for _, d := range []struct {
		what string
		v    int
	}{{"height", h}, {"width", wd}} {
		switch {
		case d.v < p.minSize || d.v > MaxInt:
			bad("input %s must be from %d to %d for %s (it downsamples by %d), got %d", d.what, p.minSize, MaxInt, name, p.minSize, d.v)
		case p.multiple > 0 && d.v%p.multiple != 0:
			bad("input %s must be divisible by %d for %s, got %d", d.what, p.multiple, name, d.v)
		}
	}
	if problems != nil {
		return nil, fmt.Errorf("preset %s: %s", name, strings.Join(problems, "; "))
	}
	w := &writer{}
	p.gen(w, p, opt)
	w.labels(p, opt)
	return []byte(w.String()), nil
}

type writer struct{ strings.Builder }

func (w *writer) line(format string, args ...any) {
	fmt.Fprintf(w, format, args...)
	w.WriteByte('\n')
}

// header writes the version, name and input lines shared by every preset.
func (w *writer) header(p *preset, o PresetOptions, comment string) {
	for _, l := range strings.Split(strings.TrimSpace(comment), "\n") {
		w.line("# %s", l)
	}
	w.line("# Generated by resgen from the preset %q; edit freely.", p.Name)
	w.line("resgen: 1")
	w.line("name: %s", strings.ReplaceAll(p.Name, "-", "_"))
	w.line("input: {channels: %d, height: %d, width: %d}", o.Input[0], o.Input[1], o.Input[2])
	w.preprocess(p, o)
}

// preprocess writes the dataset's transform, scaled to the input size, or
// says why it is left out.
func (w *writer) preprocess(p *preset, o PresetOptions) {
	d := p.data
	if d == nil {
		return
	}
	if o.Input[0] != 3 {
		w.line("# No preprocess: %s's transform is for 3-channel (rgb) pictures, the input has %s.", d.name, channels(o.Input[0]))
		return
	}
	w.line("# %s.", d.transform)
	w.line("preprocess:")
	w.line("  color: rgb")
	if d.resize > 0 {
		h, wd := o.Input[1], o.Input[2]
		resize, crop := d.resize, strconv.Itoa(d.crop)
		if [3]int(o.Input) != p.Input {
			// The same ratio of crop to resized shorter side as at the
			// default size (224 of 256).
			resize = (h*d.resize + d.crop/2) / d.crop
			crop = fmt.Sprintf("[%d, %d]", h, wd)
			if h == wd {
				crop = strconv.Itoa(h)
			}
		}
		w.line("  resize: %d", resize)
		w.line("  interpolation: bilinear")
		w.line("  crop: %s", crop)
	}
	w.line("  mean: %s", d.mean)
	w.line("  std: %s", d.std)
}

// labels writes the dataset's class names, or says why they are left out.
func (w *writer) labels(p *preset, o PresetOptions) {
	d := p.data
	if d == nil {
		return
	}
	w.line("")
	if o.Classes != len(d.labels) {
		w.line("# No labels: %s has %d classes, the network %d.", d.name, len(d.labels), o.Classes)
		return
	}
	for i, l := range strings.Split("Class names: "+d.labelSource+".", "\n") {
		if i > 0 {
			l = "  " + l
		}
		w.line("# %s", l)
	}
	line := "labels: ["
	for i, l := range d.labels {
		item := yamlFlowString(l)
		if i < len(d.labels)-1 {
			item += ","
		}
		if len(line)+1+len(item) > 100 {
			w.line("%s", line)
			line = " "
		}
		if line != "labels: [" {
			line += " "
		}
		line += item
	}
	w.line("%s]", line)
}

var (
	yamlPlainRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9 _'.-]*[A-Za-z0-9_.]$|^[A-Za-z]$`)
	yamlSpecial = strings.Fields("true false yes no on off null y n")
)

// yamlFlowString is s as a scalar in a YAML flow list: plain where that
// reads back as the same string, else double-quoted.
func yamlFlowString(s string) string {
	if yamlPlainRE.MatchString(s) && !contains(yamlSpecial, strings.ToLower(s)) {
		return s
	}
	return strconv.Quote(s)
}

// resnetArch is one network of torchvision's ResNet class: its block, the
// blocks per stage and, for the bottleneck, the groups and width per group
// of the inner convs (1 and 64 for ResNet itself).
type resnetArch struct {
	depth                 int
	bottleneck            bool
	blocks                [4]int
	groups, widthPerGroup int
}

func genResNet(w *writer, p *preset, o PresetOptions, a resnetArch, residual bool) {
	depth, bottleneck, blocks := a.depth, a.bottleneck, a.blocks
	wide := a.groups != 1 || a.widthPerGroup != 64
	what := fmt.Sprintf("torchvision ResNet-%d", depth)
	if !residual {
		what = fmt.Sprintf("plain-%d: torchvision ResNet-%d with every shortcut removed", depth, depth)
	}
	what += ` (He et al. 2015, "Deep Residual Learning")`
	switch {
	case wide && a.groups > 1:
		what = fmt.Sprintf("torchvision ResNeXt-%d %dx%dd (Xie et al. 2017, \"Aggregated Residual\n"+
			"Transformations\"): ResNet-%d with grouped, wider 3×3 convs in the bottlenecks",
			depth, a.groups, a.widthPerGroup, depth)
	case wide:
		what = fmt.Sprintf("torchvision Wide ResNet-%d-%d (Zagoruyko and Komodakis 2016, \"Wide\n"+
			"Residual Networks\") as torchvision builds it: ResNet-%d whose bottlenecks'\n"+
			"inner convs are %d times as wide", depth, a.widthPerGroup/64, depth, a.widthPerGroup/64)
	}
	w.header(p, o, fmt.Sprintf(`
resgen spec: %s.
Layer names are torchvision's, so state_dict keys match: conv1.weight,
bn1.running_mean, layer1.0.conv1.weight, layer2.0.downsample.0.weight, fc.bias, …`, what))
	w.line("# residual: false drops every shortcut (the paper's \"plain\" network).")
	if wide {
		w.line("# A bottleneck's inner convs are planes·width_per_group/64·groups wide and")
		w.line("# its 3×3 conv has groups groups (torchvision's groups and width_per_group).")
		w.line("vars: {residual: %t, groups: %d, width_per_group: %d}", residual, a.groups, a.widthPerGroup)
	} else {
		w.line("vars: {residual: %t}", residual)
	}
	w.line("")
	w.line("blocks:")
	block := "basic"
	if bottleneck {
		block = "bottleneck"
		inner, groups := "$planes", ""
		if wide {
			inner, groups = "$planes * $width_per_group / 64 * $groups", ", groups: $groups"
		}
		w.line(`  # torchvision Bottleneck ("ResNet V1.5": the stride is on the 3×3 conv).`)
		w.line("  # 1×1 reduce, 3×3, 1×1 expand to planes×4; the shortcut is the identity,")
		w.line("  # or a 1×1 conv + batchnorm (downsample) where the shape changes.")
		w.line("  bottleneck:")
		w.line("    args: {planes: %d, stride: 1, downsample: false}", o.Width)
		w.line("    layers:")
		w.line("      - {name: conv1, op: conv2d, out: %s, kernel: 1, bias: false}", inner)
		w.line("      - {name: bn1, op: batchnorm}")
		w.line("      - {name: relu1, op: relu}")
		w.line("      - {name: conv2, op: conv2d, out: %s, kernel: 3, stride: $stride, padding: 1%s, bias: false}", inner, groups)
		w.line("      - {name: bn2, op: batchnorm}")
		w.line("      - {name: relu2, op: relu}")
		w.line("      - {name: conv3, op: conv2d, out: $planes * 4, kernel: 1, bias: false}")
		w.line("      - {name: bn3, op: batchnorm}")
		w.line("      - {name: downsample.0, op: conv2d, from: in, out: $planes * 4, kernel: 1, stride: $stride, bias: false, if: $residual and $downsample}")
		w.line("      - {name: downsample.1, op: batchnorm, if: $residual and $downsample}")
		w.line("      - {name: add, op: add, from: [bn3, downsample.1], if: $residual and $downsample}")
		w.line("      - {name: add, op: add, from: [bn3, in], if: $residual and not $downsample}")
		w.line("      - {name: relu3, op: relu}")
	} else {
		w.line("  # torchvision BasicBlock: two 3×3 convs; the shortcut is the identity,")
		w.line("  # or a 1×1 conv + batchnorm (downsample) where the shape changes.")
		w.line("  basic:")
		w.line("    args: {planes: %d, stride: 1, downsample: false}", o.Width)
		w.line("    layers:")
		w.line("      - {name: conv1, op: conv2d, out: $planes, kernel: 3, stride: $stride, padding: 1, bias: false}")
		w.line("      - {name: bn1, op: batchnorm}")
		w.line("      - {name: relu1, op: relu}")
		w.line("      - {name: conv2, op: conv2d, out: $planes, kernel: 3, padding: 1, bias: false}")
		w.line("      - {name: bn2, op: batchnorm}")
		w.line("      - {name: downsample.0, op: conv2d, from: in, out: $planes, kernel: 1, stride: $stride, bias: false, if: $residual and $downsample}")
		w.line("      - {name: downsample.1, op: batchnorm, if: $residual and $downsample}")
		w.line("      - {name: add, op: add, from: [bn2, downsample.1], if: $residual and $downsample}")
		w.line("      - {name: add, op: add, from: [bn2, in], if: $residual and not $downsample}")
		w.line("      - {name: relu2, op: relu}")
	}
	w.line("")
	w.line("layers:")
	w.line("  # Stem: 7×7/2 conv and 3×3/2 max pool.")
	w.line("  - {name: conv1, op: conv2d, out: %d, kernel: 7, stride: 2, padding: 3, bias: false}", o.Width)
	w.line("  - {name: bn1, op: batchnorm}")
	w.line("  - {name: relu, op: relu}")
	w.line("  - {name: maxpool, op: maxpool, kernel: 3, stride: 2, padding: 1}")
	w.line("  # Four stages; the first block of stages 2–4 halves H and W.")
	for i, n := range blocks {
		first := ""
		switch {
		case i > 0:
			first = ", first: {stride: 2, downsample: true}"
		case bottleneck:
			// The stem has width channels, the stage planes×4: project.
			first = ", first: {downsample: true}"
		}
		w.line("  - {name: layer%d, block: %s, repeat: %d, args: {planes: %d}%s}", i+1, block, n, o.Width<<i, first)
	}
	w.line("  # Classifier.")
	w.line("  - {name: avgpool, op: global_avgpool}")
	w.line("  - {name: flatten, op: flatten}")
	w.line("  - {name: fc, op: linear, out: %d}", o.Classes)
}

func genCIFAR(w *writer, p *preset, o PresetOptions, depth int, residual bool) {
	n := (depth - 2) / 6
	what := fmt.Sprintf("CIFAR ResNet-%d", depth)
	if !residual {
		what = fmt.Sprintf("CIFAR plain-%d (ResNet-%d without shortcuts)", depth, depth)
	}
	w.header(p, o, fmt.Sprintf(`
resgen spec: %s, He et al. 2015 §4.2: 6n+2 layers with n = %d,
three stages of n basic blocks at %d, %d and %d channels, and parameter-free
"option A" shortcuts (subsample, then zero-pad the new channels).`, what, n, o.Width, 2*o.Width, 4*o.Width))
	w.line("# residual: false drops every shortcut (the paper's \"plain\" network).")
	w.line("vars: {residual: %t}", residual)
	w.line("")
	w.line("blocks:")
	w.line("  basic:")
	w.line("    args: {planes: %d, stride: 1, downsample: false}", o.Width)
	w.line("    layers:")
	w.line("      - {name: conv1, op: conv2d, out: $planes, kernel: 3, stride: $stride, padding: 1, bias: false}")
	w.line("      - {name: bn1, op: batchnorm}")
	w.line("      - {name: relu1, op: relu}")
	w.line("      - {name: conv2, op: conv2d, out: $planes, kernel: 3, padding: 1, bias: false}")
	w.line("      - {name: bn2, op: batchnorm}")
	w.line("      - {name: shortcut, op: shortcut_a, from: in, out: $planes, stride: $stride, if: $residual and $downsample}")
	w.line("      - {name: add, op: add, from: [bn2, shortcut], if: $residual and $downsample}")
	w.line("      - {name: add, op: add, from: [bn2, in], if: $residual and not $downsample}")
	w.line("      - {name: relu2, op: relu}")
	w.line("")
	w.line("layers:")
	w.line("  - {name: conv1, op: conv2d, out: %d, kernel: 3, padding: 1, bias: false}", o.Width)
	w.line("  - {name: bn1, op: batchnorm}")
	w.line("  - {name: relu, op: relu}")
	w.line("  # Three stages; the first block of stages 2 and 3 halves H and W.")
	w.line("  - {name: layer1, block: basic, repeat: %d, args: {planes: %d}}", n, o.Width)
	w.line("  - {name: layer2, block: basic, repeat: %d, args: {planes: %d}, first: {stride: 2, downsample: true}}", n, 2*o.Width)
	w.line("  - {name: layer3, block: basic, repeat: %d, args: {planes: %d}, first: {stride: 2, downsample: true}}", n, 4*o.Width)
	w.line("  - {name: avgpool, op: global_avgpool}")
	w.line("  - {name: flatten, op: flatten}")
	w.line("  - {name: fc, op: linear, out: %d}", o.Classes)
}

func genPreAct(w *writer, p *preset, o PresetOptions, cifar bool) {
	if cifar {
		w.header(p, o, `
resgen spec: pre-activation ResNet-110 for CIFAR (He et al. 2016, "Identity
Mappings in Deep Residual Networks"): three stages of 18 pre-activation basic
blocks; a 1×1 projection shortcut where the shape changes.`)
	} else {
		w.header(p, o, `
resgen spec: pre-activation ResNet-18 (He et al. 2016, "Identity Mappings in
Deep Residual Networks") on the torchvision ResNet-18 skeleton: stem, four
stages of two blocks, a final batchnorm + relu before pooling.`)
	}
	w.line("")
	w.line("blocks:")
	w.line("  # bn, relu, conv, bn, relu, conv; the shortcut is the identity, or a 1×1")
	w.line("  # conv (no batchnorm) applied to the pre-activated input where the shape changes.")
	w.line("  preact:")
	w.line("    args: {planes: %d, stride: 1, downsample: false}", o.Width)
	w.line("    layers:")
	w.line("      - {name: bn1, op: batchnorm}")
	w.line("      - {name: relu1, op: relu}")
	w.line("      - {name: conv1, op: conv2d, out: $planes, kernel: 3, stride: $stride, padding: 1, bias: false}")
	w.line("      - {name: bn2, op: batchnorm}")
	w.line("      - {name: relu2, op: relu}")
	w.line("      - {name: conv2, op: conv2d, out: $planes, kernel: 3, padding: 1, bias: false}")
	w.line("      - {name: downsample.0, op: conv2d, from: relu1, out: $planes, kernel: 1, stride: $stride, bias: false, if: $downsample}")
	w.line("      - {name: add, op: add, from: [conv2, downsample.0], if: $downsample}")
	w.line("      - {name: add, op: add, from: [conv2, in], if: not $downsample}")
	w.line("")
	w.line("layers:")
	stages, repeat := 4, 2
	if cifar {
		stages, repeat = 3, 18
		w.line("  - {name: conv1, op: conv2d, out: %d, kernel: 3, padding: 1, bias: false}", o.Width)
		w.line("  # Three stages; the first block of stages 2 and 3 halves H and W.")
	} else {
		w.line("  # Stem: 7×7/2 conv and 3×3/2 max pool.")
		w.line("  - {name: conv1, op: conv2d, out: %d, kernel: 7, stride: 2, padding: 3, bias: false}", o.Width)
		w.line("  - {name: bn1, op: batchnorm}")
		w.line("  - {name: relu, op: relu}")
		w.line("  - {name: maxpool, op: maxpool, kernel: 3, stride: 2, padding: 1}")
		w.line("  # Four stages; the first block of stages 2–4 halves H and W.")
	}
	for i := 0; i < stages; i++ {
		first := ""
		if i > 0 {
			first = ", first: {stride: 2, downsample: true}"
		}
		w.line("  - {name: layer%d, block: preact, repeat: %d, args: {planes: %d}%s}", i+1, repeat, o.Width<<i, first)
	}
	w.line("  # The last block's output is not yet activated.")
	w.line("  - {name: bn_final, op: batchnorm}")
	w.line("  - {name: relu_final, op: relu}")
	w.line("  - {name: avgpool, op: global_avgpool}")
	w.line("  - {name: flatten, op: flatten}")
	w.line("  - {name: fc, op: linear, out: %d}", o.Classes)
}

func genUNet(w *writer, p *preset, o PresetOptions) {
	c := o.Width
	w.header(p, o, `
resgen spec: U-Net (Ronneberger et al. 2015) as in milesial/Pytorch-UNet with
bilinear=False; names match its state_dict (inc.double_conv.0.weight,
down1.maxpool_conv.1.double_conv.0.weight, up1.up.weight, outc.conv.bias, …).
H and W must be divisible by 16, so no padding is needed before a concat.`)
	w.line("")
	w.line("blocks:")
	w.line("  # DoubleConv: (3×3 conv, batchnorm, relu) twice.")
	w.line("  double_conv:")
	w.line("    args: {out: %d}", c)
	w.line("    layers:")
	w.line("      - {name: double_conv.0, op: conv2d, out: $out, kernel: 3, padding: 1, bias: false}")
	w.line("      - {name: double_conv.1, op: batchnorm}")
	w.line("      - {name: double_conv.2, op: relu}")
	w.line("      - {name: double_conv.3, op: conv2d, out: $out, kernel: 3, padding: 1, bias: false}")
	w.line("      - {name: double_conv.4, op: batchnorm}")
	w.line("      - {name: double_conv.5, op: relu}")
	w.line("  # Down: 2×2 max pool, then DoubleConv.")
	w.line("  down:")
	w.line("    args: {out: %d}", 2*c)
	w.line("    layers:")
	w.line("      - {name: maxpool_conv.0, op: maxpool, kernel: 2}")
	w.line("      - {name: maxpool_conv.1, block: double_conv, args: {out: $out}}")
	w.line("  # Up: 2×2/2 transposed conv halving the channels of the deeper input x,")
	w.line("  # concat [skip, upsampled] (skip first), then DoubleConv.")
	w.line("  up:")
	w.line("    args: {channels: %d, out: %d}", 16*c, 8*c)
	w.line("    inputs: [x, skip]")
	w.line("    layers:")
	w.line("      - {name: up, op: conv_transpose2d, from: x, out: $channels / 2, kernel: 2, stride: 2}")
	w.line("      - {name: cat, op: concat, from: [skip, up]}")
	w.line("      - {name: conv, block: double_conv, args: {out: $out}}")
	w.line("")
	w.line("layers:")
	w.line("  - {name: inc, block: double_conv, args: {out: %d}}", c)
	for i := 1; i <= 4; i++ {
		w.line("  - {name: down%d, block: down, args: {out: %d}}", i, c<<i)
	}
	skips := []string{"down3", "down2", "down1", "inc"}
	prev := "down4"
	for i := 1; i <= 4; i++ {
		w.line("  - {name: up%d, block: up, from: [%s, %s], args: {channels: %d, out: %d}}", i, prev, skips[i-1], c<<(5-i), c<<(4-i))
		prev = fmt.Sprintf("up%d", i)
	}
	w.line("  - {name: outc.conv, op: conv2d, out: %d, kernel: 1}", o.Classes)
}
