// Command upstream is the load benchmark's stand-in for the AWRA workspace:
// an HTTP/1.1 server on loopback that responds to every request with the
// same JSON body of a fixed size. It does as little work per request as
// net/http allows, so that the proxy in front of it dominates the
// measurement.
//
//	upstream [-addr 127.0.0.1:0] [-size 200] [-addr-file PATH]
//
// Set GOMAXPROCS in the environment to limit the threads it runs on. It
// serves until it receives SIGINT or SIGTERM.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	bodyStart = `{"service":"awragate-bench-upstream","items":[],"pad":"`
	bodyEnd   = `"}`
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address; port 0 picks a free port")
	size := fs.Int("size", 200, "response body size in bytes")
	addrFile := fs.String("addr-file", "", "file that receives the address actually listened on")
	if err := fs.Parse(args); err != nil {
		return err
	}

	body, err := jsonBody(*size)
	if err != nil {
		return err
	}
	contentLength := []string{strconv.Itoa(len(body))}
	contentType := []string{"application/json"}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening on '%s': %w", *addr, err)
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
			return fmt.Errorf("writing the address to '%s': %w", *addrFile, err)
		}
	}

	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Assigning the header slices directly skips the canonicalisation
			// that Header().Set does on every call.
			h := w.Header()
			h["Content-Type"] = contentType
			h["Content-Length"] = contentLength
			w.Write(body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-stop
		srv.Close()
	}()

	fmt.Fprintf(os.Stderr, "upstream: serving %d-byte bodies on %s\n", len(body), ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// jsonBody returns a valid JSON object of exactly size bytes.
func jsonBody(size int) ([]byte, error) {
	minSize := len(bodyStart) + len(bodyEnd)
	if size < minSize {
		return nil, fmt.Errorf("invalid -size %d: use at least %d bytes", size, minSize)
	}
	return []byte(bodyStart + strings.Repeat("x", size-minSize) + bodyEnd), nil
}
