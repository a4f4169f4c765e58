package auction

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/internal/testcfg"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/outbox"
	"github.com/adshares/dsp-bridge/store"
)

// markupDSP answers every imp with one bid of the given price, adm, nurl,
// burl and lurl (macros left for the bridge).
func markupDSP(t *testing.T, price, adm, nurl, burl, lurl string) *dspsim.Server {
	t.Helper()
	return sim(t, dspsim.Options{Respond: func(r *openrtb2.BidRequest) (int, []byte) {
		var bids []map[string]any
		for _, imp := range r.Imp {
			b := map[string]any{"id": "bid-" + imp.ID, "impid": imp.ID, "price": json.Number(price), "adm": adm, "adomain": []string{"shop.example"}}
			for k, v := range map[string]string{"nurl": nurl, "burl": burl, "lurl": lurl} {
				if v != "" {
					b[k] = v
				}
			}
			bids = append(bids, b)
		}
		body, _ := json.Marshal(map[string]any{"id": r.ID, "seatbid": []any{map[string]any{"seat": "s", "bid": bids}}})
		return http.StatusOK, body
	}})
}

// loopback is a DSP entry whose URLs may reach the loopback test servers.
func loopback(name, endpoint string) config.DSP {
	d := testDSP(name, endpoint) // loopback allowed, as for every test DSP
	d.Timeout = patientTMax - time.Second
	return d
}

// patientTMax is the auction deadline of these tests: long, so that a
// loaded machine does not turn a decision into a timeout. Only the test of
// a creative that never arrives waits for it.
const patientTMax = 4 * time.Second

// markupConfig is the test config with these DSPs and the patient deadline.
func markupConfig(dsps ...config.DSP) *config.Config {
	cfg := auctionConfig(dsps...)
	cfg.Auction.TMax = patientTMax
	return cfg
}

func imageAdm(a *assetServer, img string) string {
	return `<a href="` + a.URL + `/click?p=${AUCTION_PRICE}"><img src="` + a.URL + `/img/` + img + `"></a>` +
		`<img src="` + a.URL + `/pixel?p=${AUCTION_PRICE}" width="1" height="1">`
}

func rejectionsByBid(res *AuctionResult) map[string]string {
	out := map[string]string{}
	for _, r := range res.Rejections {
		out[r.DSP] = r.Reason.String()
	}
	return out
}

// A creative that cannot be fetched in time, an oversized one, a wrong size
// and an unrenderable markup each lose with their reason while another
// DSP's valid bid wins; the slow fetch goes on in the background, so the
// next auction finds that creative cached and its bid wins.
func TestCreativeFailuresLoseToTheNextBid(t *testing.T) {
	a := newAssetServer(t)
	release := a.hold("/img/300x250.png")
	defer release()
	script := markupDSP(t, "5", `<div><script src="https://cdn.example/x.js"></script></div>`, "", "", "")
	wrong := markupDSP(t, "4", imageAdm(a, "301x250.png"), "", "", "")
	huge := markupDSP(t, "3", `<img src="`+a.URL+`/big/2000000">`, "", "", "")
	slow := markupDSP(t, "2", imageAdm(a, "300x250.png"), a.URL+"/win", "", "")
	ok := sim(t, dspsim.Options{Price: "1.00"})
	cfg := markupConfig(loopback("script", script.Endpoint()), loopback("wrong", wrong.Endpoint()),
		loopback("huge", huge.Endpoint()), loopback("slow", slow.Endpoint()), loopback("ok", ok.Endpoint()))
	e := newEnv(t, cfg)

	res := e.run(e.request(creativePNG))
	if res.Outcome != AuctionWon || len(res.Wins) != 1 || res.Wins[0].DSP != "ok" || res.Wins[0].Delivery != "nurl" {
		t.Fatalf("outcome %s wins %+v, want the nurl bid of ok", res.Outcome, res.Wins)
	}
	want := map[string]string{"script": "unrenderable_markup", "wrong": "creative_mismatch", "huge": "creative_too_large", "slow": "creative_timeout"}
	if got := rejectionsByBid(res); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rejections %v, want %v", got, want)
	}
	// Counted like every other rejection (metrics, payments dsps).
	counted := map[string]string{}
	for _, r := range e.obs.rejected {
		counted[r.DSP] = r.Reason.String()
	}
	if fmt.Sprint(counted) != fmt.Sprint(want) {
		t.Fatalf("observed rejections %v, want %v", counted, want)
	}

	// The slow image arrives after the auction; the next auction uses it.
	release()
	deadline := time.Now().Add(30 * time.Second)
	for e.a.CreativeStats().Cache.CacheAssets < 2 { // the wrong-size image, then the slow one
		if time.Now().After(deadline) {
			t.Fatal("the background fetch never finished")
		}
		time.Sleep(10 * time.Millisecond)
	}
	res = e.run(e.request(creativePNG))
	if len(res.Wins) != 1 || res.Wins[0].DSP != "slow" || res.Wins[0].Delivery != "inline" {
		t.Fatalf("second auction %s wins %+v (rejections %v, dsps %+v), want slow's cached creative", res.Outcome, res.Wins, rejectionsByBid(res), res.DSPs)
	}
	if hits := a.hitsOf("/img/300x250.png"); hits != 1 {
		t.Fatalf("the slow image was fetched %d times, want once (then cached)", hits)
	}
	if s := e.a.CreativeStats(); s.FromCache < 1 || s.Resolved["markup_image"] < 1 {
		t.Fatalf("creative stats %+v", s)
	}
}

// noticeEnv is an auction with its held win notices released into the
// same database, and an outbox worker to deliver them.
func noticeEnv(t *testing.T, cfg *config.Config) (*env, *outbox.Worker) {
	t.Helper()
	e := newEnv(t, cfg)
	w, err := outbox.New(e.st, config.Outbox{Workers: 1, PerDSP: 4, Timeout: 5 * time.Second, MaxAge: time.Hour,
		BackoffBase: time.Second, BackoffMax: time.Minute, Poll: time.Second}, discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetDSPs(cfg.DSPs); err != nil {
		t.Fatal(err)
	}
	e.a.SetStore(e.st, nil)
	return e, w
}

// heldNotice is the win's nurl row, and whether it is still held.
func heldNotice(t *testing.T, st *store.Store, extID string) (store.NoticeRow, bool) {
	t.Helper()
	rows, err := st.NoticesOf(context.Background(), extID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Kind == "nurl" {
			return r, r.NextAttempt.After(time.Now().Add(time.Second))
		}
	}
	return store.NoticeRow{}, false
}

// waitFor polls cond (the releaser is asynchronous); the bound only keeps
// a broken build from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A markup win's nurl is a win notice: held while /bid answers, released
// once the answer is written, delivered once.
func TestMarkupWinNoticeFiresOnceAfterTheAnswer(t *testing.T) {
	a := newAssetServer(t)
	d := markupDSP(t, "1.5", imageAdm(a, "300x250.png"), a.URL+"/win?p=${AUCTION_PRICE}", a.URL+"/bill", "")
	e, w := noticeEnv(t, markupConfig(loopback("m", d.Endpoint())))
	res := e.run(e.request(creativePNG))
	if len(res.Wins) != 1 || !strings.HasPrefix(res.Wins[0].ServeURL, "data:image/png;base64,") {
		t.Fatalf("wins %+v", res.Wins)
	}
	ext := res.Wins[0].ExtID
	if n, held := heldNotice(t, e.st, ext); !held || n.URL != a.URL+"/win?p=1.5" {
		t.Fatalf("nurl row %+v held %v, want the expanded nurl, held", n, held)
	}
	if n, _ := w.Step(context.Background()); n != 0 || a.hitsOf("/win") != 0 {
		t.Fatalf("a held notice was delivered before the answer (%d claimed)", n)
	}
	res.Answered(true)
	waitFor(t, "the release", func() bool { _, held := heldNotice(t, e.st, ext); return !held })
	if _, err := w.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	res.Answered(true) // a second call changes nothing
	w.Step(context.Background())
	if got := a.hitsOf("/win"); got != 1 {
		t.Fatalf("nurl delivered %d times, want once", got)
	}
	if n, _ := heldNotice(t, e.st, ext); n.Status != store.NoticeDelivered {
		t.Fatalf("nurl row %+v", n)
	}
}

// A /bid answer that could not be written cancels the win notice: the DSP
// must not hear of a win the AdServer never got.
func TestUnwrittenAnswerCancelsTheWinNotice(t *testing.T) {
	a := newAssetServer(t)
	d := markupDSP(t, "1.5", imageAdm(a, "300x250.png"), a.URL+"/win", "", "")
	e, _ := noticeEnv(t, markupConfig(loopback("m", d.Endpoint())))
	res := e.run(e.request(creativePNG))
	ext := res.Wins[0].ExtID
	res.Answered(false)
	waitFor(t, "the cancel", func() bool { n, _ := heldNotice(t, e.st, ext); return n.ID == 0 })
}

// lateCommitSaver commits the wins and then reports the error a save whose
// deadline passed while its commit was under way reports.
type lateCommitSaver struct{ st *store.Store }

func (s lateCommitSaver) Save(ctx context.Context, rows []store.Auction) error {
	if err := s.st.InsertAuctions(ctx, rows); err != nil {
		return err
	}
	return context.DeadlineExceeded
}

// A save that failed after all may have committed: /bid answers no bid, so
// the held win notice is cancelled too, and the DSP never hears of a win the
// AdServer was not given.
func TestFailedSaveCancelsTheWinNotice(t *testing.T) {
	a := newAssetServer(t)
	d := markupDSP(t, "1.5", imageAdm(a, "300x250.png"), a.URL+"/win", "", "")
	cfg := markupConfig(loopback("m", d.Endpoint()))
	st := testdb.New(t)
	e := newEnvWithSaver(t, cfg, lateCommitSaver{st})
	e.st = st
	e.a.SetStore(st, nil)
	res := e.run(e.request(creativePNG))
	if len(res.Wins) != 0 || res.Outcome != AuctionStoreError {
		t.Fatalf("wins %+v (%s), want a store error", res.Wins, res.Outcome)
	}
	var ext string
	if err := st.Pool.QueryRow(context.Background(), `SELECT ext_id FROM auctions`).Scan(&ext); err != nil {
		t.Fatalf("the committed win: %v", err)
	}
	waitFor(t, "the cancel", func() bool { n, _ := heldNotice(t, st, ext); return n.ID == 0 })
}

// A crash between storing the win and writing the answer (here: the
// auction is gone without Answered) leaves the notice held; after the hold
// a restarted outbox delivers it, once: at least once across crashes.
func TestCrashBeforeTheAnswerFiresTheWinNoticeAfterTheHold(t *testing.T) {
	a := newAssetServer(t)
	d := markupDSP(t, "1.5", imageAdm(a, "300x250.png"), a.URL+"/win", "", "")
	cfg := markupConfig(loopback("m", d.Endpoint()))
	e, _ := noticeEnv(t, cfg)
	res := e.run(e.request(creativePNG))
	n, held := heldNotice(t, e.st, res.Wins[0].ExtID)
	if !held {
		t.Fatalf("nurl not held: %+v", n)
	}
	e.a.Close() // the process is gone; Answered is never called

	// A new worker, as after the restart. Before the hold nothing is due.
	_, w := noticeEnv(t, cfg)
	w.Store = e.st
	if got, _ := w.Step(context.Background()); got != 0 {
		t.Fatalf("%d notices delivered before the hold passed", got)
	}
	hold := n.NextAttempt.Sub(n.CreatedAt)
	if min := cfg.Server.WriteTimeout; hold < min {
		t.Fatalf("hold %s is shorter than the answer can take (server.write_timeout %s)", hold, min)
	}
	w.Now = func() time.Time { return n.NextAttempt.Add(time.Second) }
	w.Step(context.Background())
	w.Step(context.Background())
	if got := a.hitsOf("/win"); got != 1 {
		t.Fatalf("nurl delivered %d times after the hold, want once", got)
	}
}

// Valid bids that lose get their lurl (loss_notices), with the OpenRTB
// loss reason and the price that won.
func TestLossNoticesCarryReasonAndPriceToWin(t *testing.T) {
	a := newAssetServer(t)
	lurl := a.URL + "/loss?r=${AUCTION_LOSS}&m=${AUCTION_MIN_TO_WIN}&b=${AUCTION_BID_ID}"
	top := markupDSP(t, "3", imageAdm(a, "300x250.png"), "", "", lurl)
	broken := markupDSP(t, "3.5", `<iframe src="https://x.example/"></iframe>`, "", "", lurl)
	low := markupDSP(t, "1", imageAdm(a, "300x250.png"), "", "", lurl)
	quiet := markupDSP(t, "0.5", imageAdm(a, "300x250.png"), "", "", lurl) // loss_notices off
	cfg := markupConfig(loopback("top", top.Endpoint()), loopback("broken", broken.Endpoint()), loopback("low", low.Endpoint()), loopback("quiet", quiet.Endpoint()))
	for i := range cfg.DSPs[:3] {
		cfg.DSPs[i].LossNotices = true
	}
	e := newEnv(t, cfg)
	res := e.run(e.request(creativePNG))
	if len(res.Wins) != 1 || res.Wins[0].DSP != "top" {
		t.Fatalf("wins %+v", res.Wins)
	}
	waitFor(t, "two loss notices", func() bool { return a.hitsOf("/loss") >= 2 })
	e.a.Close() // waits for the queued notices
	got := a.queries("/loss")
	want := "[r=102&m=3&b=bid-0 r=204&m=3&b=bid-0]" // low lost to a higher bid, broken for its format
	if fmt.Sprint(got) != want {
		t.Fatalf("loss notices %v, want %s (none for the winner or for quiet)", got, want)
	}
}

func TestMinToWinInTheLosersCurrency(t *testing.T) {
	usd := &dspClient{rateNanos: 1_000_000_000}
	krw := &dspClient{rateNanos: 750_000} // 1 KRW = 0.00075 USD
	winner := &candidate{dsp: usd, currency: "USD", priceMicros: 2_250_001, bid: &bid{Price: "2.250001"}}
	for _, tt := range []struct {
		loser *candidate
		want  string
	}{
		{&candidate{dsp: usd, currency: "USD"}, "2.250001"},    // the winner's own text
		{&candidate{dsp: krw, currency: "KRW"}, "3000.001334"}, // 2.250001 / 0.00075, rounded up
	} {
		if got := minToWin(winner, tt.loser); got != tt.want {
			t.Errorf("minToWin for %s = %s, want %s", tt.loser.currency, got, tt.want)
		}
	}
	if minToWin(nil, winner) != "" {
		t.Error("no winner must give no price")
	}
}

// Public delivery: serve_url is public_url/c/<token>; the bytes are stored
// once per distinct creative, whatever the number of wins.
func TestPublicDeliveryStoresEachCreativeOnce(t *testing.T) {
	a := newAssetServer(t)
	d := markupDSP(t, "1.5", imageAdm(a, "300x250.png"), a.URL+"/win", "", "")
	cfg := markupConfig(loopback("m", d.Endpoint()))
	cfg.PublicURL, cfg.Creatives.Delivery = "https://ads.example.org", config.DeliveryPublic
	e := newEnv(t, cfg)
	var tokens []string
	for range 3 {
		res := e.run(e.request(creativePNG))
		if len(res.Wins) != 1 || res.Wins[0].Delivery != "public" || !strings.HasPrefix(res.Wins[0].ServeURL, "https://ads.example.org/c/") {
			t.Fatalf("wins %+v", res.Wins)
		}
		tok := strings.TrimPrefix(res.Wins[0].ServeURL, "https://ads.example.org/c/")
		tokens = append(tokens, tok)
		// No held notice: the nurl fires on the first fetch of /c/{token}.
		if n, _ := heldNotice(t, e.st, res.Wins[0].ExtID); n.ID != 0 {
			t.Fatalf("a public win has a nurl row before its serve: %+v", n)
		}
	}
	want, _ := generatedImage("300x250.png")
	for _, tok := range tokens {
		c, err := e.st.CreativeByToken(context.Background(), tok, time.Now().Add(-time.Hour))
		if err != nil || string(c.Bytes) != string(want) || c.ContentType != "image/png" {
			t.Fatalf("token %s: %v", tok, err)
		}
	}
	if n, _, err := e.st.CreativeCount(context.Background()); err != nil || n != 1 {
		t.Fatalf("%d creatives stored (%v), want 1", n, err)
	}
	if tokens[0] == tokens[1] || len(tokens[0]) != 22 {
		t.Fatalf("tokens %v: one unguessable token per win", tokens)
	}
}

// A large public creative is stored on its own before its first win (the
// win's transaction must commit by the deadline): until then its bid loses
// with creative_timeout and the next bid wins; then it wins, its bytes
// already stored once.
func TestLargePublicCreativeIsStoredBeforeItWins(t *testing.T) {
	a := newAssetServer(t)
	vast := `<VAST version="3.0"><Ad><InLine><AdSystem>d</AdSystem><AdTitle>t</AdTitle><Impression>` + a.URL + `/imp</Impression>` +
		`<Creatives><Creative><Linear><Duration>00:00:05</Duration><MediaFiles><MediaFile delivery="progressive" type="video/mp4" width="640" height="360">` +
		a.URL + `/big-mp4/600000</MediaFile></MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>`
	big := markupDSP(t, "3", vast, "", "", "")
	ok := sim(t, dspsim.Options{Price: "1.00"})
	cfg := markupConfig(loopback("big", big.Endpoint()), loopback("ok", ok.Endpoint()))
	cfg.PublicURL, cfg.Creatives.Delivery = "https://ads.example.org", config.DeliveryPublic
	e := newEnv(t, cfg)
	e.a.SetStore(e.st, nil)
	res := e.run(e.request(testcfg.CreativeVideo))
	if len(res.Wins) != 1 || res.Wins[0].DSP != "ok" || rejectionsByBid(res)["big"] != "creative_timeout" {
		t.Fatalf("first auction: wins %+v rejections %v", res.Wins, rejectionsByBid(res))
	}
	waitFor(t, "the creative stored", func() bool { n, _, _ := e.st.CreativeCount(context.Background()); return n == 1 })
	waitFor(t, "the store confirmed", func() bool { return !e.a.cr.storedCreatives.needs(storedSum(t, a), time.Now()) })
	res = e.run(e.request(testcfg.CreativeVideo))
	if len(res.Wins) != 1 || res.Wins[0].DSP != "big" || res.Wins[0].Delivery != "public" {
		t.Fatalf("second auction: wins %+v rejections %v", res.Wins, rejectionsByBid(res))
	}
	c, err := e.st.CreativeByToken(context.Background(), strings.TrimPrefix(res.Wins[0].ServeURL, "https://ads.example.org/c/"), time.Now().Add(-time.Hour))
	if err != nil || len(c.Bytes) != 600000 || c.ContentType != "video/mp4" {
		t.Fatalf("served creative: %v", err)
	}
}

func storedSum(t *testing.T, a *assetServer) []byte {
	t.Helper()
	resp, err := http.Get(a.URL + "/big-mp4/600000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sum := sha256.Sum256(b)
	return sum[:]
}

// Direct delivery hands the browser the DSP's own URL only where every hop
// answers CORS *; otherwise the creative goes inline, and that is counted.
func TestDirectDeliveryNeedsCORSOnEveryHop(t *testing.T) {
	for _, cors := range []bool{true, false} {
		t.Run(fmt.Sprint("cors ", cors), func(t *testing.T) {
			a := newAssetServer(t)
			a.cors = cors
			d := markupDSP(t, "1.5", imageAdm(a, "300x250.png"), "", "", "")
			cfg := markupConfig(loopback("m", d.Endpoint()))
			cfg.Creatives.Delivery = config.DeliveryDirect
			e := newEnv(t, cfg)
			res := e.run(e.request(creativePNG))
			if len(res.Wins) != 1 {
				t.Fatalf("wins %+v", res.Wins)
			}
			w := res.Wins[0]
			stats := e.a.CreativeStats().Delivered
			switch {
			case cors && (w.Delivery != "direct" || w.ServeURL != a.URL+"/img/300x250.png"):
				t.Fatalf("with CORS: %s %s, want the asset URL", w.Delivery, w.ServeURL)
			case !cors && (w.Delivery != "inline" || stats["direct_fallback"] != 1):
				t.Fatalf("without CORS: %s, stats %v, want inline counted as direct_fallback", w.Delivery, stats)
			}
		})
	}
}

// A notice URL of a markup bid that the outbound policy refuses (here a
// private address this DSP is not allowed) loses the bid: the bridge could
// never deliver it.
func TestRefusedNoticeURLLosesTheBid(t *testing.T) {
	a := newAssetServer(t)
	d := markupDSP(t, "2", imageAdm(a, "300x250.png"), "http://10.1.2.3/win", "", "")
	ok := sim(t, dspsim.Options{Price: "1.00"})
	e := newEnv(t, markupConfig(loopback("m", d.Endpoint()), loopback("ok", ok.Endpoint())))
	res := e.run(e.request(creativePNG))
	if len(res.Wins) != 1 || res.Wins[0].DSP != "ok" || rejectionsByBid(res)["m"] != "refused_url" {
		t.Fatalf("wins %+v rejections %v", res.Wins, rejectionsByBid(res))
	}
}

// dsps[].creative: nurl makes a DSP's bids take the nurl path even with
// adm; markup makes a bid without adm unrenderable.
func TestCreativeModePerDSP(t *testing.T) {
	a := newAssetServer(t)
	both := markupDSP(t, "2", imageAdm(a, "300x250.png"), a.URL+"/creative", "", "")
	none := markupDSP(t, "3", "", a.URL+"/creative", "", "")
	cfg := markupConfig(loopback("both", both.Endpoint()), loopback("none", none.Endpoint()))
	cfg.DSPs[0].Creative, cfg.DSPs[1].Creative = config.CreativeNURL, config.CreativeMarkup
	e := newEnv(t, cfg)
	res := e.run(e.request(creativePNG))
	if len(res.Wins) != 1 || res.Wins[0].DSP != "both" || res.Wins[0].ServeURL != a.URL+"/creative" {
		t.Fatalf("wins %+v", res.Wins)
	}
	if rejectionsByBid(res)["none"] != "unrenderable_markup" {
		t.Fatalf("rejections %v", rejectionsByBid(res))
	}
	if a.hitsOf("/img/300x250.png") != 0 {
		t.Fatal("the nurl-path DSP's markup was fetched")
	}
}

// The same for a bid on the nurl path (the Adshares profile): the bridge
// fetches only its burl, at the view, so a burl it would refuse then would
// bill a view the DSP is never told of. The bid loses now instead.
func TestRefusedBURLLosesANURLBid(t *testing.T) {
	bad := sim(t, dspsim.Options{Price: "2.00"})
	bad.SetRespond(func(r *openrtb2.BidRequest) (int, []byte) {
		var bids []map[string]any
		for _, imp := range r.Imp {
			bids = append(bids, map[string]any{"id": "b-" + imp.ID, "impid": imp.ID, "price": 2,
				"nurl": bad.URL() + "/win?p=${AUCTION_PRICE}", "burl": "http://10.1.2.3/bill?p=${AUCTION_PRICE}"})
		}
		body, _ := json.Marshal(map[string]any{"id": r.ID, "seatbid": []any{map[string]any{"bid": bids}}})
		return http.StatusOK, body
	})
	ok := sim(t, dspsim.Options{Price: "1.00"})
	e := newEnv(t, auctionConfig(testDSP("bad", bad.Endpoint()), testDSP("ok", ok.Endpoint())))
	res := e.run(e.request(creativePNG))
	if len(res.Wins) != 1 || res.Wins[0].DSP != "ok" || rejectionsByBid(res)["bad"] != "refused_url" {
		t.Fatalf("wins %+v rejections %v", res.Wins, rejectionsByBid(res))
	}
}
