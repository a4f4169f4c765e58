package creative

import (
	"encoding/binary"
	"errors"
)

var errWebP = errors.New("not a valid WebP header")

// webpSize reads the canvas size of a WebP file from its RIFF header: the
// first chunk is VP8 (lossy), VP8L (lossless) or VP8X (extended: animation,
// alpha, metadata). Only the header is read; the bitstream is not decoded.
func webpSize(b []byte) (w, h int, err error) {
	if len(b) < 30 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return 0, 0, errWebP
	}
	if riff := binary.LittleEndian.Uint32(b[4:8]); riff < 22 {
		return 0, 0, errWebP
	}
	chunk, data := string(b[12:16]), b[20:]
	switch chunk {
	case "VP8 ":
		// A key frame: 3-byte frame tag (bit 0 clear), start code 9d 01 2a,
		// then 14-bit width and height (the top 2 bits are scaling).
		if data[0]&1 != 0 || data[3] != 0x9d || data[4] != 0x01 || data[5] != 0x2a {
			return 0, 0, errWebP
		}
		w = int(binary.LittleEndian.Uint16(data[6:8]) & 0x3fff)
		h = int(binary.LittleEndian.Uint16(data[8:10]) & 0x3fff)
	case "VP8L":
		// Signature 0x2f, then 14 bits width-1 and 14 bits height-1.
		if data[0] != 0x2f {
			return 0, 0, errWebP
		}
		bits := binary.LittleEndian.Uint32(data[1:5])
		if bits>>29 != 0 { // the 3-bit version must be 0
			return 0, 0, errWebP
		}
		w = int(bits&0x3fff) + 1
		h = int(bits>>14&0x3fff) + 1
	case "VP8X":
		// Flags (1 byte), 3 reserved bytes, then 24-bit canvas width-1 and
		// height-1.
		w = int(uint32(data[4])|uint32(data[5])<<8|uint32(data[6])<<16) + 1
		h = int(uint32(data[7])|uint32(data[8])<<8|uint32(data[9])<<16) + 1
	default:
		return 0, 0, errWebP
	}
	if w == 0 || h == 0 {
		return 0, 0, errWebP
	}
	return w, h, nil
}
