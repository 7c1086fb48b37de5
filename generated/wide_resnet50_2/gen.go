package wideresnet502

//go:generate go run github.com/resgen/resgen/cmd/resgen build spec.yaml
