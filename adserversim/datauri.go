package adserversim

import (
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
)

// DecodeDataURI decodes a data: URI (RFC 2397) the way a browser does: its
// media type ("text/plain;charset=US-ASCII" when none) and its bytes,
// base64 or percent-encoded.
func DecodeDataURI(uri string) (mediaType string, data []byte, err error) {
	rest, ok := strings.CutPrefix(uri, "data:")
	if !ok {
		return "", nil, errors.New("not a data: URI")
	}
	meta, payload, ok := strings.Cut(rest, ",")
	if !ok {
		return "", nil, errors.New("data: URI without a comma")
	}
	b64 := false
	if m, ok := strings.CutSuffix(meta, ";base64"); ok {
		meta, b64 = m, true
	}
	mediaType = meta
	if mediaType == "" || strings.HasPrefix(mediaType, ";") {
		mediaType = "text/plain" + mediaType
		if mediaType == "text/plain" {
			mediaType = "text/plain;charset=US-ASCII"
		}
	}
	if b64 {
		data, err = base64.StdEncoding.DecodeString(payload)
		if err != nil {
			return "", nil, errors.New("data: URI with bad base64")
		}
		return mediaType, data, nil
	}
	s, err := url.PathUnescape(payload)
	if err != nil {
		return "", nil, errors.New("data: URI with a bad escape")
	}
	return mediaType, []byte(s), nil
}
