package runtime

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestLayoutConversions(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, sz := range [][3]int{{1, 1, 1}, {3, 1, 1}, {1, 4, 5}, {3, 7, 9}, {5, 1, 3}, {64, 33, 35}, {40, 1, 1}} {
		c, h, w := sz[0], sz[1], sz[2]
		nchw := opsTestRand(r, c*h*w)
		want := opsTestToNHWC(nchw, c, h, w)
		nhwc := make([]float32, len(nchw))
		NCHWToNHWC(nhwc, nchw, c, h, w)
		opsTestClose(t, fmt.Sprintf("NCHWToNHWC %v", sz), nhwc, want, 0)
		back := make([]float32, len(nchw))
		NHWCToNCHW(back, nhwc, c, h, w)
		opsTestClose(t, "NHWCToNCHW", back, nchw, 0)
		flat := make([]float32, len(nchw))
		Flatten(flat, nhwc, h, w, c)
		opsTestClose(t, "Flatten", flat, nchw, 0)
	}
}
