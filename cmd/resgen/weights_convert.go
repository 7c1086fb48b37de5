package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/resgen/resgen/runtime"
)

// weightsConvert is "resgen weights convert": a torch.save file's
// state_dict to safetensors. The file is read by runtime's allowlisted
// unpickler, which never imports or calls anything, so converting an
// untrusted checkpoint is safe; the output is written atomically and only
// when everything was read.
func (c *cli) weightsConvert(args []string) int {
	fs := newFlags("weights convert", "weights convert IN.pth -o OUT.safetensors [-key PATH] [-strip-prefix P]")
	out := fs.String("o", "", "output safetensors `file`")
	key := fs.String("key", "", "where the state_dict is in a checkpoint dict, a dotted `path` such as state_dict or model.state_dict\n(default: the file's object if it is a state_dict, else the first of state_dict, model_state_dict and model that is)")
	strip := fs.String("strip-prefix", "", "remove `P` from every tensor name that starts with it\n(default: module., when every name starts with it, as DataParallel saves)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return c.usageError(fs, "%v", err)
	}
	if len(pos) != 1 || *out == "" {
		return c.usageError(fs, "want one IN file and -o OUT.safetensors")
	}
	in := pos[0]
	b, err := os.ReadFile(in)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return c.fail(fmt.Errorf("%s: %v", in, pe.Err))
		}
		return c.fail(err)
	}
	if !runtime.IsPth(b) {
		if _, err := runtime.ReadSafetensors(b); err == nil {
			return c.fail(fmt.Errorf("%s: already a safetensors file, not a torch.save file", in))
		}
		return c.fail(fmt.Errorf("%s: not a torch.save file (neither a zip archive nor a pickle)", in))
	}
	st, err := runtime.ReadPth(b, *key)
	if err != nil {
		return c.fail(fmt.Errorf("%s: %w", in, err))
	}
	prefix := *strip
	if prefix == "" && everyNameHas(st.Names(), "module.") {
		prefix = "module."
	}
	if prefix != "" {
		if st, err = st.TrimPrefix(prefix); err != nil {
			return c.fail(fmt.Errorf("%s: -strip-prefix: %w", in, err))
		}
	}
	var buf bytes.Buffer
	if _, err := st.WriteTo(&buf); err != nil {
		return c.fail(fmt.Errorf("%s: %w", *out, err))
	}
	if err := writeFileAtomic(*out, buf.Bytes()); err != nil {
		return c.fail(err)
	}
	what := ""
	if *key != "" {
		what += fmt.Sprintf(", key %s", *key)
	}
	if prefix != "" {
		what += fmt.Sprintf(", prefix %s stripped", prefix)
	}
	fmt.Fprintf(c.stdout, "resgen: wrote %s (%s; %d bytes) from %s%s\n", *out, dtypeCounts(st), buf.Len(), in, what)
	return exitOK
}

func everyNameHas(names []string, prefix string) bool {
	for _, n := range names {
		if !strings.HasPrefix(n, prefix) {
			return false
		}
	}
	return len(names) > 0
}

// dtypeCounts summarizes the tensors: "12 tensors: 10 F32, 2 I64".
func dtypeCounts(st *runtime.Safetensors) string {
	counts := map[string]int{}
	for _, n := range st.Names() {
		dt, _ := st.DType(n)
		counts[dt]++
	}
	var dts []string
	for dt := range counts {
		dts = append(dts, dt)
	}
	sort.Strings(dts)
	parts := make([]string, len(dts))
	for i, dt := range dts {
		parts[i] = fmt.Sprintf("%d %s", counts[dt], dt)
	}
	s := fmt.Sprintf("%d tensors", len(st.Names()))
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	return s
}
