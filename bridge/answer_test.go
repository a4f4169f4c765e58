package bridge

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/adshares/dsp-bridge/auction"
)

func encodeAnswerStd(out []bidAnswer) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
	return buf.String()
}

func TestEncodeAnswerIsTheEncoders(t *testing.T) {
	for _, out := range [][]bidAnswer{
		nil, {},
		{{RequestID: "0", ExtID: "a7Kq3xY0-1", ServeURL: "http://127.0.0.1:9001/serve?a=1&b=2"}},
		{{RequestID: "1", ExtID: "x", ServeURL: "data:image/png;base64,iVBORw0KGgo="}, {RequestID: "2", ExtID: "y", ServeURL: "https://d/<x>"}},
		{{RequestID: "é", ExtID: "\"q\"", ServeURL: "a\\b\n\u2028\xff"}}, // the encoder's path
	} {
		var buf bytes.Buffer
		if err := encodeAnswer(&buf, out); err != nil {
			t.Fatal(err)
		}
		if want := encodeAnswerStd(out); buf.String() != want {
			t.Errorf("%+v:\n got %q\nwant %q", out, buf.String(), want)
		}
		checkEncodeWins(t, out)
	}
}

// checkEncodeWins: encodeWins of the wins behind out writes what the
// encoder writes of out, [] for none (serve never answers null).
func checkEncodeWins(t *testing.T, out []bidAnswer) {
	t.Helper()
	var wins []auction.Win
	for _, a := range out {
		wins = append(wins, auction.Win{RequestID: a.RequestID, ExtID: a.ExtID, ServeURL: a.ServeURL, DSP: "d", PriceMicros: 1})
	}
	var buf bytes.Buffer
	if err := encodeWins(&buf, wins); err != nil {
		t.Fatal(err)
	}
	if want := encodeAnswerStd(append([]bidAnswer{}, out...)); buf.String() != want {
		t.Errorf("encodeWins %+v:\n got %q\nwant %q", wins, buf.String(), want)
	}
}

// FuzzEncodeAnswer: the /bid answer's bytes are json.Encoder's (without
// HTML escaping) for any ids and serve_urls.
func FuzzEncodeAnswer(f *testing.F) {
	f.Add("0", "a7Kq3xY0-1", "http://127.0.0.1:9001/serve?a=1&b=2", 2)
	f.Add("1", "\"", "\x7f<>&\u2028", 1)
	f.Fuzz(func(t *testing.T, requestID, extID, serveURL string, n int) {
		out := make([]bidAnswer, 0, 3)
		for i := range n % 4 {
			out = append(out, bidAnswer{RequestID: requestID, ExtID: extID[:len(extID)*i/3], ServeURL: serveURL})
		}
		var buf bytes.Buffer
		if err := encodeAnswer(&buf, out); err != nil {
			t.Fatal(err)
		}
		if want := encodeAnswerStd(out); buf.String() != want {
			t.Fatalf("%+v:\n got %q\nwant %q", out, buf.String(), want)
		}
		checkEncodeWins(t, out)
	})
}
