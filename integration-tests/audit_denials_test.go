package integrationtests

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Denials for path fragments, second keys, keys inside a query and signed
// links cut by a '#' each reach the audit stream with their reason. The
// second key appears in neither the stream nor the gateway log.
func TestAuditRecordsNewDenials(t *testing.T) {
	rig := newAuditRig(t)
	rig.start(t)
	c := clientFrom(t, "")
	second := newToken(t, "second")
	link := mintURL(t, rig.urlKey, http.MethodGet, rig.gw.addr(), "/files/report.pdf?x=1", urlExpiresSoon())

	cases := []struct {
		name   string
		send   func() response
		status int
		reason string
	}{
		{"raw fragment mark in the path", func() response {
			return rawGet(t, rig.gw.addr(), "/api/inventory/items#/admin", apiKey(rig.reader.Token))
		}, http.StatusBadRequest, "path_ambiguous"},
		{"doubly encoded fragment mark in the path", func() response {
			return rawGet(t, rig.gw.addr(), "/api/inventory/items%2523/admin", apiKey(rig.reader.Token))
		}, http.StatusBadRequest, "path_ambiguous"},
		{"overlong UTF-8 dot-dot in the path", func() response {
			return rawGet(t, rig.gw.addr(), "/api/inventory/%c0%ae%c0%ae/x", apiKey(rig.reader.Token))
		}, http.StatusBadRequest, "path_ambiguous"},
		{"encoded %u escape in the path", func() response {
			return rawGet(t, rig.gw.addr(), "/api/inventory/%25u002e%25u002e/x", apiKey(rig.reader.Token))
		}, http.StatusBadRequest, "path_ambiguous"},
		{"second key in Basic credentials", func() response {
			h := apiKey(rig.reader.Token)
			h["Authorization"] = []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(second+":"))}
			return get(t, c, rig.gw.url("/api/inventory/items"), h)
		}, http.StatusUnauthorized, "key_invalid"},
		{"key behind text in the query", func() response {
			return get(t, c, rig.gw.url("/api/inventory/items?q=x%20"+url.QueryEscape(second)), apiKey(rig.reader.Token))
		}, http.StatusUnauthorized, "key_missing"},
		{"raw fragment mark in a signed query", func() response {
			return rawGet(t, rig.gw.addr(), strings.Replace(link, "x=1", "x=1#y", 1), nil)
		}, http.StatusForbidden, "url_escape_malformed"},
	}
	ids := make(map[string]string, len(cases)) // request id -> wanted reason
	for _, tc := range cases {
		p := checkProblem(t, tc.name, tc.send(), tc.status, tc.reason)
		ids[p.RequestID] = tc.reason
	}

	v := waitForDecisions(t, rig.client, auditStream, len(cases), 20*time.Second)
	for _, e := range v.entries {
		want, ok := ids[e.Event.RequestID]
		if !ok {
			continue
		}
		delete(ids, e.Event.RequestID)
		if e.Event.Decision != "deny" || string(e.Event.Reason) != want {
			t.Errorf("audit entry of request %s = %s %s, want deny %s", e.Event.RequestID, e.Event.Decision, e.Event.Reason, want)
		}
	}
	for id, reason := range ids {
		t.Errorf("no audit entry for the %s denial (request %s)", reason, id)
	}

	stream := streamBytes(v)
	logText := rig.gw.logText(t)
	for place, data := range map[string]string{"the stream": string(stream), "the gateway log": logText} {
		if strings.Contains(data, second) || strings.Contains(data, second[strings.LastIndexByte(second, '_')+1:]) {
			t.Errorf("%s contains the second key", place)
		}
	}
}
