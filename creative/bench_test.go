package creative

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/adshares/dsp-bridge/macros"
)

// A creative seen before costs a parse and a cache lookup, no fetch.
func BenchmarkMarkupCached(b *testing.B) {
	a := newAssets(b)
	r := New(a.Client(), Config{})
	defer r.Close()
	adm := `<a href="http://127.0.0.1/c?p=${AUCTION_PRICE}"><img src="` + a.URL + `/img/300x250.png" width=300 height=250></a>` +
		`<img src="http://127.0.0.1/px?p={AUCTION_PRICE}" width=1 height=1>`
	v := macros.Values{Price: "1.25", AuctionID: "a"}
	if _, err := r.Markup(context.Background(), banner, adm, v); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Markup(context.Background(), banner, adm, v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseVAST(b *testing.B) {
	doc, err := os.ReadFile("testdata/vast/inline.xml")
	if err != nil {
		b.Fatal(err)
	}
	doc = []byte(strings.ReplaceAll(string(doc), "{{SERVER}}", "http://127.0.0.1:1"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseVAST(doc); err != nil {
			b.Fatal(err)
		}
	}
}
