package creative

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/adshares/dsp-bridge/macros"
)

// Creative.CORS says whether the browser could fetch SourceURL itself: every
// hop, redirects included, must answer Access-Control-Allow-Origin: * (after
// a cross-origin redirect the Origin is "null", so an exact origin fails).
// It is a fact of the URL, kept per URL even where bytes are shared.
func TestCORSOnEveryHop(t *testing.T) {
	img, _ := generated("300x250.png")
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/star.png":
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Write(img)
		case "/exact.png":
			w.Header().Set("Access-Control-Allow-Origin", "https://pub.example")
			w.Write(img)
		case "/none.png":
			w.Write(img)
		case "/to-star":
			w.Header().Set("Access-Control-Allow-Origin", "*")
			http.Redirect(w, r, "/star.png", http.StatusFound)
		case "/bare-to-star":
			http.Redirect(w, r, "/star.png", http.StatusFound)
		}
	}))
	defer s.Close()
	r := New(http.DefaultClient, Config{})
	defer r.Close()
	slot := Slot{Type: "image", Mime: MimePNG, W: 300, H: 250}
	for path, want := range map[string]bool{"/star.png": true, "/exact.png": false, "/none.png": false, "/to-star": true, "/bare-to-star": false} {
		for round := range 2 { // fetched, then from the cache
			c, err := r.Markup(t.Context(), slot, `<img src="`+s.URL+path+`">`, macros.Values{})
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if c.CORS != want || c.Cached != (round == 1) {
				t.Errorf("%s round %d: CORS %v cached %v, want CORS %v", path, round, c.CORS, c.Cached, want)
			}
		}
	}
}
