package integrationtests

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/audit"
)

// streamBytes returns every field name and value of every entry, and the
// watermark hash, as one byte string for the secret scans.
func streamBytes(v *streamView) []byte {
	var b bytes.Buffer
	for _, e := range v.entries {
		b.WriteString(e.ID)
		for k, val := range e.Fields {
			b.WriteString("\n" + k + "=" + val)
		}
		b.WriteString("\n")
	}
	for inst := range v.watermark {
		b.WriteString(inst + "\n")
	}
	return b.Bytes()
}

// TestAuditKeepsSecretsOut sends tokens in headers and in query strings,
// signed URLs and wrong tokens. It then searches the stream, the spool
// file and the gateway log for every secret the test made: the tokens,
// their secret parts and hashes, the chain key and the URL signing secret.
func TestAuditKeepsSecretsOut(t *testing.T) {
	const requests = 480
	rig := newAuditRig(t)
	rig.start(t)
	run := rig.startLoad(context.Background(), t, auditLoad{Requests: requests, Workers: 4})
	if seen := summarizeLoad(run.wait(t, 30*time.Second)); len(seen.ids) != requests {
		t.Fatalf("load: %d of %d requests answered with an id", len(seen.ids), requests)
	}

	// A token in the query string must not reach the audit path field.
	// The gateway denies such requests with key_missing even when a header
	// carries a valid token, because a key sent in a URL counts as leaked.
	wrong := newToken(t, rig.reader.ID)
	c := clientFrom(t, "")
	queryCases := []struct {
		target string
		header http.Header
		status int
	}{
		{"/api/inventory/q?api_key=" + rig.reader.Token, apiKey(rig.reader.Token), http.StatusUnauthorized},
		{"/api/inventory/q?token=" + wrong, apiKey(wrong), http.StatusUnauthorized},
		{"/api/sales/q?x=1&access_token=" + rig.reader.Token, bearer(rig.reader.Token), http.StatusUnauthorized},
	}
	for _, qc := range queryCases {
		if resp := get(t, c, rig.gw.url(qc.target), qc.header); resp.Status != qc.status {
			t.Errorf("GET %s = %s, want %d", redact(qc.target), resp.describe(), qc.status)
		}
	}
	total := requests + len(queryCases)
	v := waitForDecisions(t, rig.client, auditStream, total, 20*time.Second)
	if v.decisionN != total {
		t.Errorf("decision events = %d, want %d", v.decisionN, total)
	}
	for _, e := range v.entries {
		if strings.ContainsAny(e.Fields["path"], "?&=") {
			t.Errorf("entry %s path = %q, want the path without its query", e.ID, redact(e.Fields["path"]))
		}
	}

	// Stop the gateway so that its spool file is complete and its log
	// closed; a graceful stop drains the queue into the spool.
	rig.gw.signalAndWait(t, syscall.SIGTERM)
	spool, err := os.ReadFile(filepath.Join(rig.spoolDir, audit.SpoolFileName))
	if err != nil {
		t.Fatalf("reading the spool file: %v", err)
	}
	logBytes := []byte(readFileOrEmpty(rig.gw.logPath))
	stream := streamBytes(v)

	// The scans must be able to see plain text in each place: a request
	// id of the load is in the stream and the spool, and the spool path is
	// in the log.
	someID := v.entries[len(v.entries)/2].Event.RequestID
	if !bytes.Contains(spool, []byte(someID)) || !bytes.Contains(stream, []byte(someID)) {
		t.Fatalf("request id %q not found in the spool file or the stream bytes: the scans below would prove nothing", someID)
	}
	if !bytes.Contains(logBytes, []byte(rig.spoolDir)) {
		t.Fatalf("the spool path is not in the gateway log: the log scan below would prove nothing")
	}

	secrets := map[string]string{
		"reader token":             rig.reader.Token,
		"reader token secret":      rig.reader.Token[strings.LastIndexByte(rig.reader.Token, '_')+1:],
		"reader token hash":        policy.FormatHash(policy.HashToken(rig.reader.Token)),
		"wrong token":              wrong,
		"wrong token secret":       wrong[strings.LastIndexByte(wrong, '_')+1:],
		"chain key":                rig.chainKey,
		"URL signing secret":       string(rig.urlKey.Secret),
		"reader token hash in hex": strings.TrimPrefix(policy.FormatHash(policy.HashToken(rig.reader.Token)), policy.HashPrefix),
	}
	places := map[string][]byte{"the stream": stream, "the spool file": spool, "the gateway log": logBytes}
	for place, data := range places {
		for name, secret := range secrets {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("%s contains the %s", place, name)
			}
		}
	}
	if n := rig.echo.credentials.Load(); n > 0 {
		t.Errorf("the upstream received %d requests with a credential header, want 0", n)
	}
}
