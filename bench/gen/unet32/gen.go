// The U-Net preset at width 32 and input 3×256×256, compiled by resgen for the
// side-by-side benchmark (bench/run.sh); generated/unet is a smaller
// configuration.

package unet32

//go:generate go run github.com/resgen/resgen/cmd/resgen build spec.yaml
