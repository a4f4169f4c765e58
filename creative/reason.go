package creative

import (
	"errors"
	"fmt"
)

// Reason is why a bid's creative could not be resolved: the non-bid reason the
// auction rejects the bid with and counts per DSP. The labels are stable (for
// metrics, logs and `payments dsps`).
type Reason string

// Reasons a creative is refused.
const (
	// ReasonUnrenderable: the markup is neither a plain image (in an optional
	// link, with optional pixels) nor VAST with a progressive mp4/webm file —
	// scripts, iframes, MRAID, native JSON, several images, VPAID only...
	ReasonUnrenderable Reason = "unrenderable_markup"
	// ReasonTimeout: the creative (or a VAST wrapper) was not fetched before
	// the auction's deadline.
	ReasonTimeout Reason = "creative_timeout"
	// ReasonTooLarge: the creative (or the markup, or a VAST document) is
	// larger than allowed.
	ReasonTooLarge Reason = "creative_too_large"
	// ReasonMismatch: the creative's type or size is not the slot's.
	ReasonMismatch Reason = "creative_mismatch"
	// ReasonFetchFailed: the creative could not be fetched (connection
	// error, non-200 status, empty body, bad VAST document behind a wrapper).
	ReasonFetchFailed Reason = "creative_fetch_failed"
)

// Reasons lists every reason (for metrics that pre-declare their labels).
var Reasons = []Reason{ReasonUnrenderable, ReasonTimeout, ReasonTooLarge, ReasonMismatch, ReasonFetchFailed}

// Code is a suggested OpenRTB seat-non-bid status code for the reason: 350
// (invalid creative) and 351 (creative size not allowed) from the community
// list, and 56x of the bridge's own (5xx) range for the rest.
func (r Reason) Code() int {
	switch r {
	case ReasonUnrenderable:
		return 350
	case ReasonMismatch:
		return 351
	case ReasonTimeout:
		return 560
	case ReasonTooLarge:
		return 561
	case ReasonFetchFailed:
		return 562
	}
	return 300
}

// Error is a refused creative: a reason for the auction and a detail for the
// operator (never shown to the DSP).
type Error struct {
	Reason Reason
	Detail string
	Err    error // the underlying error, if any
	// WrongSize marks a creative_mismatch of the size alone (the type was
	// the slot's): OpenRTB's loss reason 203 rather than 204.
	WrongSize bool
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Reason, e.Detail, e.Err)
	}
	return string(e.Reason) + ": " + e.Detail
}

// Unwrap gives the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ReasonOf is the reason of a resolution error ("" for nil, and
// creative_fetch_failed for an error that is not an *Error).
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonFetchFailed
}

func refuse(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

func unrenderable(format string, args ...any) *Error {
	return refuse(ReasonUnrenderable, format, args...)
}
