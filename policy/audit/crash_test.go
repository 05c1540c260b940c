package audit

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/internal/testredis"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Environment of the child process of TestCrashRecovery.
const (
	crashChildEnv = "AUDIT_TEST_CRASH_CHILD"
	crashDirEnv   = "AUDIT_TEST_CRASH_DIR"
	crashRedisEnv = "AUDIT_TEST_CRASH_REDIS"
	crashKeyEnv   = "AUDIT_TEST_CRASH_KEY"
)

// TestCrashRecovery runs a pipeline in a child process, kills it with
// SIGKILL while part of its spool is unpublished, and reopens the spool.
func TestCrashRecovery(t *testing.T) {
	srv := testredis.Start(t)
	client := newClient(t, srv)
	cfg := testConfig(t, srv.URL())

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(),
		crashChildEnv+"=1",
		crashDirEnv+"="+cfg.SpoolDir,
		crashRedisEnv+"="+srv.URL(),
		crashKeyEnv+"="+hex.EncodeToString(cfg.ChainKey))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("child stdout: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the child: %v", err)
	}
	defer func() { _ = client.Do(context.Background(), "CLIENT", "UNPAUSE").Err() }()

	var spooled, published uint64
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "CRASH-READY spooled=%d published=%d", &spooled, &published); err == nil {
			break
		}
	}
	if spooled == 0 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("the child ended without reporting its spool")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("killing the child: %v", err)
	}
	_ = cmd.Wait()
	if err := client.Do(context.Background(), "CLIENT", "UNPAUSE").Err(); err != nil {
		t.Fatalf("CLIENT UNPAUSE: %v", err)
	}
	if published >= spooled {
		t.Fatalf("child published %d of %d events, want some unpublished at the crash", published, spooled)
	}

	p := mustOpen(t, cfg)
	waitPublished(t, p, spooled+1, 20*time.Second)
	if got := p.Stats().LastSeq; got != spooled+1 {
		t.Fatalf("LastSeq after the crash = %d, want %d (the spool plus unclean_restart)", got, spooled+1)
	}
	entries := checkStream(t, client, cfg.Stream, cfg.ChainKey, p.Instance(), spooled+1)
	last := entries[len(entries)-1].Event
	if last.Module != ModuleAudit || last.Reason != ReasonUncleanRestart || last.Seq != spooled+1 {
		t.Fatalf("last entry = %s/%s seq %d, want audit/unclean_restart seq %d", last.Module, last.Reason, last.Seq, spooled+1)
	}
	if !strings.Contains(last.Detail, fmt.Sprintf("seq %d", spooled)) {
		t.Fatalf("unclean_restart detail = %q, want it to name seq %d", last.Detail, spooled)
	}
}

// TestCrashChild is the child of TestCrashRecovery: it publishes 2000
// events, pauses Redis writes so that 1000 more stay in the spool, reports
// and waits to be killed.
func TestCrashChild(t *testing.T) {
	if os.Getenv(crashChildEnv) != "1" {
		t.Skip("runs only as the child process of TestCrashRecovery")
	}
	key, err := hex.DecodeString(os.Getenv(crashKeyEnv))
	if err != nil {
		t.Fatalf("decoding the chain key: %v", err)
	}
	cfg := Config{
		RedisURL:     os.Getenv(crashRedisEnv),
		SpoolDir:     os.Getenv(crashDirEnv),
		ChainKey:     key,
		Logger:       zap.NewNop(),
		PollInterval: 20 * time.Millisecond,
		MinBackoff:   10 * time.Millisecond,
		MaxBackoff:   50 * time.Millisecond,
		RedisTimeout: 200 * time.Millisecond,
	}
	p, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	for i := 0; i < 2000; i++ {
		p.Enqueue(requestEvent(i))
	}
	waitPublished(t, p, 2000, 20*time.Second)

	opts, _ := redis.ParseURL(cfg.RedisURL)
	c := redis.NewClient(opts)
	if err := c.Do(context.Background(), "CLIENT", "PAUSE", "60000", "WRITE").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	for i := 2000; i < 3000; i++ {
		p.Enqueue(requestEvent(i))
	}
	waitFor(t, 10*time.Second, "3000 spooled events", func() bool { return p.Stats().LastSeq == 3000 })

	s := p.Stats()
	fmt.Printf("CRASH-READY spooled=%d published=%d\n", s.LastSeq, s.PublishedSeq)
	time.Sleep(time.Minute) // killed before this ends
	t.Fatal("the child was not killed")
}
