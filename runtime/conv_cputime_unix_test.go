//go:build unix

package runtime

import "syscall"

// convCPUTime is the process's user+system CPU time in nanoseconds, for a
// benchmark metric that a busy shared machine distorts less than wall time.
func convCPUTime() (int64, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
