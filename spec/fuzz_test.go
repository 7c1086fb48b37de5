package spec

import (
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics, that its errors are a capped
// ErrorList, and that a spec it accepts is well formed: every input is the
// network input or an earlier layer, names are unique, the output exists.
// Seeds: testdata/fuzz/FuzzParse plus the example and a few presets.
func FuzzParse(f *testing.F) {
	f.Add([]byte(exampleSpec))
	for _, name := range []string{"resnet18", "cifar-resnet20", "unet"} {
		src, err := Preset(name, PresetOptions{})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Parse("fuzz.yaml", src)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 || len(list) > MaxErrors+1 {
				t.Fatalf("error %T with %d entries: %v", err, len(list), err)
			}
			if s != nil {
				t.Fatal("non-nil Spec with an error")
			}
			return
		}
		seen := map[string]bool{InputName: true}
		for _, l := range s.Layers {
			if seen[l.Name] {
				t.Fatalf("duplicate layer name %q", l.Name)
			}
			if len(l.Inputs) == 0 {
				t.Fatalf("layer %q has no inputs", l.Name)
			}
			for _, in := range l.Inputs {
				if !seen[in] {
					t.Fatalf("layer %q reads %q, which is not defined before it", l.Name, in)
				}
			}
			seen[l.Name] = true
		}
		if !seen[s.Output] || s.Output == InputName {
			t.Fatalf("output %q is not a layer", s.Output)
		}
	})
}
