package inventory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/store"
)

// campaignKey + id is the settings key of a campaign's times, written only
// here: "<hash> <created ATOM> <updated ATOM>".
const campaignKey = "campaign:"

// LoadTimes records the first start (once, ever, through the store) and each campaign's
// creation and last change, and returns them. A campaign counts as changed
// when its config (or the classification, or base_url) changed, so the
// AdServer sees a new updated_at/signed_at exactly when something changed.
func LoadTimes(ctx context.Context, st *store.Store, cfg *config.Config, now time.Time) (Times, error) {
	first, err := st.EnsureFirstStart(ctx, now)
	if err != nil {
		return Times{}, fmt.Errorf("inventory: load times: %w", err)
	}
	t := Times{FirstStart: first, Campaigns: map[string]CampaignTimes{}}
	err = pgx.BeginFunc(ctx, st.Pool, func(tx pgx.Tx) error {
		// Serialise concurrent starts of several bridges on one database.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('dsp-bridge inventory'))`); err != nil {
			return err
		}
		for _, cp := range cfg.Inventory.Campaigns {
			ct, err := campaignTimes(ctx, tx, cfg, cp, now)
			if err != nil {
				return err
			}
			t.Campaigns[cp.ID] = ct
		}
		return nil
	})
	if err != nil {
		return Times{}, fmt.Errorf("inventory: load times: %w", err)
	}
	return t, nil
}

func campaignTimes(ctx context.Context, tx pgx.Tx, cfg *config.Config, cp config.Campaign, now time.Time) (CampaignTimes, error) {
	hash := campaignHash(cfg, cp)
	var val string
	err := tx.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, campaignKey+cp.ID).Scan(&val)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return CampaignTimes{}, err
	}
	ct := CampaignTimes{Created: now, Updated: now}
	if f := strings.Fields(val); len(f) == 3 {
		created, err1 := ads.ParseATOM(f[1])
		updated, err2 := ads.ParseATOM(f[2])
		if err1 == nil && err2 == nil {
			if f[0] == hash {
				return CampaignTimes{Created: created, Updated: updated}, nil
			}
			ct.Created = created
		}
	}
	_, err = tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
		campaignKey+cp.ID, hash+" "+ads.FormatATOM(ct.Created)+" "+ads.FormatATOM(ct.Updated))
	return ct, err
}

// campaignHash fingerprints everything that ends up in a campaign's entry.
func campaignHash(cfg *config.Config, cp config.Campaign) string {
	b, _ := json.Marshal([]any{cp, cfg.Inventory.Classifier, cfg.Inventory.Keywords, cfg.BaseURL})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
