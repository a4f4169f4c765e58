package store_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/store"
)

func TestNewExtIDCarriesItsTime(t *testing.T) {
	urlSafe := regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	seen := map[string]bool{}
	for _, at := range []time.Time{time.Unix(0, 0), time.Date(2024, 5, 1, 23, 59, 59, 999, time.UTC), time.Date(4000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		for range 100 {
			id := store.NewExtID(at)
			if !urlSafe.MatchString(id) || len(id) != 29 {
				t.Fatalf("ext_id %q: want 29 URL-safe characters", id)
			}
			if seen[id] {
				t.Fatalf("ext_id %q made twice", id)
			}
			seen[id] = true
			got, ok := store.ExtIDTime(id)
			if !ok || !got.Equal(at.Truncate(time.Second)) {
				t.Fatalf("ExtIDTime(%q) = %s, %v; want %s", id, got, ok, at.Truncate(time.Second))
			}
		}
	}
}

func TestExtIDTimeRefusesOtherIDs(t *testing.T) {
	for _, id := range []string{
		"",
		"a1",
		"AAAAAAAAAAAAAAAAAAAAAA",        // 22 characters: the ext_ids of earlier versions
		"xAAAAAAAAAAAAAAAAAAAAAAAAAAAA", // 29, without the mark
		"wAAAAAAAAAAAAAAAAAAAAAAAAAAA.", // a character outside base64url
		"wAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	} {
		if _, ok := store.ExtIDTime(id); ok {
			t.Errorf("ExtIDTime(%q) claims a time", id)
		}
	}
}

func FuzzExtIDTime(f *testing.F) {
	f.Add(store.NewExtID(time.Now()))
	f.Add("AAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, id string) {
		at, ok := store.ExtIDTime(id)
		if !ok {
			return
		}
		if len(id) != 29 || at.Before(time.Unix(0, 0)) {
			t.Fatalf("ExtIDTime(%q) = %s for an id that is not NewExtID's", id, at)
		}
	})
}
