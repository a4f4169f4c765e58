package ads_test

import (
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/ads"
)

func TestATOM(t *testing.T) {
	ts := time.Date(2023, 3, 17, 16, 4, 33, 500, time.UTC)
	if s := ads.FormatATOM(ts); s != "2023-03-17T16:04:33+00:00" {
		t.Fatalf("FormatATOM = %s", s)
	}
	if s := ads.FormatATOM(ts.In(time.FixedZone("KST", 9*3600))); s != "2023-03-17T16:04:33+00:00" {
		t.Fatalf("FormatATOM of a non-UTC time = %s, want it in UTC", s)
	}
	if got, err := ads.ParseATOM("2023-03-17T16:04:33+00:00"); err != nil || !got.Equal(ts.Truncate(time.Second)) {
		t.Fatalf("ParseATOM = %v, %v", got, err)
	}
	if _, err := ads.ParseATOM("2023-03-17T16:04:33Z"); err == nil {
		t.Fatal("Z must not parse as ATOM")
	}
}
