package adserversim

import (
	"net/http"
	"time"

	"github.com/adshares/dsp-bridge/ads"
)

// Report is one entry of /payment-reports.
type Report struct {
	ID        string
	CreatedAt time.Time
	Status    string // only "done" is final and payable
	Value     *int64 // clicks; nil while not done
}

// Detail is one entry of a payment-details page.
type Detail struct {
	CaseID     string
	EventValue int64
}

// ValidatePaymentReports checks a /payment-reports answer (§12), all or
// nothing: status 200, a JSON array of objects with a string id of at most
// 18 bytes, unique in the list, an ATOM created_at, a string status and a
// value key that is a non-negative integer when status is "done" (null is
// allowed otherwise).
func ValidatePaymentReports(status int, body []byte) error {
	_, err := parsePaymentReports(status, body)
	return err
}

func parsePaymentReports(status int, body []byte) ([]Report, error) {
	c := &checker{doc: "payment-reports"}
	if status != http.StatusOK {
		c.fail("", "status %d is not 200: the AdServer ignores the answer", status)
		return nil, c.result()
	}
	v, err := decodeJSON(body)
	if err != nil {
		c.fail("", "%v: nothing is stored", err)
		return nil, c.result()
	}
	list, ok := v.([]any)
	if !ok {
		c.fail("", "must be a JSON array of reports, got %s", jsonType(v))
		return nil, c.result()
	}
	var out []Report
	seen := map[string]string{}
	for i, item := range list {
		path := "[" + itoa(i) + "]"
		m, ok := item.(map[string]any)
		if !ok {
			c.fail(path, "must be an object, got %s: nothing is stored", jsonType(item))
			break
		}
		id, ok := m["id"].(string)
		switch {
		case !ok:
			c.fail(path+".id", "must be a string, got %s: nothing is stored", show(m["id"]))
		case id == "" || len(id) > 18:
			c.fail(path+".id", "%q must be 1-18 bytes: it becomes a char(18) ledger txid", id)
		case seen[id] != "":
			c.fail(path+".id", "%q repeats %s: crashes ops:supply:payments:process on a unique key", id, seen[id])
		}
		seen[id] = path
		if p := checkATOM(m["created_at"]); p != "" {
			c.fail(path+".created_at", "%s", p)
		}
		st, ok := m["status"].(string)
		if !ok {
			c.fail(path+".status", "must be a string, got %s", show(m["status"]))
		}
		r := Report{ID: id, Status: st}
		val, present := m["value"]
		n, isInt := jsonInt(val)
		switch {
		case !present:
			c.fail(path+".value", "key is required (null while not done)")
		case val == nil && st == "done":
			c.fail(path+".value", "null with status \"done\" credits 0: publish done only with the final value")
		case val != nil && !isInt:
			c.fail(path+".value", "must be an integer number of clicks or null, got %s", show(val))
		case val != nil && n < 0:
			c.fail(path+".value", "must not be negative, got %d", n)
		case val != nil:
			r.Value = &n
		}
		if !c.ok() {
			break
		}
		r.CreatedAt, _ = ads.ParseATOM(m["created_at"].(string))
		out = append(out, r)
	}
	if !c.ok() {
		return nil, c.result()
	}
	return out, nil
}

// ValidatePaymentDetails checks one payment-details page (§13): a JSON array
// of objects with case_id of 32 lowercase hex and an integer event_value.
func ValidatePaymentDetails(body []byte) error {
	_, err := parsePaymentDetails(body)
	return err
}

func parsePaymentDetails(body []byte) ([]Detail, error) {
	c := &checker{doc: "payment-details"}
	v, err := decodeJSON(body)
	if err != nil {
		c.fail("", "%v: the report is retried from the saved offset", err)
		return nil, c.result()
	}
	list, ok := v.([]any)
	if !ok {
		c.fail("", "must be a JSON array, got %s", jsonType(v))
		return nil, c.result()
	}
	out := make([]Detail, 0, len(list))
	for i, item := range list {
		path := "[" + itoa(i) + "]"
		m, ok := item.(map[string]any)
		if !ok {
			c.fail(path, "must be an object, got %s", jsonType(item))
			break
		}
		id, _ := m["case_id"].(string)
		if !isHex32(id) {
			c.fail(path+".case_id", "must be 32 lowercase hex, got %s: uppercase is never paid, dashes or non-hex make the report retry forever", show(m["case_id"]))
		}
		n, ok := jsonInt(m["event_value"])
		if !ok {
			c.fail(path+".event_value", "must be an integer number of clicks, got %s: the run is rolled back", show(m["event_value"]))
		} else if n < 0 {
			c.fail(path+".event_value", "must not be negative, got %d", n)
		}
		if !c.ok() {
			break
		}
		out = append(out, Detail{CaseID: id, EventValue: n})
	}
	if !c.ok() {
		return nil, c.result()
	}
	return out, nil
}
