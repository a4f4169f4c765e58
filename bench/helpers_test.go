package bench

import (
	"net/url"
	"testing"

	"github.com/adshares/dsp-bridge/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
