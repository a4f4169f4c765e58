package auction

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/adshares/dsp-bridge/dspsim"
)

// assetServer is a DSP's asset and tracker server on loopback for the
// creative tests: generated images (/img/WxH.png|jpg|gif), the sample
// videos (/media/sample.mp4|webm), documents given by the test (VAST behind
// wrappers), paths that hold their answer until released, and 204 for
// every other path (pixels, notices). It counts every hit by path.
type assetServer struct {
	*httptest.Server
	mu    sync.Mutex
	hits  map[string]int
	qs    map[string][]string // raw queries by path
	docs  map[string]asset
	held  map[string]chan struct{}
	cors  bool
	arrid chan string // paths of held requests as they arrive
}

// asset is a document the server answers at a path.
type asset struct {
	Body string `json:"body"`
	Type string `json:"type"`
}

func newAssetServer(t testing.TB) *assetServer {
	t.Helper()
	a := &assetServer{hits: map[string]int{}, qs: map[string][]string{}, docs: map[string]asset{}, held: map[string]chan struct{}{}, arrid: make(chan string, 64)}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

// hold makes requests for path wait until release is closed (or the
// client leaves).
func (a *assetServer) hold(path string) (release func()) {
	ch := make(chan struct{})
	a.mu.Lock()
	a.held[path] = ch
	a.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

func (a *assetServer) hitsOf(path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits[path]
}

// queries are the raw queries of the hits of path, sorted.
func (a *assetServer) queries(path string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := append([]string(nil), a.qs[path]...)
	slices.Sort(out)
	return out
}

func (a *assetServer) allHits() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for k, v := range a.hits {
		out[k] = v
	}
	return out
}

func (a *assetServer) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	a.mu.Lock()
	a.hits[p]++
	a.qs[p] = append(a.qs[p], r.URL.RawQuery)
	held := a.held[p]
	doc, hasDoc := a.docs[p]
	cors := a.cors
	a.mu.Unlock()
	if held != nil {
		a.arrid <- p
		select {
		case <-held:
		case <-r.Context().Done():
			return
		}
	}
	if cors {
		w.Header().Set("Access-Control-Allow-Origin", "*")
	}
	switch {
	case hasDoc:
		w.Header().Set("Content-Type", doc.Type)
		w.Write([]byte(strings.ReplaceAll(doc.Body, "{{SERVER}}", a.URL)))
	case strings.HasPrefix(p, "/img/"):
		b, ok := generatedImage(strings.TrimPrefix(p, "/img/"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	case p == "/media/sample.mp4":
		w.Header().Set("Content-Type", "video/mp4")
		w.Write(dspsim.SampleMP4)
	case p == "/media/sample.webm":
		w.Header().Set("Content-Type", "video/webm")
		w.Write(dspsim.SampleWebM)
	case strings.HasPrefix(p, "/big-mp4/"): // /big-mp4/N: N bytes behind an mp4 header
		n, _ := strconv.Atoi(strings.TrimPrefix(p, "/big-mp4/"))
		b := bytes.Repeat([]byte{0}, n)
		copy(b, "\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp41")
		w.Write(b)
	case strings.HasPrefix(p, "/big/"): // /big/N: N bytes behind a PNG signature
		n, _ := strconv.Atoi(strings.TrimPrefix(p, "/big/"))
		b := bytes.Repeat([]byte{0}, n)
		copy(b, "\x89PNG\r\n\x1a\n")
		w.Write(b)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

var imageName = regexp.MustCompile(`^([0-9]+)x([0-9]+)\.(png|jpg|gif)$`)

// generatedImage encodes an image named WxH.png|jpg|gif (the same bytes
// for the same name).
func generatedImage(name string) ([]byte, bool) {
	m := imageName.FindStringSubmatch(name)
	if m == nil {
		return nil, false
	}
	w, _ := strconv.Atoi(m[1])
	h, _ := strconv.Atoi(m[2])
	if w < 1 || h < 1 || w > 2000 || h > 2000 {
		return nil, false
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 0x60, 0xff})
		}
	}
	var b bytes.Buffer
	var err error
	switch m[3] {
	case "png":
		err = png.Encode(&b, img)
	case "jpg":
		err = jpeg.Encode(&b, img, nil)
	case "gif":
		err = gif.Encode(&b, img, nil)
	}
	return b.Bytes(), err == nil
}

// dataOf is the data: URI the bridge makes of an asset path's bytes.
func (a *assetServer) dataOf(t testing.TB, path, mime string) string {
	t.Helper()
	resp, err := http.Get(a.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	a.mu.Lock()
	a.hits[path]-- // the test's own fetch is not the bridge's
	a.mu.Unlock()
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b.Bytes())
}
