package creative

import (
	"bytes"
	"image"
	_ "image/gif" // register the decoders image.DecodeConfig uses
	_ "image/jpeg"
	_ "image/png"
)

// Media types the bridge recognises in fetched bytes.
const (
	MimePNG  = "image/png"
	MimeJPEG = "image/jpeg"
	MimeGIF  = "image/gif"
	MimeWebP = "image/webp"
	MimeMP4  = "video/mp4"
	MimeWebM = "video/webm"
)

// imageFacts decodes an image's header (never its pixels): its type from the
// bytes, whatever Content-Type the server sent, and its size.
func imageFacts(b []byte) (mime string, w, h int, ok bool) {
	if len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP" {
		w, h, err := webpSize(b)
		return MimeWebP, w, h, err == nil
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return "", 0, 0, false
	}
	switch format {
	case "png":
		return MimePNG, cfg.Width, cfg.Height, true
	case "jpeg":
		return MimeJPEG, cfg.Width, cfg.Height, true
	case "gif":
		return MimeGIF, cfg.Width, cfg.Height, true
	}
	return "", 0, 0, false
}

// videoMime tells an mp4 (an ISO BMFF ftyp box first) or a WebM file (an
// EBML header whose DocType is webm) from its first bytes; "" for anything
// else.
func videoMime(b []byte) string {
	// QuickTime (major brand "qt  ") is ISO BMFF too, but not mp4.
	if len(b) >= 12 && string(b[4:8]) == "ftyp" && string(b[8:12]) != "qt  " {
		return MimeMP4
	}
	if len(b) >= 4 && bytes.Equal(b[:4], []byte{0x1a, 0x45, 0xdf, 0xa3}) {
		head := b[:min(len(b), 64)]
		// The EBML header's DocType element (id 0x4282) says webm (or
		// matroska, which browsers do not promise to play).
		if i := bytes.Index(head, []byte{0x42, 0x82}); i >= 0 && bytes.Contains(head[i:], []byte("webm")) {
			return MimeWebM
		}
	}
	return ""
}

// sniff is the facts of fetched creative bytes: image or video type, and the
// image's size (a video's size comes from its VAST MediaFile).
func sniff(b []byte) (mime string, w, h int) {
	if m := videoMime(b); m != "" {
		return m, 0, 0
	}
	if m, w, h, ok := imageFacts(b); ok {
		return m, w, h
	}
	return "", 0, 0
}
