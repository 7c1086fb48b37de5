package spec

import (
	"fmt"
	"sort"
	"strings"
)

// errorSet collects errors. Errors from a block body repeat once per instance;
// they are reported once, for the first instance, by deduplicating on position
// plus a key that leaves out the instance name.
type errorSet struct {
	list []*Error
	seen map[string]bool
}

func (s *errorSet) add(pos Pos, key, msg string) {
	if s.seen == nil {
		s.seen = make(map[string]bool)
	}
	k := pos.String() + "\x00" + key
	if s.seen[k] {
		return
	}
	s.seen[k] = true
	s.list = append(s.list, &Error{Pos: pos, Msg: msg})
}

func (s *errorSet) errorf(pos Pos, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.add(pos, msg, msg)
}

// err returns the sorted, capped ErrorList, or nil.
func (s *errorSet) err() error {
	if len(s.list) == 0 {
		return nil
	}
	l := append(ErrorList(nil), s.list...)
	sort.SliceStable(l, func(i, j int) bool { return l[i].Pos.before(l[j].Pos) })
	if len(l) > MaxErrors {
		l = append(l[:MaxErrors:MaxErrors], &Error{Pos: l[MaxErrors].Pos, Msg: "too many errors"})
	}
	return l
}

// suggest returns ` (did you mean "x"?)` for the closest candidate, or "".
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD || d == bestD && best == "" && d < 3 {
			best, bestD = c, d
		}
	}
	if best == "" || len(s) < 3 && bestD > 1 {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// joinNames joins names with commas (at most 12, then …).
func joinNames(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i == 12 {
			b.WriteString(", …")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
	}
	return b.String()
}
