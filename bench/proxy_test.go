package bench

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/dspsim"
)

const rtbRequest = `{"id":"r1","imp":[{"id":"0","banner":{"format":[{"w":300,"h":250}]}}],"cur":["USD"]}`

func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// The floor forwards the request as it is to every DSP and relays what
// they answered; a DSP that never answers is cut off, and views get 204.
func TestProxy(t *testing.T) {
	a := dspsim.New(dspsim.Options{Price: "1.00"})
	defer a.Close()
	b := dspsim.New(dspsim.Options{Price: "2.00"})
	defer b.Close()
	hung := dspsim.New(dspsim.Options{Mode: dspsim.ModeHang})
	defer hung.Close()

	one := httptest.NewServer(NewProxy([]string{a.Endpoint()}, time.Second))
	defer one.Close()
	status, body := post(t, one.URL+"/bid", rtbRequest)
	var single struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &single); status != 200 || err != nil || single.ID != "r1" {
		t.Fatalf("one DSP: %d %s", status, body)
	}
	if got := string(a.Requests()[0].Body); got != rtbRequest {
		t.Fatalf("the DSP got %s, want the request unchanged", got)
	}

	three := httptest.NewServer(NewProxy([]string{a.Endpoint(), hung.Endpoint(), b.Endpoint()}, 200*time.Millisecond))
	defer three.Close()
	status, body = post(t, three.URL+"/bid", rtbRequest)
	var answers []json.RawMessage
	if err := json.Unmarshal(body, &answers); status != 200 || err != nil || len(answers) != 2 {
		t.Fatalf("three DSPs, one hung: %d %s", status, body)
	}
	if !strings.Contains(string(body), `"price":1.00`) || !strings.Contains(string(body), `"price":2.00`) {
		t.Fatalf("both answers must be relayed: %s", body)
	}
	for _, path := range []string{"/view?extid=x", "/click?extid=x"} {
		resp, err := http.Get(three.URL + path)
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("GET %s: %v %v", path, err, resp)
		}
		resp.Body.Close()
	}
}
