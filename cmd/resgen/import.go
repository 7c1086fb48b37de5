package main

import "errors"

// importONNX is "resgen import"; it is being built (owned by one helper; replace this file).
func (c *cli) importONNX(args []string) int {
	return c.fail(errors.New("resgen import: not built yet"))
}
