package creative

import (
	"os"
	"testing"
)

func TestSniff(t *testing.T) {
	file := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	gen := func(name string) []byte {
		b, ok := generated(name)
		if !ok {
			t.Fatal(name)
		}
		return b
	}
	// A 64-byte EBML header with DocType matroska: a .mkv, not WebM.
	mkv := append([]byte{0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x82, 0x88}, []byte("matroska")...)
	tests := []struct {
		name string
		b    []byte
		mime string
		w, h int
	}{
		{"png", gen("300x250.png"), MimePNG, 300, 250},
		{"jpeg", gen("320x50.jpg"), MimeJPEG, 320, 50},
		{"gif", gen("728x90.gif"), MimeGIF, 728, 90},
		{"webp lossy (VP8)", file("images/vp8-300x250.webp"), MimeWebP, 300, 250},
		{"webp lossless (VP8L)", file("images/vp8l-320x50.webp"), MimeWebP, 320, 50},
		{"webp extended (VP8X, alpha)", file("images/vp8x-300x250.webp"), MimeWebP, 300, 250},
		{"mp4", file("media/tiny.mp4"), MimeMP4, 0, 0},
		{"webm", file("media/tiny.webm"), MimeWebM, 0, 0},
		{"quicktime", append([]byte{0, 0, 0, 20}, []byte("ftypqt  \x00\x00\x02\x00qt  ")...), "", 0, 0},
		{"matroska", mkv, "", 0, 0},
		{"truncated webp", file("images/vp8-300x250.webp")[:24], "", 0, 0},
		{"truncated png", gen("300x250.png")[:20], "", 0, 0},
		{"html", []byte("<html><img src=x></html>"), "", 0, 0},
		{"empty", nil, "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mime, w, h := sniff(tt.b)
			if mime != tt.mime || w != tt.w || h != tt.h {
				t.Fatalf("sniff = %q %dx%d, want %q %dx%d", mime, w, h, tt.mime, tt.w, tt.h)
			}
		})
	}
}

func TestWebPHeaderCorruptions(t *testing.T) {
	good, err := os.ReadFile("testdata/images/vp8-300x250.webp")
	if err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(b []byte){
		"not a key frame":   func(b []byte) { b[20] |= 1 },
		"bad start code":    func(b []byte) { b[23] = 0 },
		"unknown chunk":     func(b []byte) { copy(b[12:16], "ALPH") },
		"tiny RIFF size":    func(b []byte) { b[4], b[5], b[6], b[7] = 4, 0, 0, 0 },
		"zero width (VP8)":  func(b []byte) { b[26], b[27] = 0, 0 },
		"not RIFF":          func(b []byte) { copy(b[0:4], "RIFX") },
		"VP8L bad version":  func(b []byte) { copy(b[12:16], "VP8L"); b[20] = 0x2f; b[24] = 0xe0 },
		"VP8L no signature": func(b []byte) { copy(b[12:16], "VP8L"); b[20] = 0 },
	} {
		b := append([]byte(nil), good...)
		mutate(b)
		if w, h, err := webpSize(b); err == nil {
			t.Errorf("%s: accepted as %dx%d", name, w, h)
		}
	}
}

func FuzzSniff(f *testing.F) {
	for _, name := range []string{"images/vp8-300x250.webp", "images/vp8l-320x50.webp", "images/vp8x-300x250.webp", "media/tiny.mp4", "media/tiny.webm"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 64)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		mime, w, h := sniff(b)
		if (mime == "") != (w == 0 && h == 0) && mime != MimeMP4 && mime != MimeWebM {
			t.Fatalf("%q with %dx%d", mime, w, h)
		}
		if w < 0 || h < 0 {
			t.Fatalf("negative size %dx%d", w, h)
		}
	})
}
