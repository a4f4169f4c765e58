package creative

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseImageMarkupAccepts(t *testing.T) {
	const img = "http://127.0.0.1/i.png"
	tests := []struct {
		name, adm string
		want      ImageMarkup
	}{
		{"bare img", `<img src="http://127.0.0.1/i.png">`, ImageMarkup{ImageURL: img}},
		{"self-closing, upper case, unquoted", `<IMG SRC=http://127.0.0.1/i.png WIDTH=300 HEIGHT=250 />`, ImageMarkup{ImageURL: img, W: 300, H: 250}},
		{"protocol-relative src is https", `<img src="//cdn.example/i.png">`, ImageMarkup{ImageURL: "https://cdn.example/i.png"}},
		{"entities decoded in attributes", `<a href="http://127.0.0.1/c?a=1&amp;b=2&#38;c=3"><img src="http://127.0.0.1/i.png?x=1&amp;y=2"></a>`,
			ImageMarkup{ImageURL: img + "?x=1&y=2", ClickURL: "http://127.0.0.1/c?a=1&b=2&c=3"}},
		{"link, pixels inside and outside, duplicate pixel once",
			`<a href="http://127.0.0.1/c"><img src="http://127.0.0.1/i.png"><img src="http://127.0.0.1/p1" width="1" height="1"></a>` +
				`<img src="http://127.0.0.1/p2" width="0" height="0"><img src="http://127.0.0.1/p1" width=1 height=1>`,
			ImageMarkup{ImageURL: img, ClickURL: "http://127.0.0.1/c", Pixels: []string{"http://127.0.0.1/p1", "http://127.0.0.1/p2"}}},
		{"hidden pixel without size", `<img src="http://127.0.0.1/i.png"><img src="http://127.0.0.1/p" style="display: none">`,
			ImageMarkup{ImageURL: img, Pixels: []string{"http://127.0.0.1/p"}}},
		{"layout wrappers, doctype, comment, title, plain style, nbsp",
			"<!DOCTYPE html><html><head><meta charset=utf-8><title>ad</title><style>body{margin:0}</style></head>" +
				"<body style=\"margin:0\"><!-- ad --><div><center>&nbsp;<a href='https://127.0.0.1/c' target=_blank><img src=http://127.0.0.1/i.png></a></center></div>\n</body></html>",
			ImageMarkup{ImageURL: img, ClickURL: "https://127.0.0.1/c"}},
		{"anchor without href", `<a name="x"><img src="http://127.0.0.1/i.png"></a>`, ImageMarkup{ImageURL: img}},
		{"first of repeated attributes", `<img src="http://127.0.0.1/i.png" src="http://evil.example/x.png">`, ImageMarkup{ImageURL: img}},
		{"px sizes", `<img src="http://127.0.0.1/i.png" width="300px" height="250px">`, ImageMarkup{ImageURL: img, W: 300, H: 250}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseImageMarkup(tt.adm)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestParseImageMarkupRefuses(t *testing.T) {
	const img = `<img src="http://127.0.0.1/i.png">`
	tests := []struct {
		name, adm, detail string
		reason            Reason
	}{
		{"empty", "  ", "empty", ReasonUnrenderable},
		{"native JSON", `{"native":{}}`, "native", ReasonUnrenderable},
		{"VAST", `<VAST version="3.0"></VAST>`, "XML", ReasonUnrenderable},
		{"script", `<script>document.write('x')</script>` + img, "script", ReasonUnrenderable},
		{"external script", img + `<script src="http://127.0.0.1/t.js"></script>`, "script", ReasonUnrenderable},
		{"noscript", `<noscript>` + img + `</noscript>`, "script", ReasonUnrenderable},
		{"script in a bogus comment", `<!000<sCript>` + img, "script", ReasonUnrenderable}, // found by FuzzParseImageMarkup
		{"script in a conditional comment", `<!--[if IE]><script>alert(1)</script><![endif]-->` + img, "script", ReasonUnrenderable},
		{"script in a title", `<title><script>x</script></title>` + img, "script", ReasonUnrenderable},
		{"MRAID", `<img src="http://127.0.0.1/i.png"><!-- <script src="MRAID.js"> -->`, "MRAID", ReasonUnrenderable},
		{"iframe", `<iframe src="http://127.0.0.1/ad.html" width=300 height=250></iframe>`, "iframe", ReasonUnrenderable},
		{"object", `<object data="http://127.0.0.1/a.swf"></object>` + img, "object", ReasonUnrenderable},
		{"embed", img + `<embed src="http://127.0.0.1/a.swf">`, "embed", ReasonUnrenderable},
		{"onload", `<img src="http://127.0.0.1/i.png" onload="alert(1)">`, "event handler", ReasonUnrenderable},
		{"onclick on link", `<a href="http://127.0.0.1/c" onclick="x()">` + img + `</a>`, "event handler", ReasonUnrenderable},
		{"javascript href", `<a href="java&#x09;script:alert(1)">` + img + `</a>`, "script URL", ReasonUnrenderable},
		{"javascript src", `<img src=" JAVASCRIPT:alert(1)">`, "script URL", ReasonUnrenderable},
		{"style with url", `<div style="background:url(http://127.0.0.1/bg.png)">` + img + `</div>`, "loads a resource", ReasonUnrenderable},
		{"style element with import", `<style>@import "http://127.0.0.1/a.css";</style>` + img, "loads a resource", ReasonUnrenderable},
		{"css escape", `<div style="background:u\72l(x)">` + img + `</div>`, "loads a resource", ReasonUnrenderable},
		{"two images", img + `<img src="http://127.0.0.1/j.png">`, "several images", ReasonUnrenderable},
		{"pixel-less second image (no size)", img + `<img src="http://127.0.0.1/track.gif" border=0>`, "several images", ReasonUnrenderable},
		{"no image", `<a href="http://127.0.0.1/c">click</a>`, "text", ReasonUnrenderable},
		{"only pixels", `<img src="http://127.0.0.1/p" width=1 height=1>`, "no image", ReasonUnrenderable},
		{"visible text", `<p>Buy now!</p>` + img, "text", ReasonUnrenderable},
		{"link without the image", `<a href="http://127.0.0.1/c"></a>` + img, "does not wrap", ReasonUnrenderable},
		{"unclosed link without the image", img + `<a href="http://127.0.0.1/c">`, "does not wrap", ReasonUnrenderable},
		{"nested links", `<a href="http://127.0.0.1/c"><a href="http://127.0.0.1/d">` + img + `</a></a>`, "nested", ReasonUnrenderable},
		{"relative src", `<img src="/i.png">`, "not an absolute", ReasonUnrenderable},
		{"data src", `<img src="data:image/png;base64,iVBORw0KGgo=">`, "not an absolute", ReasonUnrenderable},
		{"ftp link", `<a href="ftp://127.0.0.1/c">` + img + `</a>`, "not an absolute", ReasonUnrenderable},
		{"userinfo in src", `<img src="http://user:pw@127.0.0.1/i.png">`, "not an absolute", ReasonUnrenderable},
		{"img without src", `<img data-src="http://127.0.0.1/i.png">`, "without src", ReasonUnrenderable},
		{"image map", `<img src="http://127.0.0.1/i.png" usemap="#m">`, "usemap", ReasonUnrenderable},
		{"meta refresh", `<meta http-equiv="refresh" content="0;url=http://127.0.0.1/">` + img, "http-equiv", ReasonUnrenderable},
		{"svg", `<svg><image href="http://127.0.0.1/i.png"/></svg>`, "svg", ReasonUnrenderable},
		{"video", `<video src="http://127.0.0.1/v.mp4"></video>`, "video", ReasonUnrenderable},
		{"picture", `<picture><source srcset="http://127.0.0.1/i.webp">` + img + `</picture>`, "<picture>", ReasonUnrenderable},
		{"base", `<base href="http://127.0.0.1/">` + img, "base", ReasonUnrenderable},
		{"too many pixels", img + pixels(MaxPixels+1), "tracking pixels", ReasonUnrenderable},
		{"too long", img + strings.Repeat(" ", MaxMarkupBytes), "bytes", ReasonTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseImageMarkup(tt.adm)
			if err == nil {
				t.Fatalf("accepted: %+v", got)
			}
			if ReasonOf(err) != tt.reason || !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("error %q, want reason %s with %q", err, tt.reason, tt.detail)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	for adm, want := range map[string]Kind{
		"":                              KindNone,
		" \n\t":                         KindNone,
		"\uFEFF<?xml version=\"1.0\"?>": KindVAST,
		"  <VAST version='2.0'>":        KindVAST,
		"<vast>":                        KindVAST,
		"<!-- by dsp -->\n<VAST>":       KindVAST,
		"<!-- unclosed <VAST>":          KindHTML,
		`{"native":{}}`:                 KindNative,
		` [1]`:                          KindNative,
		`<a href=x><img src=y></a>`:     KindHTML,
		`plain text`:                    KindHTML,
	} {
		if got := Classify(adm); got != want {
			t.Errorf("Classify(%q) = %s, want %s", adm, got, want)
		}
	}
}

// pixels is n distinct 1×1 images.
func pixels(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `<img width=1 height=1 src="http://127.0.0.1/p?n=%d">`, i)
	}
	return b.String()
}
