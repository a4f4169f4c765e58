package dspsim

import _ "embed"

// Sample video creatives for tests and the demo: 1.5 s of ffmpeg's testsrc2
// pattern (moving colour bars and a frame counter, no audio) at 300x250,
// 15 frames a second, made once with Debian's ffmpeg 5.1 and committed
// (ffmpeg is not needed to build or test). The -bitexact flags and
// -map_metadata -1 make the output repeatable: the same commands give the
// same bytes with the same ffmpeg.

// SampleWebM is a 300x250 VP9 WebM (about 26 KB), made with:
//
//	ffmpeg -f lavfi -i testsrc2=size=300x250:rate=15:duration=1.5 -an \
//	  -c:v libvpx-vp9 -b:v 150k -deadline good -pix_fmt yuv420p \
//	  -fflags +bitexact -map_metadata -1 sample.webm
//
//go:embed assets/sample.webm
var SampleWebM []byte

// SampleMP4 is a 300x250 H.264 (Constrained Baseline) MP4 with the moov atom
// first (faststart), about 25 KB, made with:
//
//	ffmpeg -f lavfi -i testsrc2=size=300x250:rate=15:duration=1.5 -an \
//	  -c:v libx264 -profile:v baseline -pix_fmt yuv420p -b:v 150k \
//	  -movflags +faststart -fflags +bitexact -map_metadata -1 sample.mp4
//
//go:embed assets/sample.mp4
var SampleMP4 []byte
