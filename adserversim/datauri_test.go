package adserversim

import (
	"bytes"
	"context"
	"testing"
)

func TestDecodeDataURI(t *testing.T) {
	tests := []struct {
		uri, typ string
		data     []byte
		bad      bool
	}{
		{"data:image/png;base64,iVBORw0KGgo=", "image/png", []byte("\x89PNG\r\n\x1a\n"), false},
		{"data:text/html,%3Cb%3Ehi%3C%2Fb%3E", "text/html", []byte("<b>hi</b>"), false},
		{"data:,A%20brief%20note", "text/plain;charset=US-ASCII", []byte("A brief note"), false},
		{"data:image/png;base64,@@", "", nil, true},
		{"http://x/", "", nil, true},
		{"data:image/png", "", nil, true},
	}
	for _, tt := range tests {
		typ, data, err := DecodeDataURI(tt.uri)
		if (err != nil) != tt.bad || typ != tt.typ || !bytes.Equal(data, tt.data) {
			t.Errorf("DecodeDataURI(%q) = %q, %q, %v", tt.uri, typ, data, err)
		}
	}
}

// A data: serve_url is decoded as the browser would, without a request.
func TestServeDecodesDataURI(t *testing.T) {
	c := &Client{}
	res, err := c.Serve(context.Background(), Win{ServeURL: "data:image/png;base64,iVBORw0KGgo="}, "https://pub.example")
	if err != nil || res.Status != 200 || res.ContentType != "image/png" || !res.CORS || !bytes.Equal(res.Body, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("Serve = %+v, %v", res, err)
	}
	if _, err := c.Serve(context.Background(), Win{ServeURL: "data:image/png;base64,"}, "https://pub.example"); err == nil {
		t.Fatal("an empty data: URI was served")
	}
}

func FuzzDecodeDataURI(f *testing.F) {
	for _, s := range []string{"data:image/png;base64,iVBORw0KGgo=", "data:,a%20b", "data:;base64,", "data:text/html;charset=utf-8,%3C"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		typ, data, err := DecodeDataURI(uri)
		if err == nil && typ == "" {
			t.Fatalf("%q decoded without a media type", uri)
		}
		if err != nil && (typ != "" || data != nil) {
			t.Fatalf("%q failed but returned %q %q", uri, typ, data)
		}
	})
}
