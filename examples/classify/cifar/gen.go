// Package cifar is CIFAR ResNet-20, compiled from spec.yaml by resgen.
package cifar

//go:generate go tool resgen build spec.yaml
