package fashion

//go:generate go run github.com/resgen/resgen/cmd/resgen build spec.yaml -embed weights.safetensors
