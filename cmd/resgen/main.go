// Command resgen compiles a residual network spec (YAML) into a Go package.
//
//	resgen build SPEC [-o DIR] [-pkg NAME] [-embed FILE] [-dump PASS]
//	resgen check SPEC
//	resgen init PRESET [--classes N] [--input CxHxW] [--width N]
//	resgen presets
//	resgen summary SPEC [-json]
//	resgen weights init SPEC [-seed N] -o FILE
//	resgen version
//
// Exit status: 0 on success, 1 when the input is wrong (the message names the
// place, file:line:col), 2 on a usage error.
package main

import "os"

func main() { os.Exit(Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
