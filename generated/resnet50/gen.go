package resnet50

//go:generate go run github.com/resgen/resgen/cmd/resgen build spec.yaml
