// Package httpapi maps error kinds to HTTP status codes and writes the
// bridge's JSON answers, so every handler fails the same clear way.
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Kind is a class of failure with its HTTP status.
type Kind int

// The kinds of error a handler can return.
const (
	Internal     Kind = iota // 500: a bug; logged
	BadRequest               // 400: the caller sent something wrong
	NotFound                 // 404: no such thing
	Unauthorized             // 401: missing or bad signature
	TooLarge                 // 413: body over the limit
	Unavailable              // 503: a dependency (the database) is down
)

var statuses = map[Kind]int{
	Internal:     http.StatusInternalServerError,
	BadRequest:   http.StatusBadRequest,
	NotFound:     http.StatusNotFound,
	Unauthorized: http.StatusUnauthorized,
	TooLarge:     http.StatusRequestEntityTooLarge,
	Unavailable:  http.StatusServiceUnavailable,
}

// Error is an error with a kind and a reason safe to show the caller.
type Error struct {
	Kind   Kind
	Reason string
	Err    error // the cause, for logs only
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf makes an *Error of the given kind.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Reason: fmt.Sprintf(format, args...)}
}

// Wrap makes an *Error of the given kind around a cause.
func Wrap(kind Kind, err error, reason string) *Error {
	return &Error{Kind: kind, Reason: reason, Err: err}
}

// Status returns the HTTP status for err (500 for errors without a kind).
func Status(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return statuses[e.Kind]
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Error string `json:"error"`
}

// WriteError answers with err's status and a JSON reason. Internal errors
// show a generic reason; their detail belongs in the log.
func WriteError(w http.ResponseWriter, err error) {
	status := Status(err)
	reason := "internal error"
	var e *Error
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &e) && e.Kind != Internal:
		reason = e.Reason
	case errors.As(err, &mb):
		reason = fmt.Sprintf("request body larger than %d bytes", mb.Limit)
	}
	WriteJSON(w, status, ErrorBody{Error: reason})
}

// WriteJSON answers with status and v encoded as JSON. The body is built
// first so that a failing encoder never leaves a half-written answer.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
