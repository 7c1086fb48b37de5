package main

import "errors"

// weightsConvert is "resgen weights convert"; it is being built (owned by one helper; replace this file).
func (c *cli) weightsConvert(args []string) int {
	return c.fail(errors.New("resgen weights convert: not built yet"))
}
