package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWriteError(t *testing.T) {
	tests := []struct {
		err    error
		status int
		reason string
	}{
		{Errorf(BadRequest, "bad %s", "thing"), 400, "bad thing"},
		{Errorf(NotFound, "no report"), 404, "no report"},
		{Errorf(Unauthorized, "bad signature"), 401, "bad signature"},
		{Wrap(Unavailable, errors.New("conn refused"), "database unavailable"), 503, "database unavailable"},
		{fmt.Errorf("wrapped: %w", Errorf(BadRequest, "inner")), 400, "inner"},
		{errors.New("secret detail"), 500, "internal error"},
		{Wrap(Internal, errors.New("secret detail"), "boom"), 500, "internal error"},
		{&http.MaxBytesError{Limit: 10}, 413, "request body larger than 10 bytes"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		WriteError(rec, tt.err)
		var body ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%v: body %q: %v", tt.err, rec.Body, err)
		}
		if rec.Code != tt.status || body.Error != tt.reason {
			t.Errorf("%v: got %d %q, want %d %q", tt.err, rec.Code, body.Error, tt.status, tt.reason)
		}
		if rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("content type %q", rec.Header().Get("Content-Type"))
		}
	}
}
