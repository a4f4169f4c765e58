package creative

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// assets is a DSP's asset server on loopback: generated images of any size,
// the testdata files (VAST documents with {{SERVER}} filled in, media,
// WebP), endpoints that fail in each way, and gates that hold an answer
// until the test opens them. It counts every hit by path.
type assets struct {
	*httptest.Server
	mu    sync.Mutex
	hits  map[string]int
	gates map[string]*gate
}

// gate holds the answers of one path: arrived gets a value per request
// once it is waiting, and the answers go out when open is closed.
type gate struct {
	arrived chan struct{}
	open    chan struct{}
	gone    chan struct{} // a request left before the gate opened
}

func newAssets(t testing.TB) *assets {
	t.Helper()
	a := &assets{hits: map[string]int{}, gates: map[string]*gate{}}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

// hold makes requests for path wait until the returned gate is opened.
func (a *assets) hold(path string) *gate {
	g := &gate{arrived: make(chan struct{}, 16), open: make(chan struct{}), gone: make(chan struct{}, 16)}
	a.mu.Lock()
	a.gates[path] = g
	a.mu.Unlock()
	return g
}

func (a *assets) hitsOf(path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits[path]
}

func (a *assets) allHits() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for k, v := range a.hits {
		out[k] = v
	}
	return out
}

func (a *assets) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.hits[r.URL.Path]++
	g := a.gates[r.URL.Path]
	a.mu.Unlock()
	if g != nil {
		g.arrived <- struct{}{}
		select {
		case <-g.open:
		case <-r.Context().Done():
			g.gone <- struct{}{}
			return
		}
	}
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/img/"):
		b, ok := generated(strings.TrimPrefix(p, "/img/"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream") // the bytes decide, not the header
		w.Write(b)
	case strings.HasPrefix(p, "/vast/"):
		b, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.Write(bytes.ReplaceAll(b, []byte("{{SERVER}}"), []byte(a.URL)))
	case strings.HasPrefix(p, "/media/") || strings.HasPrefix(p, "/images/"):
		b, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	case strings.HasPrefix(p, "/big/"): // /big/N: N bytes of a PNG-looking body
		n, _ := strconv.Atoi(strings.TrimPrefix(p, "/big/"))
		if r.URL.Query().Has("chunked") {
			w.(http.Flusher).Flush() // no Content-Length: the cap must hold while reading
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		w.Write(bytes.Repeat([]byte{0x89}, n))
	case p == "/empty":
		w.WriteHeader(http.StatusOK)
	case p == "/nocontent":
		w.WriteHeader(http.StatusNoContent)
	case p == "/text":
		w.Write([]byte("<html>not an image</html>"))
	default:
		http.NotFound(w, r)
	}
}

// generated encodes an image named WxH.png|jpg|gif, or false.
func generated(name string) ([]byte, bool) {
	size, ext, _ := strings.Cut(name, ".")
	ws, hs, _ := strings.Cut(size, "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if err1 != nil || err2 != nil || w <= 0 || h <= 0 || w > 4000 || h > 4000 {
		return nil, false
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 0x80, 0xff})
		}
	}
	var b bytes.Buffer
	var err error
	switch ext {
	case "png":
		err = png.Encode(&b, img)
	case "jpg":
		err = jpeg.Encode(&b, img, nil)
	case "gif":
		err = gif.Encode(&b, img, nil)
	default:
		return nil, false
	}
	return b.Bytes(), err == nil
}
