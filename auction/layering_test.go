package auction

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAuctionDoesNotDependOnTheServer keeps the layering of ARCHITECTURE.md:
// bridge (the AdServer-facing server) uses auction, never the reverse, and
// neither do the packages auction uses.
func TestAuctionDoesNotDependOnTheServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch dep {
		case "github.com/adshares/dsp-bridge/bridge", "github.com/adshares/dsp-bridge/events",
			"github.com/adshares/dsp-bridge/payments", "github.com/adshares/dsp-bridge/service",
			"github.com/adshares/dsp-bridge/httpapi", "github.com/go-chi/chi/v5":
			t.Errorf("auction depends on %s", dep)
		}
	}
}
