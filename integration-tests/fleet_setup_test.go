package integrationtests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/internal/testredis"
	"github.com/awra/awragate/policy/webhook"
)

// fleetRoutes is the site of every fleet gateway: one API key route.
const fleetRoutes = `
	handle /api/inventory/* {
		awra_api_key {
			scopes inventory:read
		}
		reverse_proxy {{.Upstream}}
	}
	handle {
		respond 404
	}
`

// fleetRig is a Redis server, an upstream and gateways that share them,
// as a fleet of instances behind one load balancer would.
type fleetRig struct {
	redis    *testredis.Server
	client   *redis.Client
	upstream *upstream
	keysFile string // empty with keys_store redis
	gateways []*gateway
}

// newFleetRig starts Redis and the upstream. With keysFile set, the
// gateways share a keys file holding keys.
func newFleetRig(t *testing.T, keysFile bool, keys ...*testKey) *fleetRig {
	t.Helper()
	rig := &fleetRig{redis: testredis.Start(t), upstream: startUpstream(t)}
	rig.client = redis.NewClient(&redis.Options{Addr: rig.redis.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rig.client.Close() })
	if keysFile {
		rig.keysFile = filepath.Join(t.TempDir(), "keys.json")
		writeKeysFile(t, rig.keysFile, keys...)
	}
	return rig
}

// start starts n more gateways, named gw1, gw2 and so on in the order of
// all the rig's gateways, each with options added to its awra global
// option. In options, every "{i}" is replaced by the gateway's number.
func (rig *fleetRig) start(t *testing.T, n int, options string) {
	t.Helper()
	for range n {
		i := len(rig.gateways) + 1
		cfg := gatewayConfig{
			KeysFile:    rig.keysFile,
			AwraOptions: fmt.Sprintf("redis %s\ninstance gw%d\n%s", rig.redis.URL(), i, strings.ReplaceAll(options, "{i}", fmt.Sprint(i))),
			Routes:      fleetRoutes,
			Upstream:    rig.upstream,
		}
		rig.gateways = append(rig.gateways, startGateway(t, cfg))
	}
}

// kill ends gateway g at once, as a crash would.
func (g *gateway) kill(t *testing.T) {
	t.Helper()
	if err := g.cmd.Process.Kill(); err != nil {
		t.Fatalf("killing awragate (pid %d): %v", g.cmd.Process.Pid, err)
	}
	<-g.exited
}

// inventoryPath is the path every fleet request uses.
const inventoryPath = "/api/inventory/items"

// fromOutside returns headers that make the gateway see clientIP as the
// client: the request must come from the trusted proxy address.
func fromOutside(h http.Header, clientIP string) http.Header {
	h = h.Clone()
	h.Set("X-Forwarded-For", clientIP)
	return h
}

// newAlertSecret returns a fresh Standard Webhooks secret.
func newAlertSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// receivedAlert is one alert as the test receiver parsed it.
type receivedAlert struct {
	ID              string    `json:"id"`
	Type            string    `json:"type"`
	Module          string    `json:"module"`
	Reason          string    `json:"reason"`
	KeyID           string    `json:"key_id"`
	Owner           string    `json:"owner"`
	ClientIP        string    `json:"client_ip"`
	SourceNetwork   string    `json:"source_network"`
	AllowedNetworks []string  `json:"allowed_networks"`
	Count           int64     `json:"count"`
	FirstSeen       time.Time `json:"first_seen"`
	LastSeen        time.Time `json:"last_seen"`
	Instance        string    `json:"instance"`
	Quarantined     bool      `json:"quarantined"`

	raw []byte
}

// alertReceiver is the security admins' webhook: a real HTTP server on
// 127.0.0.1 that verifies the Standard Webhooks signature of every
// delivery. It can be set to fail or to hang.
type alertReceiver struct {
	srv      *http.Server
	ln       net.Listener
	verifier *webhook.Verifier

	mu       sync.Mutex
	mode     string // "ok", "fail" or "hang"
	alerts   []receivedAlert
	attempts map[string]int // per webhook-id
	invalid  []string
}

func startAlertReceiver(t *testing.T, secret string) *alertReceiver {
	t.Helper()
	v, err := webhook.New(webhook.Config{Provider: webhook.ProviderStandard, Secrets: []string{secret}})
	if err != nil {
		t.Fatalf("webhook.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting the alert receiver: %v", err)
	}
	r := &alertReceiver{ln: ln, verifier: v, mode: "ok", attempts: map[string]int{}}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("alert receiver stopped: %v", err)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if r.srv.Shutdown(ctx) != nil {
			r.srv.Close()
		}
	})
	return r
}

func (r *alertReceiver) url() string { return "http://" + r.ln.Addr().String() + "/alerts" }

func (r *alertReceiver) setMode(mode string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mode = mode
}

func (r *alertReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	id := req.Header.Get("Webhook-Id")

	r.mu.Lock()
	r.attempts[id]++
	mode := r.mode
	r.mu.Unlock()

	switch mode {
	case "fail":
		w.WriteHeader(http.StatusInternalServerError)
		return
	case "hang":
		select {
		case <-req.Context().Done():
		case <-time.After(3 * time.Second):
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}

	res := r.verifier.Verify(time.Now(), req.Header, body)
	var a receivedAlert
	jsonErr := json.Unmarshal(body, &a)
	a.raw = body

	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case !res.OK():
		r.invalid = append(r.invalid, "signature: "+string(res.Reason))
		w.WriteHeader(http.StatusUnauthorized)
	case jsonErr != nil:
		r.invalid = append(r.invalid, "body: "+jsonErr.Error())
		w.WriteHeader(http.StatusBadRequest)
	case a.ID != id:
		r.invalid = append(r.invalid, fmt.Sprintf("webhook-id %q differs from the alert id %q", id, a.ID))
		w.WriteHeader(http.StatusBadRequest)
	default:
		r.alerts = append(r.alerts, a)
		w.WriteHeader(http.StatusNoContent)
	}
}

// received returns the verified alerts so far and the rejected deliveries.
func (r *alertReceiver) received() ([]receivedAlert, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedAlert(nil), r.alerts...), append([]string(nil), r.invalid...)
}

// attemptsOf returns the delivery attempts of alert id.
func (r *alertReceiver) attemptsOf(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts[id]
}

// waitForAlerts waits until match holds for the received alerts.
func (r *alertReceiver) waitForAlerts(t *testing.T, timeout time.Duration, what string, match func([]receivedAlert) bool) []receivedAlert {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		alerts, invalid := r.received()
		if len(invalid) > 0 {
			t.Fatalf("the alert receiver rejected deliveries: %q", invalid)
		}
		if match(alerts) {
			return alerts
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; received %d alerts", timeout, what, len(alerts))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runKeysCLI runs 'awragate keys args...' and returns its outputs. It
// fails the test when the command fails.
func runKeysCLI(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, suite.binary, append([]string{"keys"}, args...)...)
	cmd.Env = os.Environ()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("awragate keys %s: %v; stderr: %s", strings.Join(args, " "), err, redact(errOut.String()))
	}
	checkNoTokens(t, "the standard error of awragate keys", errOut.Bytes())
	return out.String(), errOut.String()
}

// createFleetKey creates key id in the fleet registry with the CLI and
// returns its token, registered for the leak scans.
func createFleetKey(t *testing.T, redisURL, id string, extra ...string) string {
	t.Helper()
	args := append([]string{"create", "--redis", redisURL, "--id", id, "--scope", "inventory:read",
		"--cidr", "127.0.0.0/8", "--cidr", "::1/128", "--owner", "fleet-tests", "--expires-in", "1d"}, extra...)
	stdout, _ := runKeysCLI(t, args...)
	token := strings.TrimSpace(stdout)
	if !strings.HasPrefix(token, "awra_"+id+"_") {
		t.Fatalf("awragate keys create printed %d bytes, want one token of key %s", len(stdout), id)
	}
	watchToken(id, token)
	return token
}

// checkRedisHoldsNoToken reads every key and value of the rig's Redis and
// fails when a generated token occurs in one.
func (rig *fleetRig) checkRedisHoldsNoToken(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var dump bytes.Buffer
	iter := rig.client.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		dump.WriteString(key + "\n")
		switch rig.client.Type(ctx, key).Val() {
		case "string":
			dump.WriteString(rig.client.Get(ctx, key).Val())
		case "hash":
			for f, v := range rig.client.HGetAll(ctx, key).Val() {
				dump.WriteString(f + "=" + v + "\n")
			}
		case "zset":
			dump.WriteString(strings.Join(rig.client.ZRange(ctx, key, 0, -1).Val(), "\n"))
		case "set":
			dump.WriteString(strings.Join(rig.client.SMembers(ctx, key).Val(), "\n"))
		case "list":
			dump.WriteString(strings.Join(rig.client.LRange(ctx, key, 0, -1).Val(), "\n"))
		case "stream":
			for _, m := range rig.client.XRange(ctx, key, "-", "+").Val() {
				fmt.Fprintf(&dump, "%v\n", m.Values)
			}
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scanning Redis: %v", err)
	}
	checkNoTokens(t, "Redis", dump.Bytes())
}

// redisKeys returns the keys of the rig's Redis with their TTLs, sorted.
func (rig *fleetRig) redisKeys(t *testing.T) map[string]time.Duration {
	t.Helper()
	ctx := context.Background()
	out := map[string]time.Duration{}
	iter := rig.client.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		out[iter.Val()] = rig.client.PTTL(ctx, iter.Val()).Val()
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scanning Redis: %v", err)
	}
	return out
}

// checkRedisKeysExpire fails the test when a key of the rig's Redis has
// no TTL, except the keys named in persistent, whose number is bounded by
// the registry or by a MAXLEN.
func (rig *fleetRig) checkRedisKeysExpire(t *testing.T, persistent ...string) {
	t.Helper()
	for key, ttl := range rig.redisKeys(t) {
		if ttl > 0 || slices.Contains(persistent, key) {
			continue
		}
		t.Errorf("Redis key %q has no TTL (PTTL %v), want every key of the fleet state to expire", key, ttl)
	}
}

// percentile returns the p-th percentile (0 to 100) of ds by the
// nearest-rank method.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// countLogMessages counts the gateway's log entries with message msg.
func (g *gateway) countLogMessages(t *testing.T, msg string) int {
	t.Helper()
	n := 0
	for _, e := range g.logEntries(t) {
		if e.str("msg") == msg {
			n++
		}
	}
	return n
}
