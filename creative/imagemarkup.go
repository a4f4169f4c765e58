package creative

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/net/html"
)

// ImageMarkup is what the one markup shape the bridge renders carries: an
// image, optionally inside a link, with optional 1×1 tracking pixels.
type ImageMarkup struct {
	ImageURL string   // the image's src
	ClickURL string   // the href of the link around the image ("" without one)
	Pixels   []string // src of every 1×1 (or hidden) image, in document order, without duplicates
	// W and H are the image's width/height attributes (0 when absent). Only
	// the fetched bytes' size is checked against the slot.
	W, H int
}

// MaxPixels is the most tracking pixels accepted in one markup: the bridge
// fires them itself, so a markup with hundreds would turn it into a
// request amplifier.
const MaxPixels = 8

// Elements that may wrap the image: they change only layout, which the
// Adshares page does not use (it shows the image bytes alone).
var wrapperElements = map[string]bool{
	"html": true, "head": true, "body": true, "div": true, "span": true, "center": true, "p": true,
	"br": true, "meta": true, "title": true, "style": true, "a": true, "img": true,
}

// Elements named in refusals, for a clearer detail than "element <x>".
var refusedElements = map[string]string{
	"script": "a script", "noscript": "a script", "iframe": "an iframe", "frame": "an iframe",
	"frameset": "an iframe", "object": "an <object>", "embed": "an <embed>", "applet": "an <applet>",
	"video": "a video element", "audio": "an audio element", "canvas": "a canvas", "svg": "an svg",
	"form": "a form", "link": "an external stylesheet or link", "base": "a <base>",
}

// Attributes that load a resource or run code whatever their value.
var refusedAttributes = map[string]bool{
	"srcdoc": true, "formaction": true, "background": true, "lowsrc": true, "dynsrc": true,
	"usemap": true, "ismap": true, "poster": true, "xlink:href": true,
}

// ParseImageMarkup extracts the image, link and pixels from adm (with its
// macros already substituted). It is strict: it accepts only an image in an
// optional link plus pixels, wrapped at most in layout elements, and refuses
// (unrenderable_markup) scripts, iframes, objects, MRAID, event handler and
// javascript: attributes, styles that load resources, visible text, several
// non-pixel images, nested links or a link that does not wrap the image,
// because the Adshares page shows only the image bytes: anything else the
// markup would do is lost or, for scripts, not allowed (BROWSER.md).
// Attribute values are HTML-entity decoded (&amp; in URLs).
func ParseImageMarkup(adm string) (*ImageMarkup, error) {
	if len(adm) > MaxMarkupBytes {
		return nil, refuse(ReasonTooLarge, "markup of %d bytes (max %d)", len(adm), MaxMarkupBytes)
	}
	switch Classify(adm) {
	case KindNone:
		return nil, unrenderable("empty markup")
	case KindNative:
		return nil, unrenderable("native (JSON) markup")
	case KindVAST:
		return nil, unrenderable("XML markup is not image markup")
	}
	lower := strings.ToLower(adm)
	if strings.Contains(lower, "mraid.js") {
		return nil, unrenderable("MRAID markup")
	}
	// A script tag anywhere, even where the tokenizer reads it as text
	// (a comment, a <title>): conditional comments run it in old
	// browsers, and no image markup needs the string.
	if strings.Contains(lower, "<script") {
		return nil, unrenderable("a script in the markup")
	}
	p := imageParser{}
	z := html.NewTokenizer(strings.NewReader(adm))
	z.SetMaxBuf(MaxMarkupBytes)
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if errors.Is(z.Err(), io.EOF) {
				break
			}
			return nil, unrenderable("markup: %v", z.Err())
		}
		if err := p.token(tt, z.Token()); err != nil {
			return nil, err
		}
	}
	if err := p.closeLink(); err != nil {
		return nil, err
	}
	if p.out.ImageURL == "" {
		return nil, unrenderable("no image in the markup")
	}
	return &p.out, nil
}

type imageParser struct {
	out      ImageMarkup
	raw      string // the raw-text element being read (title, style)
	inLink   bool
	linkHref string // href of the open link ("" for an <a> without one)
	linkHas  bool   // the open link wraps the image
}

func (p *imageParser) token(tt html.TokenType, t html.Token) error {
	switch tt {
	case html.CommentToken, html.DoctypeToken:
		return nil
	case html.TextToken:
		if p.raw == "style" {
			return checkCSS(t.Data, "a <style>")
		}
		if p.raw == "" && strings.TrimFunc(t.Data, unicode.IsSpace) != "" {
			return unrenderable("text outside the image")
		}
		return nil
	case html.EndTagToken:
		p.raw = ""
		if t.Data == "a" {
			return p.closeLink()
		}
		return nil
	case html.StartTagToken, html.SelfClosingTagToken:
		p.raw = ""
		if what, ok := refusedElements[t.Data]; ok {
			return unrenderable("%s in the markup", what)
		}
		if !wrapperElements[t.Data] {
			return unrenderable("element <%s> in the markup", t.Data)
		}
		if err := checkAttributes(t); err != nil {
			return err
		}
		switch t.Data {
		case "title", "style":
			// The tokenizer reads what follows as raw text even after
			// <title/>, so the self-closing form starts it too.
			p.raw = t.Data
		case "meta":
			if _, ok := attr(t, "http-equiv"); ok {
				return unrenderable("<meta http-equiv> in the markup")
			}
		case "a":
			return p.openLink(t, tt == html.SelfClosingTagToken)
		case "img":
			return p.image(t)
		}
	}
	return nil
}

func (p *imageParser) openLink(t html.Token, selfClosing bool) error {
	if p.inLink {
		return unrenderable("nested links")
	}
	href := ""
	if raw, ok := attr(t, "href"); ok {
		var valid bool
		if href, valid = absURL(raw); !valid {
			return unrenderable("link %q is not an absolute http(s) URL", clip(raw))
		}
	}
	p.inLink, p.linkHref, p.linkHas = true, href, false
	if selfClosing {
		return p.closeLink()
	}
	return nil
}

// closeLink ends the open link: one with an href must have wrapped the
// image, since the page has one click target, the image.
func (p *imageParser) closeLink() error {
	if p.inLink && p.linkHref != "" && !p.linkHas {
		return unrenderable("a link that does not wrap the image")
	}
	p.inLink, p.linkHref, p.linkHas = false, "", false
	return nil
}

func (p *imageParser) image(t html.Token) error {
	raw, ok := attr(t, "src")
	if !ok {
		return unrenderable("an image without src")
	}
	src, valid := absURL(raw)
	if !valid {
		return unrenderable("image src %q is not an absolute http(s) URL", clip(raw))
	}
	wa, hasW := attr(t, "width")
	ha, hasH := attr(t, "height")
	w, h := dimension(wa), dimension(ha)
	style, _ := attr(t, "style")
	if (hasW && hasH && w >= 0 && w <= 1 && h >= 0 && h <= 1) || hidden(style) {
		for _, px := range p.out.Pixels {
			if px == src {
				return nil
			}
		}
		if len(p.out.Pixels) == MaxPixels {
			return unrenderable("more than %d tracking pixels", MaxPixels)
		}
		p.out.Pixels = append(p.out.Pixels, src)
		return nil
	}
	if p.out.ImageURL != "" {
		return unrenderable("several images")
	}
	p.out.ImageURL, p.out.W, p.out.H = src, max(w, 0), max(h, 0)
	if p.inLink {
		p.linkHas = true
		p.out.ClickURL = p.linkHref
	}
	return nil
}

// checkAttributes refuses attributes that run code or load what the page
// would never show: event handlers, javascript: URLs, resource-loading
// styles.
func checkAttributes(t html.Token) error {
	for _, a := range t.Attr {
		key := a.Key
		if a.Namespace != "" {
			key = a.Namespace + ":" + a.Key
		}
		if strings.HasPrefix(key, "on") {
			return unrenderable("event handler attribute %s on <%s>", key, t.Data)
		}
		if refusedAttributes[key] {
			return unrenderable("attribute %s on <%s>", key, t.Data)
		}
		if scriptURL(a.Val) {
			return unrenderable("a script URL in %s on <%s>", key, t.Data)
		}
		if key == "style" {
			if err := checkCSS(a.Val, "a style attribute"); err != nil {
				return err
			}
		}
	}
	return nil
}

// scriptURL reports a javascript:, vbscript: or data:text/html value, the
// way a browser reads it (ASCII whitespace and controls inside the scheme
// are ignored).
func scriptURL(v string) bool {
	var b strings.Builder
	for _, r := range v {
		if r <= ' ' {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
		if b.Len() >= 16 {
			break
		}
	}
	s := b.String()
	return strings.HasPrefix(s, "javascript:") || strings.HasPrefix(s, "vbscript:") || strings.HasPrefix(s, "data:text/html")
}

// checkCSS refuses CSS that loads something (url(), @import, IE's
// expression()) or hides it behind escapes.
func checkCSS(css, where string) error {
	s := strings.ToLower(css)
	for _, bad := range []string{"url(", "@import", "expression(", "\\", "image-set(", "behavior"} {
		if strings.Contains(s, bad) {
			return unrenderable("%s that loads a resource", where)
		}
	}
	return nil
}

// hidden reports an inline style that hides the element (how some DSPs mark
// pixels instead of width=1 height=1).
func hidden(style string) bool {
	s := strings.Join(strings.Fields(strings.ToLower(style)), "")
	return strings.Contains(s, "display:none") || strings.Contains(s, "visibility:hidden")
}

// dimension parses a width/height attribute ("300", "300px"); -1 if it is
// absent or not a number (a percentage, for one).
func dimension(v string) int {
	v = strings.TrimSuffix(strings.TrimSpace(strings.ToLower(v)), "px")
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// attr is the value of the first attribute named key (browsers ignore
// repeated attributes).
func attr(t html.Token, key string) (string, bool) {
	for _, a := range t.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// clip shortens untrusted text quoted in a refusal detail.
func clip(s string) string {
	if len(s) > 80 {
		s = strings.ToValidUTF8(s[:80], "") + "..."
	}
	return s
}
