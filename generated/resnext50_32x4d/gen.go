package resnext5032x4d

//go:generate go run github.com/resgen/resgen/cmd/resgen build spec.yaml
