package events

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestPermanentOnlyForRefusedData(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "23505"}, true},                          // unique violation
		{&pgconn.PgError{Code: "23514"}, true},                          // check violation
		{fmt.Errorf("store: %w", &pgconn.PgError{Code: "22001"}), true}, // value too long, wrapped
		{&pgconn.PgError{Code: "57P01"}, false},                         // admin shutdown
		{&pgconn.PgError{Code: "08006"}, false},                         // connection failure
		{&pgconn.PgError{Code: "42P01"}, false},                         // table missing (bad deploy)
		{&pgconn.PgError{Code: "XX000"}, false},                         // internal error
		{&pgconn.PgError{Code: ""}, false},
		{errors.New("dial tcp: connection refused"), false},
	}
	for _, tt := range tests {
		if got := permanent(tt.err); got != tt.want {
			t.Errorf("permanent(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
