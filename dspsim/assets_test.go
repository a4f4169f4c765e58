package dspsim

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// The samples are what their doc comments say; that they decode and play at
// 300x250 is checked in a real browser by internal/browser's tests.
func TestSampleVideos(t *testing.T) {
	// WebM: an EBML header whose DocType is "webm", and a VP9 track.
	if !bytes.HasPrefix(SampleWebM, []byte{0x1a, 0x45, 0xdf, 0xa3}) {
		t.Error("SampleWebM does not start with an EBML header")
	}
	if !bytes.Contains(SampleWebM[:64], []byte("webm")) || !bytes.Contains(SampleWebM, []byte("V_VP9")) {
		t.Error("SampleWebM is not a VP9 WebM")
	}

	// MP4: top-level boxes ftyp, then moov before mdat (faststart), and an
	// H.264 (avc1) track.
	var boxes []string
	for off := 0; off+8 <= len(SampleMP4); {
		size := int(binary.BigEndian.Uint32(SampleMP4[off:]))
		boxes = append(boxes, string(SampleMP4[off+4:off+8]))
		if size < 8 || off+size > len(SampleMP4) {
			t.Fatalf("SampleMP4: bad box size %d at %d (boxes so far %v)", size, off, boxes)
		}
		off += size
	}
	moov, mdat := -1, -1
	for i, b := range boxes {
		switch b {
		case "moov":
			moov = i
		case "mdat":
			mdat = i
		}
	}
	if len(boxes) == 0 || boxes[0] != "ftyp" || moov < 0 || mdat < 0 || moov > mdat {
		t.Errorf("SampleMP4 top-level boxes %v, want ftyp first and moov before mdat", boxes)
	}
	if !bytes.Contains(SampleMP4, []byte("avc1")) {
		t.Error("SampleMP4 has no avc1 (H.264) track")
	}

	for name, b := range map[string][]byte{"SampleWebM": SampleWebM, "SampleMP4": SampleMP4} {
		if len(b) < 1000 || len(b) > 64<<10 {
			t.Errorf("%s is %d bytes, want a few KB to a few tens of KB", name, len(b))
		}
	}
}
