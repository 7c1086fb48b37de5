package main

import "errors"

// graph is "resgen graph"; it is being built (owned by one helper; replace this file).
func (c *cli) graph(args []string) int {
	return c.fail(errors.New("resgen graph: not built yet"))
}
