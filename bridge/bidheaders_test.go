package bridge

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// The /bid answer says its type and its exact length, won or not.
func TestBidAnswerHeaders(t *testing.T) {
	sims := benchDSPs(t)
	e := newEnv(t, auctionConfig(testDSP("a", sims[0].Endpoint())))
	for _, body := range []string{simpleBid(creativePNG, creativeJPEG), simpleBid()} {
		resp, err := http.Post(e.url+"/bid", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if ct, cl := resp.Header.Values("Content-Type"), resp.Header.Values("Content-Length"); len(ct) != 1 || ct[0] != "application/json" ||
			len(cl) != 1 || cl[0] != strconv.Itoa(len(raw)) || resp.ContentLength != int64(len(raw)) {
			t.Errorf("answer %q: Content-Type %q, Content-Length %q", raw, ct, cl)
		}
	}
}
