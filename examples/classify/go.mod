module example.com/classify

go 1.26.8

// In your own module, drop the replace line and run
// `go get -tool github.com/resgen/resgen/cmd/resgen`.
replace github.com/resgen/resgen => ../..

tool github.com/resgen/resgen/cmd/resgen

require github.com/resgen/resgen v0.0.0-00010101000000-000000000000

require (
	github.com/dave/jennifer v1.7.1 // indirect
	golang.org/x/sys v0.50.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
