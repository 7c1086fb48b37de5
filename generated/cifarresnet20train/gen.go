package cifarresnet20train

//go:generate go run github.com/resgen/resgen/cmd/resgen build -train spec.yaml
