// Package runtime holds the kernels that resgen-generated packages call.
//
// Activations are float32 in NHWC order (height, width, channel; one batch
// item at a time). Generated code converts its NCHW input with NCHWToNHWC and
// its output with NHWCToNCHW. Kernels with weights (Conv2D, ConvTranspose2D)
// pack their weights once when they are created; Forward never allocates.
//
// The package knows nothing of specs or of the IR: it only computes.
package runtime

// Version1 is referenced by generated code (const _ = runtime.Version1), so a
// generated package compiled against an incompatible runtime fails to build
// instead of misbehaving. A breaking change to the kernel API removes it and
// adds Version2.
const Version1 = 1

// Act is an activation applied by a kernel's epilogue as results are stored.
type Act uint8

const (
	ActNone Act = iota
	ActReLU
)

func (a Act) String() string {
	switch a {
	case ActNone:
		return "none"
	case ActReLU:
		return "relu"
	}
	return "act?"
}
