package payments

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/internal/testclock"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// serve starts the payments module on a real loopback server.
func serve(t *testing.T, st *store.Store, auth *Verifier, c *testclock.Clock) *httptest.Server {
	t.Helper()
	m := NewModule(st, config.Payments{Period: time.Hour, SettleAfter: 10 * time.Minute, Window: 720 * time.Hour}, auth, quietLog())
	m.Now = c.Now
	r := chi.NewRouter()
	m.Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, header string, into any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if header != "" {
		req.Header.Set("Authorization", header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: content type %q", url, ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatalf("GET %s: %d, body not JSON: %v", url, resp.StatusCode, err)
	}
	return resp.StatusCode
}

const detailsTail = "/0001-00000005-CBCA/2023-03-17T16:04:33+00:00/" + vecSig

// vecSig is the §5 path signature for report 1678953600.
const vecSig = "d5055296c1c5f97a1e23fd3cae30ff28ffd8920436adfae9a437df638bef96d3dc0defb33dfc546a84126d58fc2390f41858162b840836e5107ac5d0817f9c06"

func TestPaymentReportsList(t *testing.T) {
	st := testdb.New(t)
	ctx := context.Background()
	c := testclock.New(t0.Add(3*time.Hour + 5*time.Minute))
	addViews(t, st, view{"a", 2_500_000, 50_000_000, t0.Add(time.Minute)})
	if _, err := newSettler(st, time.Hour, 10*time.Minute, c).Tick(ctx); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, st, nil, c)

	var raw []map[string]any
	if code := get(t, srv.URL+"/payment-reports", "", &raw); code != 200 || len(raw) != 4 {
		t.Fatalf("%d %v", code, raw)
	}
	// Before the AdServer imported the inventory, everything is processing
	// with value null (a done report would be invalidated forever).
	for _, r := range raw {
		if r["status"] != "processing" || r["value"] != nil {
			t.Fatalf("before registration: %v", r)
		}
		if _, ok := r["value"]; !ok {
			t.Fatalf("value key missing: %v", r)
		}
	}
	if _, err := st.Pool.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('inventory_first_fetched_at', 'x')`); err != nil {
		t.Fatal(err)
	}
	var body []byte
	resp, err := http.Get(srv.URL + "/payment-reports")
	if err != nil {
		t.Fatal(err)
	}
	body = make([]byte, 4096)
	n, _ := resp.Body.Read(body)
	resp.Body.Close()
	body = body[:n]
	want0 := fmt.Sprintf(`{"id":"1678953600","created_at":"2023-03-16T11:05:00+00:00","updated_at":"2023-03-16T11:05:00+00:00","status":"done","value":%d}`,
		ads.ViewValue(2_500_000, 50_000_000))
	if !strings.HasPrefix(string(body), "["+want0+",") {
		t.Fatalf("body %s\nwant first %s", body, want0)
	}
	if !strings.HasSuffix(string(body), `"status":"processing","value":null}]`) {
		t.Fatalf("current period: %s", body)
	}
	var list []reportJSON
	get(t, srv.URL+"/payment-reports", "", &list)
	ids := map[string]bool{}
	for _, r := range list {
		if ids[r.ID] || len(r.ID) > 18 {
			t.Fatalf("id %q duplicate or too long", r.ID)
		}
		ids[r.ID] = true
		for _, ts := range []string{r.CreatedAt, r.UpdatedAt} {
			if _, err := ads.ParseATOM(ts); err != nil || !strings.HasSuffix(ts, "+00:00") {
				t.Fatalf("timestamp %q", ts)
			}
		}
		if (r.Status == "done") != (r.Value != nil) {
			t.Fatalf("status %s value %v", r.Status, r.Value)
		}
	}
	// The rolling window drops old reports.
	c.Set(t0.Add(720*time.Hour + 90*time.Minute))
	get(t, srv.URL+"/payment-reports", "", &list)
	if len(list) != 2 || list[0].ID != "1678960800" {
		t.Fatalf("window: %+v", list)
	}
}

func TestPaymentDetailsPaging(t *testing.T) {
	st := testdb.New(t)
	ctx := context.Background()
	const rows = 12345
	bulkViews(t, st, rows, t0.Add(10*time.Minute))
	c := testclock.New(t0.Add(2 * time.Hour))
	if _, err := newSettler(st, time.Hour, 10*time.Minute, c).Tick(ctx); err != nil {
		t.Fatal(err)
	}
	rep := mustReport(t, st, t0.Unix())
	if rep.Views != rows {
		t.Fatalf("views %d", rep.Views)
	}
	// The reference order: event id.
	var ref []detailJSON
	r, err := st.Pool.Query(ctx, `SELECT case_id, value FROM events WHERE report_id = $1 ORDER BY id`, rep.ID)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var d detailJSON
		r.Scan(&d.CaseID, &d.EventValue)
		ref = append(ref, d)
	}
	r.Close()
	srv := serve(t, st, nil, c)
	// Limits 1 and 2 mean 18 519 requests: call the router in process for
	// them (same routing, parsing and SQL), real HTTP for the others.
	m := NewModule(st, config.Payments{Window: 720 * time.Hour}, nil, quietLog())
	router := chi.NewRouter()
	m.Mount(router)
	inProcess := func(url string, into any) int {
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, strings.TrimPrefix(url, srv.URL), nil))
		if err := json.Unmarshal(rec.Body.Bytes(), into); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		return rec.Code
	}
	for _, limit := range []int{1, 2, 7, 5000, 7} {
		var all []detailJSON
		var sum int64
		for offset := 0; ; offset += limit {
			var page []detailJSON
			url := fmt.Sprintf("%s/payment-details/%d%s?limit=%d&offset=%d", srv.URL, rep.ID, detailsTail, limit, offset)
			fetch := func(into any) int { return get(t, url, "", into) }
			if limit <= 2 {
				fetch = func(into any) int { return inProcess(url, into) }
			}
			if code := fetch(&page); code != 200 {
				t.Fatalf("%s: %d", url, code)
			}
			if len(page) > limit {
				t.Fatalf("page of %d with limit %d", len(page), limit)
			}
			for _, d := range page {
				sum += d.EventValue
			}
			all = append(all, page...)
			if len(page) < limit {
				break
			}
		}
		if len(all) != rows || sum != *rep.Value {
			t.Fatalf("limit %d: %d rows summing to %d; report %d rows, value %d", limit, len(all), sum, rows, *rep.Value)
		}
		for i := range all {
			if all[i] != ref[i] {
				t.Fatalf("limit %d: row %d is %+v, want %+v", limit, i, all[i], ref[i])
			}
		}
	}
	// The alias answers the same.
	var a, b []detailJSON
	get(t, fmt.Sprintf("%s/payment-details/%d%s?limit=3&offset=100", srv.URL, rep.ID, detailsTail), "", &a)
	get(t, fmt.Sprintf("%s/payments-details/%d%s?limit=3&offset=100", srv.URL, rep.ID, detailsTail), "", &b)
	if len(a) != 3 || fmt.Sprint(a) != fmt.Sprint(b) || a[0] != ref[100] {
		t.Fatalf("alias: %v vs %v", a, b)
	}
}

func TestPaymentDetailsErrors(t *testing.T) {
	st := testdb.New(t)
	ctx := context.Background()
	c := testclock.New(t0.Add(70 * time.Minute))
	addViews(t, st, view{"a", 2_500_000, 50_000_000, t0.Add(time.Minute)})
	if _, err := newSettler(st, time.Hour, 10*time.Minute, c).Tick(ctx); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, st, nil, c)
	base := fmt.Sprintf("%s/payment-details/%%s%s", srv.URL, detailsTail)
	tests := []struct {
		report, query string
		code, rows    int
	}{
		{"1678953600", "?limit=5000&offset=0", 200, 1},
		{"1678953600", "", 200, 1}, // defaults: limit 5000, offset 0
		{"1678953600", "?limit=10000&offset=1", 200, 0},
		{"1678953600", "?limit=1&offset=9223372036854775807", 200, 0},
		{"1678957200", "?limit=10", 200, 0}, // processing: empty list
		{"1678953601", "?limit=10", 404, 0},
		{"abc", "?limit=10", 404, 0},
		{"1678953600000000000", "?limit=10", 404, 0}, // 19 digits
		{"1678953600", "?limit=10001", 400, 0},
		{"1678953600", "?limit=0", 400, 0},
		{"1678953600", "?limit=-5", 400, 0},
		{"1678953600", "?limit=abc", 400, 0},
		{"1678953600", "?limit=", 400, 0},
		{"1678953600", "?limit=10&offset=-1", 400, 0},
		{"1678953600", "?limit=10&offset=1.5", 400, 0},
	}
	for _, tt := range tests {
		url := fmt.Sprintf(base, tt.report) + tt.query
		var out json.RawMessage
		code := get(t, url, "", &out)
		if code != tt.code {
			t.Errorf("%s: %d, want %d (%s)", url, code, tt.code, out)
			continue
		}
		if code == 200 {
			var rows []detailJSON
			if err := json.Unmarshal(out, &rows); err != nil || len(rows) != tt.rows || rows == nil {
				t.Errorf("%s: %s", url, out)
			}
		} else if !strings.Contains(string(out), `"error"`) {
			t.Errorf("%s: error body %s", url, out)
		}
	}
}

func TestPaymentDetailsSignatures(t *testing.T) {
	st := testdb.New(t)
	ctx := context.Background()
	// Report 1678953600 settled, as in the §5 vector.
	addViews(t, st, view{"a", 2_500_000, 50_000_000, t0.Add(time.Minute)})
	c := testclock.New(t0.Add(70 * time.Minute))
	if _, err := newSettler(st, time.Hour, 10*time.Minute, c).Tick(ctx); err != nil {
		t.Fatal(err)
	}
	auth, err := NewVerifier(config.AdServer{PublicKey: "D04AB232742BB4AB3A1368BD4615E4E6D0224AB71A016BAF8520A332C9778737",
		Address: "0001-00000005-CBCA"}, quietLog())
	if err != nil || !auth.Enabled() {
		t.Fatal(err)
	}
	created := time.Date(2023, 3, 17, 16, 4, 33, 0, time.UTC)
	c.Set(created.Add(5 * time.Second))
	auth.Now = c.Now
	srv := serve(t, st, auth, c)
	seed, _ := hex.DecodeString(strings.Repeat("11", 32))
	nonceN := 0
	header := func(at time.Time) string {
		nonceN++
		nonce := make([]byte, 32)
		nonce[0], nonce[1] = byte(nonceN), byte(nonceN>>8)
		return ads.SignAuthorization(seed, "0001-00000005-CBCA", nonce, at)
	}
	vecNonce := make([]byte, 32)
	for i := range vecNonce {
		vecNonce[i] = byte(i)
	}
	vecHeader := ads.SignAuthorization(seed, "0001-00000005-CBCA", vecNonce, created)
	url := srv.URL + "/payment-details/1678953600" + detailsTail + "?limit=5000&offset=0"

	var rows []detailJSON
	// The §5 vectors verbatim: the literal "+" in the date must survive,
	// or the signature (over its unix time) could not verify.
	if code := get(t, url, vecHeader, &rows); code != 200 || len(rows) != 1 {
		t.Fatalf("vector request: %d %v", code, rows)
	}
	var e struct{ Error string }
	if code := get(t, url, vecHeader, &e); code != 401 || !strings.Contains(e.Error, "nonce") {
		t.Fatalf("replayed nonce: %d %q", code, e.Error)
	}
	if code := get(t, strings.Replace(url, "/payment-details/", "/payments-details/", 1), header(created), &rows); code != 200 {
		t.Fatalf("alias: %d", code)
	}
	bad := []struct{ name, url, header string }{
		{"no header", url, ""},
		{"stale created", url, header(created.Add(-301 * time.Second))},
		{"future created", url, header(created.Add(time.Minute))},
		{"changed path signature byte", strings.Replace(url, "/d5055296", "/d5055297", 1), header(created)},
		{"plus sent as space", strings.Replace(url, "+00:00", "%2000:00", 1), header(created)},
		{"other report", strings.Replace(url, "1678953600", "1678957200", 1), header(created)},
		{"other account", url, ads.SignAuthorization(seed, "0001-00000003-AB0C", []byte("another nonce of 32 bytes ......"), created)},
	}
	for _, tt := range bad {
		var e struct{ Error string }
		if code := get(t, tt.url, tt.header, &e); code != 401 || e.Error == "" {
			t.Errorf("%s: %d %q", tt.name, code, e.Error)
		}
	}
	// Reports list needs no signature (the AdServer sends none on E6).
	var list []reportJSON
	if code := get(t, srv.URL+"/payment-reports", "", &list); code != 200 {
		t.Fatalf("reports: %d", code)
	}
	// The middleware guards other routes the same way.
	h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if Account(r.Context()) != "0001-00000005-CBCA" {
			t.Errorf("account %q", Account(r.Context()))
		}
		w.WriteHeader(204)
	}))
	for _, tt := range []struct {
		header string
		code   int
	}{{header(created), 204}, {"", 401}, {vecHeader, 401}} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/inventory", nil)
		req.Header.Set("Authorization", tt.header)
		h.ServeHTTP(rec, req)
		if rec.Code != tt.code {
			t.Errorf("middleware with %q: %d, want %d", tt.header, rec.Code, tt.code)
		}
	}
	// Off unless a key is configured.
	if v, err := NewVerifier(config.AdServer{}, quietLog()); v != nil || err != nil || v.Enabled() {
		t.Fatalf("verifier without key: %v %v", v, err)
	}
}
